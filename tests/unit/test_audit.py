"""The audit trail: exactly one `tool_call` record per call, and a `write_intent` before every write."""

from __future__ import annotations

import asyncio
import getpass
import uuid
from datetime import datetime
from typing import Any

import pytest

from gateway.errors import KubeError
from tests.support import (
    KUBE_METHOD,
    WRITE_TOOLS,
    Harness,
    OpaStub,
    arguments_for,
    decision,
    read_audit,
)

TOOL_CALL_FIELDS = {
    "event",
    "request_id",
    "time",
    "transport",
    "principal",
    "tool",
    "arguments",
    "action",
    "action_digest",
    "decision_id",
    "allow",
    "reasons",
    "outcome",
    "duration_ms",
}


def assert_well_formed(record: dict[str, Any]) -> None:
    assert set(record) >= TOOL_CALL_FIELDS
    assert record["event"] == "tool_call"
    uuid.UUID(record["request_id"])
    datetime.fromisoformat(record["time"].replace("Z", "+00:00"))
    assert record["principal"]["sub"] == getpass.getuser()
    assert isinstance(record["duration_ms"], float)
    assert record["duration_ms"] >= 0


async def test_an_allowed_read_has_one_complete_record(gateway: Harness, opa_stub: OpaStub) -> None:
    await gateway.ok("list_pods", {"namespace": "staging"})

    [record] = gateway.audit()
    assert_well_formed(record)
    [document] = opa_stub.decision_inputs
    assert record["request_id"] == document["request"]["id"]
    assert record["time"] == document["request"]["time"]
    assert record["principal"] == document["principal"]
    assert record["arguments"] == document["arguments"]
    assert record["action"] == document["action"]
    assert record["action_digest"] == document["action_digest"]
    assert (record["tool"], record["transport"], record["decision_id"]) == ("list_pods", "stdio", "stub-decision-1")
    assert (record["allow"], record["reasons"], record["outcome"]) == (True, [], "ok")
    assert "error" not in record


async def test_a_denied_call_has_one_record_with_the_reasons(gateway: Harness, opa_stub: OpaStub) -> None:
    opa_stub.decide(decision(allow=False, reasons=["no"]))

    await gateway.error("list_pods")

    [record] = gateway.audit()
    assert_well_formed(record)
    assert (record["allow"], record["reasons"], record["outcome"]) == (False, ["no"], "denied")
    assert record["error"] == "denied by policy: no"
    assert gateway.kube.calls == []


@pytest.mark.parametrize("tool", WRITE_TOOLS)
async def test_a_write_is_announced_durably_before_kube_is_touched(gateway: Harness, tool: str) -> None:
    seen_at_call_time: list[list[dict[str, Any]]] = []
    gateway.kube.before_call = lambda _name, _kwargs: seen_at_call_time.append(read_audit(gateway.audit_path))

    await gateway.ok(tool, arguments_for(tool))

    [before] = seen_at_call_time
    [intent] = before[gateway.audit_start :]
    intent_, call = gateway.audit()
    assert intent == intent_
    assert (intent["event"], intent["outcome"], intent["allow"]) == ("write_intent", "authorized", True)
    assert intent["request_id"] == call["request_id"]
    assert intent["arguments"] == call["arguments"]
    assert intent["action"] == call["action"]
    assert intent["action_digest"] == call["action_digest"]
    assert intent["decision_id"] == call["decision_id"]
    assert_well_formed(call)
    assert call["outcome"] == "ok"


@pytest.mark.parametrize("tool", WRITE_TOOLS)
async def test_a_failed_write_still_has_its_intent_and_one_call_record(gateway: Harness, tool: str) -> None:
    gateway.kube.fail(KUBE_METHOD[tool], KubeError("Kubernetes API conflict (409): modified", status=409))

    await gateway.error(tool, arguments_for(tool))

    assert [(r["event"], r["outcome"]) for r in gateway.audit()] == [
        ("write_intent", "authorized"),
        ("tool_call", "error"),
    ]


@pytest.mark.parametrize("tool", WRITE_TOOLS)
async def test_a_denied_write_has_no_intent(gateway: Harness, opa_stub: OpaStub, tool: str) -> None:
    opa_stub.decide(decision(allow=False, reasons=["writes are disabled"]))

    await gateway.error(tool, arguments_for(tool))

    assert [r["event"] for r in gateway.audit()] == ["tool_call"]
    assert gateway.kube.calls == []


async def test_the_record_holds_the_arguments_as_run_after_obligations(gateway: Harness, opa_stub: OpaStub) -> None:
    opa_stub.decide(decision(allow=True, obligations={"max_log_lines": 10, "dry_run": True}))

    await gateway.ok("get_pod_logs", {"pod_name": "web-1", "tail_lines": 999})
    await gateway.ok("restart_deployment", {"deployment_name": "web"})

    logs, intent, restart = gateway.audit()
    assert logs["arguments"]["tail_lines"] == 10
    assert intent["arguments"]["dry_run"] is True
    assert restart["arguments"]["dry_run"] is True


async def test_concurrent_calls_each_get_one_well_formed_line(gateway: Harness, opa_stub: OpaStub) -> None:
    calls = [gateway.call("list_pods", {"namespace": "default"}) for _ in range(25)]
    calls += [gateway.call("scale_deployment", arguments_for("scale_deployment")) for _ in range(25)]

    results = await asyncio.gather(*calls)

    assert not any(result.is_error for result in results)
    records = gateway.audit()
    tool_calls = [r for r in records if r["event"] == "tool_call"]
    intents = [r for r in records if r["event"] == "write_intent"]
    assert len(tool_calls) == 50
    assert len(intents) == 25
    for record in tool_calls:
        assert_well_formed(record)
    assert len({r["request_id"] for r in tool_calls}) == 50
    assert {r["request_id"] for r in intents} <= {r["request_id"] for r in tool_calls}
    assert len(gateway.kube.calls) == 50
    assert opa_stub.decision_route.call_count == 50
