"""The decision's `warnings`: the call is decided as if they were not there, and they are reported.

A warning goes to the agent in the result's `_meta`, into the call's audit record, and into the
gateway's count; a decision without `warnings` has none, and one whose warnings are not strings
is no decision at all.
"""

from __future__ import annotations

from typing import Any

import pytest

from gateway.guard import WARNINGS_META
from tests.fakes.opa import ALLOW, OpaStub, decision, opa_answer
from tests.gateways import Harness

WARNING = "rule x (warn mode): this call will be denied once enforced"
APPROVAL = {"required": True, "approvers": ["group:sre"], "count": 1, "ttl_seconds": 900, "kinds": ["review"]}


async def test_an_allowed_call_runs_and_carries_its_warnings(gateway: Harness, opa_stub: OpaStub) -> None:
    opa_stub.decide({**ALLOW, "warnings": [WARNING, "another"]})

    result = await gateway.call("list_pods")

    assert not result.is_error
    assert result.meta is not None
    assert result.meta[WARNINGS_META] == [WARNING, "another"]
    assert gateway.kube.methods == ["list_namespaced_pod"]
    record = gateway.last_call()
    assert (record["outcome"], record["warnings"]) == ("ok", [WARNING, "another"])


async def test_the_gateway_counts_the_warnings_of_every_call(gateway: Harness, opa_stub: OpaStub) -> None:
    opa_stub.decide({**ALLOW, "warnings": [WARNING]})
    await gateway.ok("list_pods")
    first = gateway.last_call()["warnings_total"]
    opa_stub.decide({**ALLOW, "warnings": [WARNING, WARNING]})
    await gateway.ok("list_pods")
    opa_stub.decide(ALLOW)
    await gateway.ok("list_pods")

    counts = [record.get("warnings_total") for record in gateway.tool_calls()]
    assert counts == [first, first + 2, None]


async def test_without_warnings_nothing_is_added(gateway: Harness, opa_stub: OpaStub) -> None:
    result = await gateway.call("list_pods")

    assert WARNINGS_META not in (result.meta or {})
    record = gateway.last_call()
    assert (record["warnings"], "warnings_total" in record) == ([], False)


async def test_a_denied_call_records_its_warnings_and_still_does_not_run(gateway: Harness, opa_stub: OpaStub) -> None:
    opa_stub.decide({**decision(allow=False, reasons=["no"]), "warnings": [WARNING]})

    message = await gateway.error("list_pods")

    assert message == "denied by policy: no"
    assert gateway.kube.calls == []
    assert (gateway.last_call()["outcome"], gateway.last_call()["warnings"]) == ("denied", [WARNING])


async def test_a_pending_approval_answer_carries_the_warnings(gateway: Harness, opa_stub: OpaStub) -> None:
    pending = decision(allow=False, reasons=["approval required: 1 approval from group:sre"], approval=APPROVAL)
    opa_stub.decide({**pending, "warnings": [WARNING]})

    result = await gateway.call("restart_deployment", {"deployment_name": "web"})

    assert isinstance(result.structured_content, dict)
    assert result.structured_content["status"] == "pending_approval"
    assert result.meta is not None
    assert result.meta[WARNINGS_META] == [WARNING]
    assert gateway.kube.writes == []


@pytest.mark.parametrize("warnings", ["one warning", [1], [None], [["nested"]], {"w": "x"}, None])
async def test_warnings_that_are_not_strings_are_no_decision(
    gateway: Harness, opa_stub: OpaStub, warnings: Any
) -> None:
    OpaStub.break_route(opa_stub.decision_route, opa_answer({**ALLOW, "warnings": warnings}))

    message = await gateway.error("list_pods")

    assert message == "denied: policy unavailable"
    assert gateway.kube.calls == []
