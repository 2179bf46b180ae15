"""The README's policy workflow on an audit log this suite records against the real apiserver.

A stdio gateway (alice, group sre, not verified) runs under the real OPA and makes a realistic
day's calls: reads, a read in a namespace off the allowlist, a write that needs an approval, a
write that runs (warned by the staged `authenticated_writes` rule) and `my_permissions`. Its
audit file is then replayed with `policy replay` against changed copies of policies/: a rule
tightened and one loosened are reported call by call and the loosening fails the gate; enforcing
the staged rule turns exactly the warned calls into denials, and a gateway under that enforced
policy denies the write before the apiserver sees a request.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from gateway.guard import WARNINGS_META
from k8s_mcp_sandbox.cluster import GATEWAY_USER, LocalCluster
from k8s_mcp_sandbox.opa import OpaServer
from tests.conftest import PolicyServers
from tests.e2e.conftest import cluster_env
from tests.fakes.opa import deep_merge, policy_copy
from tests.gateways import error_text, read_audit, replay, serve_stdio

pytestmark = pytest.mark.e2e

SRE_WRITES = {"who": "group:sre", "tools": ["restart_deployment", "scale_deployment"]}
DECIDING: dict[str, Any] = {
    "mode": "readwrite",
    "grants": [{**SRE_WRITES, "namespaces": ["default", "staging"]}],
    "approval": {"namespaces": {"staging": {"required": False}}},
}
"""The policy data the gateway runs: sre writes in default (approval by sre-leads) and staging (none)."""
LOOSENED = {"namespaces": ["default", "staging", "prod"]}
"""Reads in prod too."""
TIGHTENED = {"grants": [{**SRE_WRITES, "namespaces": ["default"]}]}
"""No more writes in staging."""
ENFORCED = {"rollout": {"authenticated_writes": "enforce"}}
"""The staged rule, enforced: only verified callers write."""
SCALE_STAGING = {"deployment_name": "web", "namespace": "staging", "replicas": 2}
UNVERIFIED = 'writes need a caller with a verified identity, and "alice" is not authenticated'
WARNING = f"{UNVERIFIED} (rule authenticated_writes, warn mode: denied once enforced)"


@dataclass(frozen=True, slots=True)
class Day:
    """The recorded audit file and the request id of each call, by what the call was."""

    audit: Path
    ids: dict[str, str]


def alice(directory: Path, cluster: LocalCluster, opa: OpaServer) -> dict[str, str]:
    """The environment of a readwrite stdio gateway whose principal alice is in group sre."""
    return cluster_env(directory, cluster, opa, K8S_MCP_MODE="readwrite", K8S_MCP_PRINCIPAL_GROUPS="sre")


@pytest.fixture(scope="module")
async def day(
    tmp_path_factory: pytest.TempPathFactory, cluster: LocalCluster, policy_opa: PolicyServers
) -> AsyncIterator[Day]:
    directory = tmp_path_factory.mktemp("e2e-workflow")
    async with serve_stdio(alice(directory, cluster, policy_opa(DECIDING)), directory, principal="alice") as served:
        mark = cluster.audit.mark()
        async with served.client() as client:
            await client.call_tool("list_pods", {"namespace": "default"})
            denied = await client.call_tool("list_pods", {"namespace": "prod"}, raise_on_error=False)
            pending = await client.call_tool("scale_deployment", {**SCALE_STAGING, "namespace": "default"})
            scaled = await client.call_tool("scale_deployment", SCALE_STAGING)
            permissions = await client.call_tool("my_permissions", {})
        calls = [record for record in served.records() if record["event"] == "tool_call"]
        assert [record["outcome"] for record in calls] == ["ok", "denied", "approval_pending", "ok", "ok"]
        assert error_text(denied).endswith("Hint: namespaces you may use for this tool: default, staging")
        assert pending.structured_content is not None
        assert pending.structured_content["approval_id"]
        assert scaled.meta is not None
        assert scaled.meta[WARNINGS_META] == [WARNING]
        assert cluster.audit.wait_count(1, since=mark, user=GATEWAY_USER, verb="patch", resource="deployments/scale")
        assert permissions.structured_content is not None
        writes = permissions.structured_content["permissions"]["writes"]
        assert {(write["tool"], write["namespace"]) for write in writes} == {
            (tool, namespace) for tool in SRE_WRITES["tools"] for namespace in ("default", "staging")
        }
        names = ["read", "read_in_prod", "write_pending", "write", "permissions"]
        ids = {name: record["request_id"] for name, record in zip(names, calls, strict=True)}
        yield Day(audit=served.audit_path, ids=ids)
    cluster.seed()  # staging/web back as the seed left it


def candidate(tmp_path: Path, *changes: dict[str, Any]) -> str:
    """A copy of policies/ with the deciding data and each of `changes` merged over it."""
    patch = DECIDING
    for change in changes:
        patch = deep_merge(patch, change)
    return str(policy_copy(tmp_path / f"candidate-{len(list(tmp_path.iterdir()))}", patch))


async def test_the_policy_that_decided_the_day_changes_no_call(day: Day, tmp_path: Path) -> None:
    ran, report = await replay(day.audit, "--policies", candidate(tmp_path))

    assert ran.code == 0
    assert (report["calls"], report["replayed"], report["changed"], report["changed_calls"]) == (5, 5, 0, [])


async def test_a_rule_tightened_and_one_loosened_are_reported_and_the_loosening_fails_the_gate(
    day: Day, tmp_path: Path
) -> None:
    ran, report = await replay(day.audit, "--policies", candidate(tmp_path, LOOSENED, TIGHTENED))

    assert ran.code == 1  # a denied call would be allowed
    assert (report["replayed"], report["changed"], report["unchanged"]) == (5, 2, 3)
    assert (report["counts"]["deny_to_allow"], report["counts"]["allow_to_deny"]) == (1, 1)
    loosened, tightened = report["changed_calls"]
    assert (loosened["request_id"], loosened["namespace"]) == (day.ids["read_in_prod"], "prod")
    assert loosened["changes"] == ["deny_to_allow", "reasons_changed"]
    assert loosened["before"]["reasons"] == ['namespace "prod" is not in the allowlist']
    assert loosened["after"] == {"allow": True, "reasons": [], "approval_required": False, "warnings": []}
    assert (tightened["request_id"], tightened["tool"]) == (day.ids["write"], "scale_deployment")
    assert (tightened["before"]["allow"], tightened["after"]["allow"]) == (True, False)
    assert tightened["after"]["reasons"] == [
        'no write grant (data.mcp.config.grants) lets "alice" call "scale_deployment" in namespace "staging"'
    ]

    only_tightened, tight = await replay(day.audit, "--policies", candidate(tmp_path, TIGHTENED))
    assert only_tightened.code == 0
    assert [call["request_id"] for call in tight["changed_calls"]] == [day.ids["write"]]


async def test_enforcing_the_warned_rule_denies_exactly_the_warned_calls(
    day: Day, tmp_path: Path, cluster: LocalCluster, policy_opa: PolicyServers
) -> None:
    calls = [record for record in read_audit(day.audit) if record["event"] == "tool_call"]
    warned = [record["request_id"] for record in calls if record["warnings"]]
    assert warned == [day.ids["write_pending"], day.ids["write"]]
    assert {tuple(record["warnings"]) for record in calls if record["warnings"]} == {(WARNING,)}

    ran, report = await replay(day.audit, "--policies", candidate(tmp_path, ENFORCED))

    assert ran.code == 0  # it only tightens
    changed = {call["request_id"]: call for call in report["changed_calls"]}
    assert list(changed) == warned
    assert changed[day.ids["write"]]["changes"] == ["allow_to_deny", "reasons_changed", "warnings_changed"]
    assert changed[day.ids["write_pending"]]["changes"] == ["approval_dropped", "reasons_changed", "warnings_changed"]
    for call in changed.values():
        assert call["after"]["reasons"] == [f"{UNVERIFIED} (rule authenticated_writes)"]

    directory = tmp_path / "enforced"
    enforced = policy_opa(deep_merge(DECIDING, ENFORCED))
    async with serve_stdio(alice(directory, cluster, enforced), directory, principal="alice") as served:
        mark = cluster.audit.mark()
        async with served.client() as client:
            refused = await client.call_tool("scale_deployment", SCALE_STAGING, raise_on_error=False)
            sentinel = await client.call_tool("list_namespaces", {})
        assert served.last_record()["outcome"] == "ok"
        denial = next(record for record in served.records() if record["event"] == "tool_call")
    assert error_text(refused).startswith(f"denied by policy: {UNVERIFIED} (rule authenticated_writes)")
    assert (denial["outcome"], denial["allow"], denial["warnings"]) == ("denied", False, [])
    assert not sentinel.is_error
    cluster.audit.wait_count(1, since=mark, user=GATEWAY_USER, verb="list", resource="namespaces")
    assert cluster.audit.count(since=mark, user=GATEWAY_USER) == 1  # the sentinel's list, nothing of the write
