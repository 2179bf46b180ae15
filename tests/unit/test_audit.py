"""The audit trail: exactly one `tool_call` record per call, and a `write_intent` before every write."""

from __future__ import annotations

import asyncio
import getpass
import hashlib
import json
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from gateway.errors import KubeError
from tests.catalog import KUBE_METHOD, WRITE_TOOLS, arguments_for
from tests.conftest import GatewayFactory
from tests.fakes.opa import OpaStub, decision
from tests.gateways import Harness, read_audit

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

    # rollout_undo reads the deployment and its ReplicaSets before it patches: the first call counts
    before = seen_at_call_time[0]
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


FIVE_MB = 5 * 1024 * 1024
BOUND = 8192  # K8S_MCP_AUDIT_MAX_VALUE_BYTES by default


def digest_of(text: str) -> dict[str, Any]:
    data = text.encode()
    return {"truncated": True, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest(), "prefix": text[:64]}


def last_line(gateway: Harness) -> str:
    return gateway.audit_path.read_text(encoding="utf-8").splitlines()[-1]


async def test_a_5_mb_argument_is_recorded_by_its_length_and_sha256(gateway: Harness) -> None:
    huge = "a" * FIVE_MB

    message = await gateway.error("list_pods", {"namespace": huge, "label_selector": "app=web"})

    line = last_line(gateway)
    assert len(line) < BOUND
    record = json.loads(line)
    assert record["arguments"] == {"namespace": digest_of(huge), "label_selector": "app=web"}
    assert (record["outcome"], record["error"]) == ("invalid", message)
    assert gateway.kube.calls == []


OVERSIZED_CALLS: dict[str, tuple[str, dict[str, Any]]] = {
    "an argument name": ("list_pods", {"n" * FIVE_MB: 1}),
    "a tool name": ("t" * FIVE_MB, {}),
    "many small arguments": ("list_pods", {f"a{i}": i for i in range(200_000)}),
    "a nested argument": ("list_pods", {"namespace": {"deep": ["x" * FIVE_MB]}}),
}


@pytest.mark.parametrize(("tool", "arguments"), OVERSIZED_CALLS.values(), ids=OVERSIZED_CALLS.keys())
async def test_no_call_writes_a_record_beyond_the_bound(gateway: Harness, tool: str, arguments: dict[str, Any]) -> None:
    await gateway.error(tool, arguments)

    line = last_line(gateway)
    assert len(line) < BOUND
    record = json.loads(line)
    assert record["outcome"] == "invalid"
    truncated = list(digests(record))
    assert truncated, "the oversized value is replaced by its digest"
    for value in truncated:
        assert value["bytes"] > BOUND
        assert len(value["sha256"]) == 64


def digests(value: Any) -> Iterator[dict[str, Any]]:
    """Every digest that stands in for an oversized value, however deep."""
    if isinstance(value, dict):
        if value.get("truncated") is True:
            yield value
        for member in value.values():
            yield from digests(member)


async def test_the_bound_is_a_setting(gateway: Harness, open_gateway: GatewayFactory, opa_stub: OpaStub) -> None:
    tight = await open_gateway(opa_url=opa_stub.url, audit_max_value_bytes=1024)
    namespace = "n" * 2000

    await gateway.error("list_pods", {"namespace": namespace})
    await tight.error("list_pods", {"namespace": namespace})

    assert gateway.last_call()["arguments"] == {"namespace": namespace}
    assert tight.last_call()["arguments"] == {"namespace": digest_of(namespace)}


async def test_only_the_record_is_shortened_never_the_call(open_gateway: GatewayFactory, opa_stub: OpaStub) -> None:
    gateway = await open_gateway(opa_url=opa_stub.url, audit_max_value_bytes=1024)
    selector = ",".join(f"k{i}=v" for i in range(160))

    await gateway.ok("list_pods", {"label_selector": selector})

    assert gateway.kube.calls[0][1]["label_selector"] == selector
    arguments = {
        "namespace": "default",
        "label_selector": selector,
        "field_selector": None,
        "limit": 100,
        "continue_token": None,
    }
    assert gateway.last_call()["arguments"] == digest_of(json.dumps(arguments, separators=(",", ":")))
