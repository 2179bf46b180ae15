"""The three safety rules, decided by the real OPA on the project's Rego and policy data."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from k8s_mcp_sandbox.opa import OpaServer
from tests.catalog import (
    CLUSTER_SCOPED_TOOLS,
    KUBE_METHOD,
    NAMESPACED_TOOLS,
    NAMESPACED_WRITES,
    NODE_WRITES,
    OPEN_GRANT,
    PV_TOOLS,
    READ_TOOLS,
    WRITE_METHOD,
    WRITE_TOOLS,
    arguments_for,
)
from tests.conftest import GatewayFactory, PolicyServers
from tests.gateways import Harness

pytestmark = pytest.mark.integration

NAMESPACED_READS = [tool for tool in READ_TOOLS if tool in NAMESPACED_TOOLS]
POLICY_READONLY = 'writes are disabled: the policy mode is "readonly"'
GATEWAY_READONLY = 'writes are disabled: the gateway runs in "readonly" mode'
SRE_GRANTED_IN_STAGING = ("restart_deployment", "scale_deployment")
"""What the shipped data's grant lets group sre call in staging."""

READWRITE: dict[str, Any] = {"mode": "readwrite", "grants": [OPEN_GRANT]}
NO_APPROVAL_IN_STAGING: dict[str, Any] = {
    **READWRITE,
    "approval": {"namespaces": {"staging": {"required": False}}},
}


def assert_not_run(gateway: Harness, outcome: str) -> dict[str, Any]:
    assert gateway.kube.calls == []
    record = gateway.last_call()
    assert record["outcome"] == outcome
    assert record["allow"] is False
    return record


def assert_not_written(gateway: Harness, tool: str, outcome: str) -> None:
    """Only the preview reached the fake kube: its reads, and the write's own call once, as a dry run."""
    assert gateway.kube.writes == []
    assert [(name, kw["dry_run"]) for name, kw in gateway.kube.mutations] == [(WRITE_METHOD[tool], "All")]
    reads = [name for name in gateway.kube.methods if name != WRITE_METHOD[tool]]
    assert reads
    assert all(name.startswith(("read_", "list_")) for name in reads)
    assert (gateway.last_call()["outcome"], gateway.last_call()["allow"]) == (outcome, False)


# --------------------------------------------------------------------------------------------
# Rule 1: read-only by default
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("namespace", ["default", "staging"])
@pytest.mark.parametrize("tool", WRITE_TOOLS)
async def test_writes_are_denied_by_the_default_policy(
    open_gateway: GatewayFactory, opa: OpaServer, tool: str, namespace: str
) -> None:
    """Even a caller the shipped grants name (group sre, in staging) does not write in "readonly" mode."""
    gateway = await open_gateway(**opa.settings(), mode="readwrite", principal="alice", principal_groups=["sre"])
    where = {} if tool in NODE_WRITES else {"namespace": namespace}

    message = await gateway.error(tool, arguments_for(tool, **where))

    ungranted = f'no write grant (data.mcp.config.grants) lets "alice" call "{tool}" in namespace "{namespace}"'
    granted = tool in NODE_WRITES or (namespace == "staging" and tool in SRE_GRANTED_IN_STAGING)
    reasons = [POLICY_READONLY] if granted else [ungranted, POLICY_READONLY]
    assert message.startswith(f"denied by policy: {'; '.join(reasons)}. Hint: ")
    assert 'writes need "mode": "readwrite" in the policy data (data.mcp.config.mode)' in message
    record = assert_not_run(gateway, "denied")
    assert record["reasons"] == reasons


@pytest.mark.parametrize("namespace", ["default", "staging"])
@pytest.mark.parametrize("tool", NAMESPACED_READS)
async def test_reads_in_allowed_namespaces_run(live_gateway: Harness, tool: str, namespace: str) -> None:
    await live_gateway.ok(tool, arguments_for(tool, namespace=namespace))

    method, kwargs = live_gateway.kube.calls[0]
    assert (method, kwargs["namespace"]) == (KUBE_METHOD[tool], namespace)
    record = live_gateway.last_call()
    assert (record["outcome"], record["allow"], record["reasons"]) == ("ok", True, [])


# --------------------------------------------------------------------------------------------
# Rule 2: the namespace allowlist
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("namespace", "outcome", "said"),
    [
        ("prod", "denied", 'namespace "prod" is not in the allowlist'),
        ("kube-system", "denied", 'namespace "kube-system" is not in the allowlist'),
        ("staging-2", "denied", 'namespace "staging-2" is not in the allowlist'),
        ("Prod", "invalid", "namespace: must be a DNS-1123 label"),
        ("prod ", "invalid", "namespace: must be a DNS-1123 label"),
        ("prod\u0000", "invalid", "namespace: must be a DNS-1123 label"),
        ("../prod", "invalid", "namespace: must be a DNS-1123 label"),
        ("", "invalid", "namespace: must be a DNS-1123 label"),
        ("*", "invalid", "namespace: must be a DNS-1123 label"),
    ],
)
@pytest.mark.parametrize("tool", NAMESPACED_READS)
async def test_namespaces_outside_the_allowlist_are_unreachable(
    live_gateway: Harness, tool: str, namespace: str, outcome: str, said: str
) -> None:
    message = await live_gateway.error(tool, arguments_for(tool, namespace=namespace))

    assert said in message
    assert_not_run(live_gateway, outcome)


@pytest.mark.parametrize("tool", NAMESPACED_TOOLS)
async def test_a_missing_namespace_is_the_default_namespace(live_gateway: Harness, tool: str) -> None:
    await live_gateway.call(tool, arguments_for(tool))

    record = live_gateway.last_call()
    assert record["arguments"]["namespace"] == "default"
    assert record["action"]["namespace"] == "default"


async def test_the_gateway_allowlist_narrows_the_policy_allowlist(open_gateway: GatewayFactory, opa: OpaServer) -> None:
    gateway = await open_gateway(**opa.settings(), namespaces=["staging"])

    message = await gateway.error("list_pods", {"namespace": "default"})
    assert 'namespace "default" is not in the gateway\'s allowlist' in message
    assert_not_run(gateway, "gateway_denied")

    await gateway.ok("list_pods", {"namespace": "staging"})
    assert gateway.kube.methods == ["list_namespaced_pod"]


async def test_the_gateway_allowlist_cannot_widen_the_policy_allowlist(
    open_gateway: GatewayFactory, opa: OpaServer
) -> None:
    gateway = await open_gateway(**opa.settings(), namespaces=["prod", "staging"])

    message = await gateway.error("list_pods", {"namespace": "prod"})

    assert 'namespace "prod" is not in the allowlist' in message
    assert_not_run(gateway, "denied")


async def test_a_readonly_gateway_stays_readonly_under_a_readwrite_policy(
    open_gateway: GatewayFactory, policy_opa: PolicyServers
) -> None:
    gateway = await open_gateway(**policy_opa(NO_APPROVAL_IN_STAGING).settings(), mode="readonly")

    message = await gateway.error("scale_deployment", arguments_for("scale_deployment", namespace="staging"))

    assert GATEWAY_READONLY in message
    assert POLICY_READONLY not in message
    assert_not_run(gateway, "gateway_denied")


async def test_a_readwrite_gateway_stays_readonly_under_a_readonly_policy(
    open_gateway: GatewayFactory, opa: OpaServer
) -> None:
    gateway = await open_gateway(**opa.settings(), mode="readwrite")

    message = await gateway.error("restart_deployment", arguments_for("restart_deployment", namespace="staging"))

    assert POLICY_READONLY in message
    assert GATEWAY_READONLY not in message
    assert_not_run(gateway, "denied")


# --------------------------------------------------------------------------------------------
# Rule 2b: cluster-scoped reads
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tool", "arguments", "method"),
    [
        ("list_namespaces", {}, "list_namespace"),
        ("get_node_status", {}, "list_node"),
        ("get_node_status", {"node_name": "node-a"}, "read_node"),
    ],
)
async def test_listed_cluster_scoped_reads_run(
    live_gateway: Harness, tool: str, arguments: dict[str, Any], method: str
) -> None:
    await live_gateway.ok(tool, arguments)

    assert live_gateway.kube.methods == [method]
    assert live_gateway.last_call()["action"]["namespace"] is None


@pytest.mark.parametrize(
    ("tool", "resource"),
    [
        ("list_namespaces", "namespaces"),
        ("get_node_status", "nodes"),
        ("list_pvs", "persistentvolumes"),
        ("describe_pv", "persistentvolumes"),
    ],
    ids=CLUSTER_SCOPED_TOOLS,
)
async def test_cluster_scoped_reads_need_the_cluster_read_allowlist(
    open_gateway: GatewayFactory, policy_opa: PolicyServers, tool: str, resource: str
) -> None:
    gateway = await open_gateway(**policy_opa({"cluster_reads": []}).settings())

    message = await gateway.error(tool, arguments_for(tool))

    assert f'cluster-scoped resource "{resource}" is not in the cluster read allowlist' in message
    assert_not_run(gateway, "denied")


@pytest.mark.parametrize("tool", PV_TOOLS)
async def test_persistent_volumes_are_read_only_where_the_policy_lists_them(
    open_gateway: GatewayFactory, policy_opa: PolicyServers, live_gateway: Harness, tool: str
) -> None:
    """A volume names its claim in any namespace, so the shipped cluster reads leave PVs out."""
    message = await live_gateway.error(tool, arguments_for(tool))
    assert 'cluster-scoped resource "persistentvolumes" is not in the cluster read allowlist' in message
    assert_not_run(live_gateway, "denied")

    listed = await open_gateway(
        **policy_opa({"cluster_reads": ["namespaces", "nodes", "persistentvolumes"]}).settings()
    )
    await listed.ok(tool, arguments_for(tool))
    assert listed.kube.methods[0] == KUBE_METHOD[tool]
    assert listed.last_call()["action"]["resource"] == "persistentvolumes"


# --------------------------------------------------------------------------------------------
# Rule 3: approvals
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("namespace", "approvers"), [("staging", "group:sre"), ("default", "group:sre-leads")])
@pytest.mark.parametrize("tool", NAMESPACED_WRITES)
async def test_an_enabled_write_needs_an_approval(
    open_gateway: GatewayFactory, policy_opa: PolicyServers, tool: str, namespace: str, approvers: str
) -> None:
    gateway = await open_gateway(**policy_opa(READWRITE).settings(), mode="readwrite")

    pending = await gateway.ok(tool, arguments_for(tool, namespace=namespace))

    assert pending["status"] == "pending_approval"
    assert pending["message"].startswith(f"approval required: 1 approval from {approvers}")
    assert pending["approvers"] == [approvers]
    assert_not_written(gateway, tool, "approval_pending")


@pytest.mark.parametrize("dry_run", [False, True], ids=["for real", "asked to dry-run"])
async def test_a_write_runs_where_the_policy_needs_no_approval(
    open_gateway: GatewayFactory, policy_opa: PolicyServers, dry_run: bool
) -> None:
    gateway = await open_gateway(**policy_opa(NO_APPROVAL_IN_STAGING).settings(), mode="readwrite")

    result = await gateway.ok(
        "scale_deployment", {"deployment_name": "web", "namespace": "staging", "replicas": 3, "dry_run": dry_run}
    )

    assert gateway.kube.calls == [
        (
            "patch_namespaced_deployment_scale",
            {
                "name": "web",
                "namespace": "staging",
                "body": {"spec": {"replicas": 3}},
                "dry_run": "All" if dry_run else None,
            },
        )
    ]
    assert result["dry_run"] is dry_run
    intent, call = gateway.audit()
    assert (intent["event"], call["outcome"]) == ("write_intent", "ok")


async def test_approval_is_still_needed_outside_the_exempt_namespace(
    open_gateway: GatewayFactory, policy_opa: PolicyServers
) -> None:
    gateway = await open_gateway(**policy_opa(NO_APPROVAL_IN_STAGING).settings(), mode="readwrite")

    pending = await gateway.ok("restart_deployment", {"deployment_name": "web", "namespace": "default"})

    assert pending["approvers"] == ["group:sre-leads"]
    assert_not_written(gateway, "restart_deployment", "approval_pending")


@pytest.mark.parametrize(
    ("policy_dry_run", "gateway_dry_run"), [(True, False), (False, True)], ids=["policy data", "gateway setting"]
)
@pytest.mark.parametrize("tool", NAMESPACED_WRITES)
async def test_a_dry_run_from_policy_or_gateway_makes_writes_server_dry_runs(
    open_gateway: GatewayFactory,
    policy_opa: PolicyServers,
    tool: str,
    policy_dry_run: bool,
    gateway_dry_run: bool,
) -> None:
    policy = policy_opa({**NO_APPROVAL_IN_STAGING, "dry_run": policy_dry_run})
    gateway = await open_gateway(**policy.settings(), mode="readwrite", dry_run=gateway_dry_run)

    result = await gateway.ok(tool, arguments_for(tool, namespace="staging"))

    [(method, kwargs)] = gateway.kube.mutations
    assert (method, kwargs["dry_run"]) == (WRITE_METHOD[tool], "All")
    assert result["dry_run"] is True


# --------------------------------------------------------------------------------------------
# Obligations and decision ids
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("asked", "sent"), [(5000, 500), (10_000, 500), (None, 500), (20, 20)])
async def test_log_reads_are_capped_by_the_policy(live_gateway: Harness, asked: int | None, sent: int) -> None:
    await live_gateway.ok("get_pod_logs", {"pod_name": "web-1", "namespace": "staging", "tail_lines": asked})

    assert live_gateway.kube.calls[0][1]["tail_lines"] == sent


@pytest.mark.parametrize(
    ("gateway_settings", "asked", "sent"),
    [({}, 9000, 500), ({}, None, 500), ({"max_log_lines": 200}, 4000, 200), ({"max_log_lines": 200}, 150, 150)],
    ids=["gateway default", "gateway default, none asked", "gateway 200", "below both"],
)
async def test_a_policy_log_cap_above_the_gateway_cap_is_clamped_to_it(
    open_gateway: GatewayFactory,
    policy_opa: PolicyServers,
    gateway_settings: dict[str, Any],
    asked: int | None,
    sent: int,
) -> None:
    generous = policy_opa({"obligations": {"max_log_lines": 5000}})
    gateway = await open_gateway(**generous.settings(), **gateway_settings)

    await gateway.ok("get_pod_logs", {"pod_name": "web-1", "namespace": "staging", "tail_lines": asked})

    assert gateway.kube.methods == ["read_namespaced_pod_log"]
    assert gateway.kube.calls[0][1]["tail_lines"] == sent


async def test_a_zero_log_cap_in_policy_data_falls_back_to_the_default_cap(
    open_gateway: GatewayFactory, policy_opa: PolicyServers
) -> None:
    """The Rego takes only a whole number of at least 1 from the data, so a 0 neither reaches the
    gateway (whose decision model would refuse it, taking every call down) nor reads zero lines."""
    zero = policy_opa({"obligations": {"max_log_lines": 0}})
    gateway = await open_gateway(**zero.settings(), max_log_lines=2000)  # the gateway's own cap out of the way

    await gateway.ok("get_pod_logs", {"pod_name": "web-1", "namespace": "staging", "tail_lines": 600})

    assert gateway.kube.methods == ["read_namespaced_pod_log"]
    assert gateway.kube.calls[0][1]["tail_lines"] == 500


async def test_the_opa_decision_id_is_in_every_audit_record(
    open_gateway: GatewayFactory, policy_opa: PolicyServers, live_gateway: Harness
) -> None:
    await live_gateway.ok("list_pods")
    await live_gateway.error("list_pods", {"namespace": "prod"})
    writer = await open_gateway(**policy_opa(NO_APPROVAL_IN_STAGING).settings(), mode="readwrite")
    await writer.ok("restart_deployment", {"deployment_name": "web", "namespace": "staging"})

    records = live_gateway.audit() + writer.audit()
    assert [r["event"] for r in records] == ["tool_call", "tool_call", "write_intent", "tool_call"]
    ids = [r["decision_id"] for r in records]
    for decision_id in ids:
        uuid.UUID(decision_id)
    assert len(set(ids)) == 3
    assert ids[2] == ids[3]
