"""The real `k8s-mcp-gateway serve` process, over stdio and streamable HTTP, in front of the real OPA.

The gateway's kubeconfig points at an address where nothing listens, so an allowed call travels
the whole path (validation, OPA, audit, the real kube layer) and comes back as a clear tool error.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from k8s_mcp_sandbox.opa import OpaServer
from tests.catalog import SHIPPED_READS
from tests.conftest import gateway_env
from tests.gateways import RAW_PROTOCOL_VERSION, Served, error_text, raw_stdio, read_audit, serve_http

pytestmark = pytest.mark.integration


async def test_tools_are_listed_by_the_policy(served: Served) -> None:
    async with served.client() as client:
        tools = await client.list_tools()

    assert {tool.name for tool in tools} == set(SHIPPED_READS)


async def test_an_allowed_read_reaches_the_kube_layer_and_fails_cleanly(served: Served) -> None:
    async with served.client() as client:
        result = await client.call_tool("list_pods", {"namespace": "staging"}, raise_on_error=False)
        assert error_text(result) == "the Kubernetes API is unreachable"
        # The process survived and still answers.
        assert {tool.name for tool in await client.list_tools()} == set(SHIPPED_READS)

    record = served.last_record()
    assert (record["tool"], record["outcome"], record["allow"]) == ("list_pods", "error", True)
    assert record["transport"] == served.transport
    assert record["principal"]["sub"] == served.principal
    assert record["principal"]["authenticated"] is served.authenticated
    assert record["principal"]["client"]["name"] == "fastmcp"
    assert record["decision_id"]


@pytest.mark.parametrize(
    ("tool", "arguments", "said", "outcome"),
    [
        ("list_pods", {"namespace": "prod"}, 'denied by policy: namespace "prod" is not in the allowlist', "denied"),
        ("restart_deployment", {"deployment_name": "web"}, 'the gateway runs in "readonly" mode', "gateway_denied"),
        ("list_pods", {"namespace": "Prod"}, "invalid arguments: namespace: must be a DNS-1123 label", "invalid"),
        ("list_pods", {"kubeconfig": "/etc/kubernetes/admin.conf"}, "kubeconfig: is not an argument", "invalid"),
        ("delete_namespace", {"namespace": "default"}, "unknown tool 'delete_namespace'", "invalid"),
    ],
)
async def test_refused_calls_say_why(
    served: Served, tool: str, arguments: dict[str, Any], said: str, outcome: str
) -> None:
    async with served.client() as client:
        result = await client.call_tool(tool, arguments, raise_on_error=False)

    assert said in error_text(result)
    record = served.last_record()
    assert (record["tool"], record["outcome"], record["transport"]) == (tool, outcome, served.transport)


async def test_healthz(http_gateway: Served) -> None:
    assert isinstance(http_gateway.target, str)
    async with httpx.AsyncClient() as client:
        response = await client.get(http_gateway.target.removesuffix("/mcp") + "/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_names_the_unreachable_api_server(http_gateway: Served) -> None:
    """The real OPA answers the probe's decision; the cluster of this gateway does not exist."""
    assert isinstance(http_gateway.target, str)
    async with httpx.AsyncClient() as client:
        response = await client.get(http_gateway.target.removesuffix("/mcp") + "/readyz")

    assert response.status_code == 503
    assert response.json() == {"status": "not ready", "checks": {"opa": "ok", "kubernetes": "unavailable"}}


async def test_stdout_carries_only_json_rpc(tmp_path: Path, opa: OpaServer) -> None:
    """Speak raw newline-delimited JSON-RPC to a stdio gateway; every stdout line must be a message."""
    env = gateway_env(tmp_path, opa)
    async with raw_stdio(env, tmp_path) as raw:
        initialized = await raw.initialize()
        await raw.send({"id": 2, "method": "tools/list"})
        listed = await raw.response_to(2)
        await raw.send(
            {"id": 3, "method": "tools/call", "params": {"name": "list_pods", "arguments": {"namespace": "prod"}}}
        )
        called = await raw.response_to(3)
        exit_code = await raw.close()

    assert exit_code == 0
    assert initialized["result"]["protocolVersion"] == RAW_PROTOCOL_VERSION
    assert {tool["name"] for tool in listed["result"]["tools"]} == set(SHIPPED_READS)
    assert called["result"]["isError"] is True
    assert 'namespace "prod" is not in the allowlist' in called["result"]["content"][0]["text"]
    for line in raw.lines:
        message = json.loads(line)
        assert message["jsonrpc"] == "2.0"
        assert {"id", "method"} & set(message)
    record = read_audit(Path(env["K8S_MCP_AUDIT_PATH"]))[-1]
    assert (record["principal"]["client"], record["transport"]) == ({"name": "raw-client", "version": "1.0"}, "stdio")


async def test_with_log_format_json_every_stderr_line_is_one_json_object(tmp_path: Path, opa: OpaServer) -> None:
    """uvicorn's lines included: one format on stderr, for a log pipeline to parse."""
    env = {**gateway_env(tmp_path, opa), "K8S_MCP_LOG_FORMAT": "json", "K8S_MCP_LOG_LEVEL": "INFO"}
    with serve_http(env, tmp_path) as served:
        async with served.client() as client:
            await client.list_tools()

    lines = (tmp_path / "gateway.log").read_text().splitlines()
    entries = [json.loads(line) for line in lines]
    assert entries
    assert all(set(entry) >= {"time", "level", "logger", "message"} for entry in entries)
    loggers = {entry["logger"] for entry in entries}
    assert "gateway" in loggers
    assert any(name.startswith("uvicorn") for name in loggers)
