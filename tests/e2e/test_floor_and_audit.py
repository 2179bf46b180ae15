"""On the real apiserver: the gateway's floor holds under a policy that allows everything, and a
write whose answer never comes is recorded as sent, not lost.

The allow-all policy is a real OPA serving a decision rule that is always `allow`: whatever stops
a write here is the gateway itself. "No API request" is proven with the apiserver's audit log.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes.client import ApiClient

from k8s_mcp_sandbox.cluster import GATEWAY_USER, LocalCluster
from k8s_mcp_sandbox.opa import OpaServer
from tests.e2e.conftest import WRITABLE_STAGING, cluster_env, replicas
from tests.e2e.test_enforcement import refused_without_api_requests
from tests.gateways import serve_http, serve_stdio, wait_until

pytestmark = pytest.mark.e2e

ALLOW_ALL_REGO = """\
package mcp.authz

import rego.v1

decision := {
	"allow": true,
	"reasons": [],
	"approval": {"required": false, "approvers": [], "count": 0, "ttl_seconds": 0, "kinds": []},
	"obligations": {"max_log_lines": 500, "dry_run": false},
}

visible_tools := sort([entry.tool.name | some entry in input.catalog])
"""

SCALE_PROD_TO_ZERO = {"deployment_name": "web", "namespace": "prod", "replicas": 0}


@pytest.fixture(scope="module")
def allow_all(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpaServer]:
    """A real OPA whose policy allows every call: a replaced (or wrong) policy at its worst."""
    directory = tmp_path_factory.mktemp("allow-all-policy")
    (directory / "allow_all.rego").write_text(ALLOW_ALL_REGO)
    with OpaServer(paths=(directory,)) as server:
        yield server


FLOORS: dict[str, tuple[dict[str, str], str]] = {
    "readonly": ({"K8S_MCP_MODE": "readonly"}, 'writes are disabled: the gateway runs in "readonly" mode'),
    "staging only": (
        {"K8S_MCP_MODE": "readwrite", "K8S_MCP_NAMESPACES": "staging"},
        'namespace "prod" is not in the gateway\'s allowlist',
    ),
}


@pytest.mark.parametrize(("settings", "said"), FLOORS.values(), ids=FLOORS.keys())
async def test_the_floor_refuses_a_write_an_allow_all_policy_allows(
    tmp_path: Path,
    cluster: LocalCluster,
    admin: ApiClient,
    allow_all: OpaServer,
    settings: dict[str, str],
    said: str,
) -> None:
    before = replicas(admin, "web", "prod")

    with serve_http(cluster_env(tmp_path, cluster, allow_all, **settings), tmp_path) as served:
        message, record = await refused_without_api_requests(cluster, served, "scale_deployment", SCALE_PROD_TO_ZERO)

    assert message.startswith("denied by the gateway: ")
    assert said in message
    assert (record["outcome"], record["decision_id"]) == ("gateway_denied", None)
    assert replicas(admin, "web", "prod") == before > 0


async def test_a_dry_run_gateway_sends_an_allowed_write_as_a_server_dry_run(
    tmp_path: Path, cluster: LocalCluster, admin: ApiClient, allow_all: OpaServer
) -> None:
    """In staging, where the gateway's RBAC allows the patch: only the dry run keeps it from landing."""
    before = replicas(admin, "web", "staging")
    env = cluster_env(tmp_path, cluster, allow_all, K8S_MCP_MODE="readwrite", K8S_MCP_DRY_RUN="true")

    with serve_http(env, tmp_path) as served:
        mark = cluster.audit.mark()
        async with served.client() as client:
            result = await client.call_tool(
                "scale_deployment", {**SCALE_PROD_TO_ZERO, "namespace": "staging", "dry_run": False}
            )

    assert not result.is_error
    assert result.structured_content is not None
    assert result.structured_content["dry_run"] is True
    assert cluster.audit.wait_count(1, since=mark, user=GATEWAY_USER, verb="patch", resource="deployments/scale") == 1
    [patch] = [event for event in cluster.audit.events(since=mark) if event["verb"] == "patch"]
    assert "dryRun=All" in patch["requestURI"]
    assert replicas(admin, "web", "staging") == before > 0


class HoldingRelay:
    """A TCP relay in front of the apiserver that can hold back its answers (TLS passes through).

    While `answering` is clear the apiserver still receives and runs every request, but nothing
    it sends reaches the gateway: a Kubernetes that applied a write and never answered it.
    """

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.answering = asyncio.Event()
        self.answering.set()
        self._asking = asyncio.Event()
        self._asking.set()
        self._relays: set[asyncio.Task[None]] = set()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[int]:
        """Listen on a free loopback port (yielded); on exit answer again and close every connection."""
        server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        try:
            yield server.sockets[0].getsockname()[1]
        finally:
            self.answering.set()
            server.close()
            await server.wait_closed()
            for relay in self._relays:
                relay.cancel()
            await asyncio.gather(*self._relays, return_exceptions=True)

    async def _accept(self, client: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._relays.add(task)
        upstream, upstream_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        try:
            await asyncio.gather(
                self._pipe(client, upstream_writer, self._asking),
                self._pipe(upstream, client_writer, self.answering),
            )
        finally:
            for writer in (client_writer, upstream_writer):
                writer.close()
                with contextlib.suppress(ConnectionError):
                    await writer.wait_closed()

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, flowing: asyncio.Event) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(65536):
                await flowing.wait()
                writer.write(data)
                await writer.drain()
        writer.close()


def relayed_kubeconfig(cluster: LocalCluster, port: int, directory: Path) -> Path:
    """The gateway's kubeconfig, pointed at the relay (the apiserver's certificate names 127.0.0.1)."""
    config = yaml.safe_load(cluster.gateway_kubeconfig.read_text())
    for entry in config["clusters"]:
        entry["cluster"]["server"] = f"https://127.0.0.1:{port}"
    path = directory / "relayed.kubeconfig"
    path.write_text(yaml.safe_dump(config))
    return path


def scale_records(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in records if r["event"] == "tool_call" and r["tool"] == "scale_deployment"]


@pytest.mark.usefixtures("restore_web")
async def test_a_write_cancelled_before_kubernetes_answers_is_recorded_as_sent(
    tmp_path: Path,
    cluster: LocalCluster,
    admin: ApiClient,
    policy_opa: Callable[[Mapping[str, Any]], str],
) -> None:
    relay = HoldingRelay(int(cluster.server.rsplit(":", 1)[1]))
    wanted = replicas(admin, "web", "staging") + 2
    async with relay.running() as port:
        env = {
            **cluster_env(tmp_path, cluster, policy_opa(WRITABLE_STAGING), K8S_MCP_MODE="readwrite"),
            "K8S_MCP_KUBECONFIG": str(relayed_kubeconfig(cluster, port, tmp_path)),
        }
        async with serve_stdio(env, tmp_path, principal="alice") as served, served.client() as client:
            # One answered call first, so the write travels on a kept-alive connection.
            await client.call_tool("describe_deployment", {"deployment_name": "web", "namespace": "staging"})
            relay.answering.clear()
            mark = cluster.audit.mark()
            scale = {"deployment_name": "web", "namespace": "staging", "replicas": wanted}
            call = asyncio.create_task(client.call_tool("scale_deployment", scale))
            await wait_until(
                lambda: cluster.audit.count(since=mark, user=GATEWAY_USER, verb="patch", resource="deployments/scale")
            )
            call.cancel()
            with pytest.raises(asyncio.CancelledError):
                await call
            await wait_until(lambda: scale_records(served.records()))
            relay.answering.set()

    [intent] = [r for r in served.records() if r["event"] == "write_intent"]
    [record] = scale_records(served.records())
    assert (record["request_id"], record["outcome"]) == (intent["request_id"], "sent")
    assert replicas(admin, "web", "staging") == wanted, "the write was applied though its answer never came"
