"""A staged rule in warn mode, end to end: the real OPA warns, the call runs, and everyone is told.

The shipped data rolls out `authenticated_writes` in warn mode: a write by a caller the gateway
did not verify (the configured stdio principal) still runs, and its warning reaches the agent in
the result's `_meta`, the audit record and the gateway's count. Enforced, the same write is
denied before Kubernetes is touched; a verified caller over HTTP gets no warning either way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gateway.auth import issue_token
from gateway.guard import WARNINGS_META
from tests.catalog import OPEN_GRANT
from tests.conftest import GatewayFactory, HttpGatewayFactory, PolicyServers

pytestmark = pytest.mark.integration

# Writes on, and no approval in staging: only the staged rule stands between a write and the cluster.
WRITES_IN_STAGING: dict[str, Any] = {
    "mode": "readwrite",
    "grants": [OPEN_GRANT],
    "approval": {"namespaces": {"staging": {"required": False}}},
}
ENFORCED: dict[str, Any] = {**WRITES_IN_STAGING, "rollout": {"authenticated_writes": "enforce"}}
SCALE = {"deployment_name": "web", "namespace": "staging", "replicas": 0}
UNVERIFIED = 'writes need a caller with a verified identity, and "alice" is not authenticated'
WARNING = f"{UNVERIFIED} (rule authenticated_writes, warn mode: denied once enforced)"


async def test_in_warn_mode_the_write_runs_and_the_warning_is_reported(
    open_gateway: GatewayFactory, policy_opa: PolicyServers
) -> None:
    gateway = await open_gateway(**policy_opa(WRITES_IN_STAGING).settings(), mode="readwrite", principal="alice")

    first = await gateway.call("scale_deployment", SCALE)
    second = await gateway.call("restart_deployment", {"deployment_name": "web", "namespace": "staging"})

    assert not first.is_error
    assert not second.is_error
    assert [name for name, _ in gateway.kube.writes] == [
        "patch_namespaced_deployment_scale",
        "patch_namespaced_deployment",
    ]
    assert first.meta is not None
    assert first.meta[WARNINGS_META] == [WARNING]
    scale, restart = gateway.tool_calls()
    assert (scale["outcome"], scale["allow"], scale["warnings"], scale["warnings_total"]) == ("ok", True, [WARNING], 1)
    assert (restart["warnings"], restart["warnings_total"]) == ([WARNING], 2)
    assert scale["input"]["principal"]["authenticated"] is False
    [intent, *_] = [record for record in gateway.audit() if record["event"] == "write_intent"]
    assert intent["warnings"] == [WARNING]


async def test_enforced_the_same_write_is_denied_before_kubernetes(
    open_gateway: GatewayFactory, policy_opa: PolicyServers
) -> None:
    gateway = await open_gateway(**policy_opa(ENFORCED).settings(), mode="readwrite", principal="alice")

    message = await gateway.error("scale_deployment", SCALE)

    assert message == f"denied by policy: {UNVERIFIED} (rule authenticated_writes)"
    assert gateway.kube.calls == []
    record = gateway.last_call()
    assert (record["outcome"], record["allow"], record["warnings"], "warnings_total" in record) == (
        "denied",
        False,
        [],
        False,
    )


@pytest.mark.parametrize("patch", [WRITES_IN_STAGING, ENFORCED], ids=["warn", "enforce"])
async def test_a_verified_caller_writes_without_a_warning(
    serve_gateway: HttpGatewayFactory, policy_opa: PolicyServers, tmp_path: Path, patch: dict[str, Any]
) -> None:
    token_file = tmp_path / "tokens.json"
    token = issue_token(token_file, sub="alice", groups=["sre"])
    gateway = await serve_gateway(
        **policy_opa(patch).settings(), mode="readwrite", auth="tokens", auth_token_file=token_file
    )

    async with gateway.client(token) as client:
        result = await client.call_tool("scale_deployment", SCALE, raise_on_error=False)

    assert not result.is_error, result.content
    assert WARNINGS_META not in (result.meta or {})
    assert [name for name, _ in gateway.kube.writes] == ["patch_namespaced_deployment_scale"]
    record = gateway.records()[-1]
    assert (record["event"], record["outcome"], record["warnings"]) == ("tool_call", "ok", [])
    assert record["input"]["principal"]["authenticated"] is True
