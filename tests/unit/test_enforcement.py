"""The gateway does what the decision says: run, deny with reasons, ask for approval, narrow."""

from __future__ import annotations

from typing import Any
from unittest.mock import ANY

import pytest

from tests.catalog import KUBE_METHOD, KUBE_READ_TOOLS, RESOURCE_READS, WRITE_METHOD, WRITE_TOOLS, arguments_for
from tests.conftest import GatewayFactory
from tests.fakes.kube import LOG_TEXT
from tests.fakes.opa import OpaStub, decision
from tests.gateways import Harness

FIRST_PAGE = {"label_selector": None, "limit": 100, "_continue": None}
NAMESPACED_FIRST_PAGE = {"namespace": "default", **FIRST_PAGE, "field_selector": None}

# What each tool sends to the Kubernetes API for its smallest valid arguments.
EXPECTED_KUBE_CALL: dict[str, dict[str, Any]] = {
    "list_namespaces": {},
    "list_pods": NAMESPACED_FIRST_PAGE,
    "get_pod_logs": {
        "name": "web-1",
        "namespace": "default",
        "container": None,
        "tail_lines": 100,
        "since_seconds": None,
        "previous": False,
        "limit_bytes": 1_000_000,
    },
    "describe_pod": {"name": "web-1", "namespace": "default"},
    "list_deployments": NAMESPACED_FIRST_PAGE,
    "describe_deployment": {"name": "web", "namespace": "default"},
    "get_node_status": {},
    "list_events": {"namespace": "default", "field_selector": None},
    **{r.listing: NAMESPACED_FIRST_PAGE for r in RESOURCE_READS if r.listing != "list_pvs"},
    **{r.describing: {"name": r.name, "namespace": "default"} for r in RESOURCE_READS if r.describing != "describe_pv"},
    "list_pvs": FIRST_PAGE,
    "describe_pv": {"name": "pv-data"},
    "rollout_status": {"name": "web", "namespace": "default"},
    "rollout_history": {"name": "web", "namespace": "default"},
    "scale_deployment": {
        "name": "web",
        "namespace": "default",
        "body": {"spec": {"replicas": 2}},
        "dry_run": None,
    },
}


@pytest.mark.parametrize("tool", list(EXPECTED_KUBE_CALL))
async def test_an_allowed_call_reaches_kube_once_with_the_normalised_arguments(
    open_gateway: GatewayFactory, opa_stub: OpaStub, tool: str
) -> None:
    gateway = await open_gateway(opa_url=opa_stub.url, mode="readwrite")

    await gateway.ok(tool, arguments_for(tool))

    name, kwargs = gateway.kube.calls[0]
    assert (name, kwargs) == (KUBE_METHOD[tool], EXPECTED_KUBE_CALL[tool])
    assert opa_stub.decision_route.call_count == 1
    assert gateway.last_call()["outcome"] == "ok"


async def test_restart_patches_the_restarted_at_annotation(gateway: Harness) -> None:
    result = await gateway.ok("restart_deployment", {"deployment_name": "web", "namespace": "staging"})

    assert gateway.kube.methods == ["patch_namespaced_deployment"]
    kwargs = gateway.kube.calls[0][1]
    annotations = kwargs["body"]["spec"]["template"]["metadata"]["annotations"]
    assert annotations == {"kubectl.kubernetes.io/restartedAt": result["restarted_at"]}
    assert (kwargs["name"], kwargs["namespace"], kwargs["dry_run"]) == ("web", "staging", None)


async def test_a_denial_carries_every_reason_and_kube_is_not_called(gateway: Harness, opa_stub: OpaStub) -> None:
    reasons = ['namespace "prod" is not in the allowlist', "writes are disabled: the policy mode is readonly"]
    opa_stub.decide(decision(allow=False, reasons=reasons))

    message = await gateway.error("list_pods", {"namespace": "prod"})

    assert message.startswith("denied by policy: ")
    for reason in reasons:
        assert reason in message
    assert gateway.kube.calls == []
    record = gateway.last_call()
    assert (record["outcome"], record["allow"], record["reasons"]) == ("denied", False, reasons)


async def test_a_denial_without_reasons_still_says_it_was_denied(gateway: Harness, opa_stub: OpaStub) -> None:
    opa_stub.decide(decision(allow=False))

    assert await gateway.error("list_pods") == "denied by policy: denied by policy"
    assert gateway.kube.calls == []


APPROVAL = {"required": True, "approvers": ["group:sre-leads"], "count": 1, "ttl_seconds": 900, "kinds": ["review"]}


@pytest.mark.parametrize(
    "reasons", [["approval required: 1 approval from group:sre-leads"], []], ids=["with reasons", "without reasons"]
)
async def test_approval_required_answers_with_a_pending_request_and_writes_nothing(
    open_gateway: GatewayFactory, opa_stub: OpaStub, reasons: list[str]
) -> None:
    gateway = await open_gateway(opa_url=opa_stub.url, mode="readwrite")
    opa_stub.decide(decision(allow=False, reasons=reasons, approval=APPROVAL))

    pending = await gateway.ok("scale_deployment", arguments_for("scale_deployment", namespace="staging"))

    assert pending["status"] == "pending_approval"
    assert pending["message"].startswith("approval required: 1 ")
    assert "group:sre-leads" in pending["message"]
    assert gateway.kube.writes == []
    assert gateway.last_call()["outcome"] == "approval_pending"


async def test_a_read_the_policy_wants_approved_is_denied_saying_so(gateway: Harness, opa_stub: OpaStub) -> None:
    """Only writes carry approvals; a policy that asks one for a read gets a plain refusal."""
    opa_stub.decide(decision(allow=False, reasons=[], approval=APPROVAL))

    message = await gateway.error("list_pods")

    assert message == "denied by policy: approval required: 1 approval(s) from group:sre-leads"
    assert gateway.kube.calls == []
    assert gateway.last_call()["outcome"] == "approval_required"


@pytest.mark.parametrize(
    ("tail_lines", "sent"),
    [(1000, 50), (50, 50), (7, 7), (None, 50)],
    ids=["capped", "at the cap", "below the cap", "filled when absent"],
)
async def test_max_log_lines_caps_tail_lines(
    gateway: Harness, opa_stub: OpaStub, tail_lines: int | None, sent: int
) -> None:
    opa_stub.decide(decision(allow=True, obligations={"max_log_lines": 50, "dry_run": False}))

    await gateway.ok("get_pod_logs", {"pod_name": "web-1", "tail_lines": tail_lines})

    assert gateway.kube.calls[0][1]["tail_lines"] == sent
    record = gateway.last_call()
    assert record["arguments"]["tail_lines"] == sent


async def test_a_policy_cap_above_the_gateway_default_is_clamped_to_it(gateway: Harness, opa_stub: OpaStub) -> None:
    opa_stub.decide(decision(allow=True, obligations={"max_log_lines": 10_000, "dry_run": False}))

    result = await gateway.ok("get_pod_logs", {"pod_name": "web-1", "tail_lines": 9000})

    assert gateway.kube.calls[0][1]["tail_lines"] == 500
    assert gateway.last_call()["arguments"]["tail_lines"] == 500
    assert result["log"] == LOG_TEXT


@pytest.mark.parametrize(
    ("policy_cap", "gateway_cap", "tail_lines", "sent"),
    [(5000, 100, 9000, 100), (5000, 100, None, 100), (50, 100, 9000, 50), (100, 100, 10_000, 100), (80, 100, 7, 7)],
    ids=["policy above", "filled when absent", "policy below", "equal caps", "below both"],
)
async def test_the_gateway_log_cap_is_a_floor_under_the_policy_cap(
    open_gateway: GatewayFactory,
    opa_stub: OpaStub,
    policy_cap: int,
    gateway_cap: int,
    tail_lines: int | None,
    sent: int,
) -> None:
    gateway = await open_gateway(opa_url=opa_stub.url, max_log_lines=gateway_cap)
    opa_stub.decide(decision(allow=True, obligations={"max_log_lines": policy_cap, "dry_run": False}))

    await gateway.ok("get_pod_logs", {"pod_name": "web-1", "tail_lines": tail_lines})

    assert gateway.kube.calls[0][1]["tail_lines"] == sent
    assert gateway.last_call()["arguments"]["tail_lines"] == sent


@pytest.mark.parametrize("tool", WRITE_TOOLS)
@pytest.mark.parametrize("asked", [False, True], ids=["not asked", "asked"])
async def test_the_dry_run_obligation_turns_every_write_into_a_server_dry_run(
    gateway: Harness, opa_stub: OpaStub, tool: str, asked: bool
) -> None:
    opa_stub.decide(decision(allow=True, obligations={"max_log_lines": 500, "dry_run": True}))

    result = await gateway.ok(tool, arguments_for(tool, dry_run=asked))

    assert gateway.kube.mutations == [(WRITE_METHOD[tool], ANY)]
    assert gateway.kube.mutations[0][1]["dry_run"] == "All"
    assert result["dry_run"] is True


@pytest.mark.parametrize("tool", WRITE_TOOLS)
async def test_a_write_the_agent_asks_to_dry_run_is_a_dry_run(gateway: Harness, tool: str) -> None:
    await gateway.ok(tool, arguments_for(tool, dry_run=True))

    assert [(name, kw["dry_run"]) for name, kw in gateway.kube.mutations] == [(WRITE_METHOD[tool], "All")]


@pytest.mark.parametrize("tool", KUBE_READ_TOOLS)
async def test_the_dry_run_obligation_leaves_reads_alone(gateway: Harness, opa_stub: OpaStub, tool: str) -> None:
    opa_stub.decide(decision(allow=True, obligations={"max_log_lines": 500, "dry_run": True}))

    await gateway.ok(tool, arguments_for(tool))

    assert "dry_run" not in gateway.kube.calls[0][1]
