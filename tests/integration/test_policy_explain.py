"""`policy explain`: the input document the gateway would send, and the real OPA's decision on it."""

from __future__ import annotations

import getpass
import json
from pathlib import Path
from typing import Any

import pytest

from k8s_mcp_sandbox.opa import OpaServer
from tests.catalog import CLUSTER, READWRITE, expected_digest
from tests.conftest import GatewayFactory
from tests.fakes.opa import policy_copy
from tests.gateways import CliRun, Harness, run_cli

pytestmark = pytest.mark.integration


async def explain(*argv: str) -> dict[str, Any]:
    """`policy explain ARGV --format json`, which must succeed; its report."""
    ran = await run_cli("policy", "explain", *argv, "--format", "json")
    assert (ran.code, ran.err) == (0, "")
    report: dict[str, Any] = json.loads(ran.out)
    return report


async def test_an_allowed_read() -> None:
    report = await explain("--tool", "get_pod_logs", "--args", '{"pod_name": "web-1", "namespace": "staging"}')

    document = report["input"]
    assert (document["arguments"]["tail_lines"], document["arguments"]["previous"]) == (100, False)  # defaults
    action = document["action"]
    assert (action["verb"], action["resource"], action["subresource"]) == ("get", "pods", "log")
    assert (action["namespace"], action["name"], action["write"]) == ("staging", "web-1", False)
    assert document["principal"] == {
        "sub": getpass.getuser(),
        "groups": [],
        "authenticated": False,
        "client": {"name": None, "version": None},
    }
    assert document["action_digest"] == expected_digest("get_pod_logs", document["arguments"], "local")
    assert (document["request"]["transport"], document["approval"]) == ("stdio", None)
    assert report["decision"] == {
        "allow": True,
        "reasons": [],
        "approval": {"required": False, "approvers": [], "count": 0, "ttl_seconds": 0, "kinds": []},
        "obligations": {"max_log_lines": 500, "dry_run": False},
        "warnings": [],
    }
    assert (report["verdict"], report["gateway_refuses"], report["problem"]) == ("allowed: the call runs", [], None)


async def test_a_denied_namespace_in_text() -> None:
    ran = await run_cli("policy", "explain", "--tool", "list_pods", "--args", '{"namespace": "prod"}')

    assert ran.code == 0
    assert ran.out.startswith("Input document (POST /v1/data/mcp/authz/decision):\n{\n")
    assert '"namespace": "prod"' in ran.out
    assert 'Decision (data["mcp"]["authz"]["decision"]): denied by policy\n' in ran.out
    assert '  reasons:\n    - namespace "prod" is not in the allowlist\n  approval: not required\n' in ran.out
    assert ran.out.endswith('  warnings: none\n  hints: {"namespaces": ["default", "staging"]}\n')


async def test_a_write_needing_approval(tmp_path: Path) -> None:
    policies = policy_copy(tmp_path / "policies", READWRITE)
    arguments = '{"deployment_name": "web", "namespace": "default"}'
    common = ["--tool", "restart_deployment", "--args", arguments, "--policies", str(policies), "--cluster", "prod-1"]
    caller = ["--principal", "alice", "--groups", "sre,oncall", "--transport", "http", "--authenticated"]

    report = await explain(*common, *caller, "--mode", "readwrite")

    document = report["input"]
    assert document["principal"] == {
        "sub": "alice",
        "groups": ["sre", "oncall"],
        "authenticated": True,
        "client": {"name": None, "version": None},
    }
    assert document["request"]["transport"] == "http"
    assert document["gateway"] == {
        "mode": "readwrite",
        "dry_run": False,
        "cluster": "prod-1",
        "clusters": ["prod-1"],
        "namespaces": None,
    }
    assert document["action_digest"] == expected_digest("restart_deployment", document["arguments"], "prod-1")
    assert report["decision"]["allow"] is False
    assert report["decision"]["approval"] == {
        "required": True,
        "approvers": ["group:sre-leads"],
        "count": 1,
        "ttl_seconds": 900,
        "kinds": ["review"],
    }
    assert report["decision"]["reasons"] == ["approval required: 1 approval from group:sre-leads"]
    assert report["verdict"] == "approval required: the call makes an approval request and runs once approved"
    assert report["decision"]["warnings"] == []  # a verified caller
    # The same write on a readonly gateway never reaches OPA; as the configured stdio principal, it warns.
    floor = await explain(*common)
    assert floor["gateway_refuses"] == ['writes are disabled: the gateway runs in "readonly" mode (K8S_MCP_MODE)']
    assert floor["verdict"] == "denied by the gateway's own switches, before OPA is asked"
    assert floor["decision"]["warnings"] == [
        f'writes need a caller with a verified identity, and "{getpass.getuser()}" is not authenticated'
        " (rule authenticated_writes, warn mode: denied once enforced)"
    ]


async def test_the_input_is_the_one_the_gateway_sends(open_gateway: GatewayFactory, opa: OpaServer) -> None:
    gateway: Harness = await open_gateway(**opa.settings(), namespaces=["default", "staging"])
    await gateway.ok("list_pods", {"namespace": "staging", "label_selector": "app=web"})
    sent = gateway.last_call()["input"]

    report = await explain(
        "--tool",
        "list_pods",
        "--args",
        '{"namespace": "staging", "label_selector": "app=web"}',
        "--cluster",
        CLUSTER,
        "--namespaces",
        "default,staging",
    )

    made = report["input"]
    for document in (sent, made):
        del document["request"]["id"], document["request"]["time"], document["principal"]["client"]
    assert made == sent


async def test_the_trace_is_opa_s_own(tmp_path: Path) -> None:
    policies = policy_copy(tmp_path / "policies", {})
    (policies / "note.rego").write_text(
        'package mcp.authz\n\nimport rego.v1\n\n_input_denials contains "never" if {\n'
        '\ttrace("the namespace is checked")\n\tobject.get(input, "never", false) == true\n}\n'
    )

    full = await run_cli("policy", "explain", "--tool", "list_namespaces", "--explain", "full")
    notes = await run_cli("policy", "explain", "--tool", "list_pods", "--policies", str(policies), "--explain", "notes")

    assert (full.code, notes.code) == (0, 0)
    full_trace = full.out.split("\nTrace (opa eval --explain):\n", 1)[1]
    assert full_trace.startswith("query:1")
    assert "Enter data.mcp.authz.decision" in full_trace
    notes_trace = notes.out.split("\nTrace (opa eval --explain):\n", 1)[1]
    assert 'Note "the namespace is checked"' in notes_trace
    assert "Enter data.mcp.authz._allow" not in notes_trace


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--tool", "delete_namespace"], "policy explain: unknown tool 'delete_namespace'\n"),
        (
            ["--tool", "list_pods", "--args", '{"namespace": "../prod"}'],
            "policy explain: invalid arguments: namespace: must be a DNS-1123 label",
        ),
        (
            ["--tool", "list_pods", "--args", '{"token": "x"}'],
            "policy explain: invalid arguments: token: is not an argument of this tool\n",
        ),
        (["--tool", "list_pods", "--args", "{namespace"], "policy explain: invalid arguments: --args: not JSON"),
        (["--tool", "list_pods", "--args", "[]"], "policy explain: invalid arguments: --args: must be a JSON object"),
        (["--tool", "list_pods", "--policies", "no/such/dir"], "policy explain: no such policy path: no/such/dir\n"),
    ],
)
async def test_bad_input_exits_2_naming_the_problem(argv: list[str], message: str) -> None:
    ran: CliRun = await run_cli("policy", "explain", *argv)

    assert (ran.code, ran.out) == (2, "")
    assert ran.err.startswith(message)
