"""A `tool_call` record keeps `input`: exactly the document OPA decided, and only when OPA decided.

`policy replay` re-evaluates these inputs, so each must be the one behind the record's `allow`,
`reasons` and `approval_required`, approval included, and oversized ones must be visibly cut.
"""

from __future__ import annotations

import json

import httpcore

from tests.catalog import arguments_for
from tests.conftest import GatewayFactory
from tests.fakes.opa import OpaStub, decision
from tests.gateways import Harness

APPROVAL = {"required": True, "approvers": ["group:sre-leads"], "count": 1, "ttl_seconds": 900, "kinds": ["review"]}
NEEDS_APPROVAL = decision(
    allow=False, reasons=["approval required: 1 approval from group:sre-leads"], approval=APPROVAL
)
SCALE = {"deployment_name": "web", "namespace": "default", "replicas": 5}


async def test_a_decided_call_records_the_input_opa_was_sent(gateway: Harness, opa_stub: OpaStub) -> None:
    opa_stub.decide(decision(allow=False, reasons=["no"]))

    await gateway.error("list_pods", {"namespace": "staging"})

    [sent] = opa_stub.decision_inputs
    record = gateway.last_call()
    assert record["input"] == sent
    assert (record["allow"], record["reasons"], record["approval_required"], record["warnings"]) == (
        False,
        ["no"],
        False,
        [],
    )
    assert (record["request_id"], record["arguments"]) == (sent["request"]["id"], sent["arguments"])


async def test_a_refused_approval_records_the_approval_opa_saw_and_its_answer(
    open_gateway: GatewayFactory, opa_stub: OpaStub
) -> None:
    opa_stub.decide(NEEDS_APPROVAL)
    writer = await open_gateway(opa_url=opa_stub.url, mode="readwrite", principal="alice")
    approval_id = (await writer.ok("scale_deployment", SCALE))["approval_id"]
    assert (await writer.approvals("approve", approval_id)).code == 0
    opa_stub.decide(decision(allow=False, reasons=["the approval expired"], approval=APPROVAL))

    message = await writer.error("scale_deployment", {**SCALE, "approval_id": approval_id})

    assert message.startswith(f"refused: approval {approval_id} does not allow this call")
    record = writer.last_call()
    assert record["input"] == opa_stub.decision_inputs[-1]
    assert (record["input"]["approval"]["id"], record["input"]["approval"]["state"]) == (approval_id, "approved")
    assert (record["outcome"], record["reasons"], record["approval_required"]) == (
        "denied",
        ["the approval expired"],
        True,
    )
    assert writer.kube.writes == []


async def test_a_call_opa_never_decided_has_no_input(open_gateway: GatewayFactory, opa_stub: OpaStub) -> None:
    readonly = await open_gateway(opa_url=opa_stub.url)
    await readonly.error("list_pods", {"namespace": "../prod"})
    await readonly.error("scale_deployment", arguments_for("scale_deployment"))
    OpaStub.break_route(opa_stub.decision_route, httpcore.ConnectError)
    await readonly.error("list_pods")

    records = readonly.tool_calls()
    assert [record["outcome"] for record in records] == ["invalid", "gateway_denied", "policy_unavailable"]
    assert [record for record in records if "input" in record] == []
    assert len(opa_stub.decision_inputs) == 1  # only the last call reached OPA, which did not answer


async def test_an_oversized_input_is_cut_in_the_record_never_in_the_call(
    open_gateway: GatewayFactory, opa_stub: OpaStub
) -> None:
    groups = [f"group-{index:02}-" + "g" * 50 for index in range(40)]
    small = await open_gateway(opa_url=opa_stub.url, audit_max_value_bytes=1024, principal_groups=groups)

    await small.ok("list_pods")

    assert opa_stub.decision_inputs[-1]["principal"]["groups"] == groups
    record = small.last_call()
    assert record["outcome"] == "ok"
    cut = record["input"]["principal"]["groups"]
    assert (cut["truncated"], cut["prefix"]) == (True, json.dumps(groups, separators=(",", ":"))[:64])
    assert record["input"]["action"] == opa_stub.decision_inputs[-1]["action"]
