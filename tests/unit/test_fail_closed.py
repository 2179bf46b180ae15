"""Every way OPA can fail to give a decision denies the call: no path from an error to an allow."""

from __future__ import annotations

import time

import httpcore
import httpx
import pytest

from tests.catalog import arguments_for
from tests.conftest import GatewayFactory
from tests.fakes.http import Reply, StubHttpServer
from tests.fakes.opa import ALLOW, NO_APPROVAL, Answer, OpaStub
from tests.gateways import Harness

POLICY_UNAVAILABLE = "denied: policy unavailable"

# Each answer is an httpcore error respx raises, or an `httpx.Response` OPA could send back.
BROKEN_ANSWERS: dict[str, Answer] = {
    "connection refused": httpcore.ConnectError,
    "read timeout": httpcore.ReadTimeout,
    "connect timeout": httpcore.ConnectTimeout,
    "HTTP 500": httpx.Response(500, json={"code": "internal_error"}),
    "HTTP 404": httpx.Response(404, json={"code": "resource_not_found"}),
    "HTTP 400": httpx.Response(400, json={"code": "invalid_parameter"}),
    "undefined result": httpx.Response(200, json={}),
    "body not JSON": httpx.Response(200, text="<html>proxy error</html>"),
    "body a JSON list": httpx.Response(200, json=[ALLOW]),
    "result null": httpx.Response(200, json={"result": None}),
    "result a string": httpx.Response(200, json={"result": "allow"}),
    "result true": httpx.Response(200, json={"result": True}),
    "allow the string true": httpx.Response(200, json={"result": {**ALLOW, "allow": "true"}}),
    "allow the number 1": httpx.Response(200, json={"result": {**ALLOW, "allow": 1}}),
    "allow missing": httpx.Response(200, json={"result": {k: v for k, v in ALLOW.items() if k != "allow"}}),
    "reasons not a list": httpx.Response(200, json={"result": {**ALLOW, "reasons": "looks fine"}}),
    "reasons not strings": httpx.Response(200, json={"result": {**ALLOW, "reasons": [1, 2]}}),
    "approval missing": httpx.Response(200, json={"result": {k: v for k, v in ALLOW.items() if k != "approval"}}),
    "obligations missing": httpx.Response(200, json={"result": {k: v for k, v in ALLOW.items() if k != "obligations"}}),
    "obligations a list": httpx.Response(200, json={"result": {**ALLOW, "obligations": []}}),
    "obligations empty": httpx.Response(200, json={"result": {**ALLOW, "obligations": {}}}),
    "max_log_lines missing": httpx.Response(200, json={"result": {**ALLOW, "obligations": {"dry_run": False}}}),
    "max_log_lines null": httpx.Response(
        200, json={"result": {**ALLOW, "obligations": {"max_log_lines": None, "dry_run": False}}}
    ),
    "max_log_lines zero": httpx.Response(
        200, json={"result": {**ALLOW, "obligations": {"max_log_lines": 0, "dry_run": False}}}
    ),
    "dry_run missing": httpx.Response(200, json={"result": {**ALLOW, "obligations": {"max_log_lines": 500}}}),
    "max_log_lines a string": httpx.Response(
        200, json={"result": {**ALLOW, "obligations": {"max_log_lines": "500", "dry_run": False}}}
    ),
    "dry_run a string": httpx.Response(
        200, json={"result": {**ALLOW, "obligations": {"max_log_lines": 500, "dry_run": "false"}}}
    ),
    "approval.required a string": httpx.Response(
        200, json={"result": {**ALLOW, "approval": {**NO_APPROVAL, "required": "no"}}}
    ),
}


def assert_policy_unavailable(gateway: Harness, message: str) -> None:
    assert message == POLICY_UNAVAILABLE
    assert gateway.kube.calls == []
    record = gateway.last_call()
    assert record["outcome"] == "policy_unavailable"
    assert record["reasons"] == ["policy unavailable"]
    assert record["allow"] is False
    assert record["error"] == POLICY_UNAVAILABLE
    assert record["policy_error"], "the audit record says why the policy was unavailable"


@pytest.mark.parametrize("answer", BROKEN_ANSWERS.values(), ids=BROKEN_ANSWERS.keys())
@pytest.mark.parametrize("tool", ["list_pods", "scale_deployment"])
async def test_a_broken_policy_answer_denies_and_kube_is_not_called(
    open_gateway: GatewayFactory, opa_stub: OpaStub, answer: Answer, tool: str
) -> None:
    gateway = await open_gateway(opa_url=opa_stub.url, mode="readwrite")
    opa_stub.break_route(opa_stub.decision_route, answer)

    message = await gateway.error(tool, arguments_for(tool))

    assert opa_stub.decision_route.call_count == 1
    assert_policy_unavailable(gateway, message)


async def test_the_policy_detail_is_logged_but_never_shown_to_the_agent(
    gateway: Harness, opa_stub: OpaStub, caplog: pytest.LogCaptureFixture
) -> None:
    opa_stub.break_route(opa_stub.decision_route, httpx.Response(500, text="rego_eval_error: SECRET-INTERNAL-DETAIL"))

    message = await gateway.error("list_pods")

    assert "SECRET-INTERNAL-DETAIL" not in message
    assert "SECRET-INTERNAL-DETAIL" in caplog.text
    assert_policy_unavailable(gateway, message)


async def test_a_slow_policy_server_times_out_and_denies(open_gateway: GatewayFactory) -> None:
    """A real server that answers `allow` too late: the timeout, not the answer, decides."""
    slow = StubHttpServer(lambda _method, _path: Reply(body={"result": ALLOW}, delay=0.5)).start()
    try:
        gateway = await open_gateway(opa_url=slow.url, opa_timeout=0.05)
        message = await gateway.error("list_pods")
    finally:
        slow.stop()

    assert slow.requests == [("POST", "/v1/data/mcp/authz/decision")]
    assert_policy_unavailable(gateway, message)


async def test_an_allow_trickled_byte_by_byte_is_denied_at_the_deadline(open_gateway: GatewayFactory) -> None:
    """Each byte comes well within a per-read timeout; the whole answer would take ~15 s."""
    trickle = StubHttpServer(lambda _method, _path: Reply(body={"result": ALLOW}, trickle=0.05)).start()
    try:
        gateway = await open_gateway(opa_url=trickle.url, opa_timeout=0.3)
        started = time.monotonic()
        message = await gateway.error("get_pod_logs", {"pod_name": "web-1"})
        elapsed = time.monotonic() - started
    finally:
        trickle.stop()

    assert trickle.requests == [("POST", "/v1/data/mcp/authz/decision")]
    assert_policy_unavailable(gateway, message)
    assert 0.3 <= elapsed < 2
    assert "within 0.3s" in gateway.last_call()["policy_error"]


async def test_an_unreachable_policy_server_denies(open_gateway: GatewayFactory, unused_tcp_port: int) -> None:
    gateway = await open_gateway(opa_url=f"http://127.0.0.1:{unused_tcp_port}")

    assert_policy_unavailable(gateway, await gateway.error("describe_pod", {"pod_name": "web-1"}))


VISIBILITY_GARBAGE: dict[str, Answer] = {
    "names as a string": httpx.Response(200, json={"result": "list_pods"}),
    "a list of numbers": httpx.Response(200, json={"result": [1, 2]}),
    "a list of objects": httpx.Response(200, json={"result": [{"name": "list_pods"}]}),
    "undefined result": httpx.Response(200, json={}),
    "body not JSON": httpx.Response(200, text="nope"),
    "HTTP 500": httpx.Response(500),
    "connection refused": httpcore.ConnectError,
    "timeout": httpcore.ReadTimeout,
}


@pytest.mark.parametrize("answer", VISIBILITY_GARBAGE.values(), ids=VISIBILITY_GARBAGE.keys())
async def test_a_broken_visibility_answer_lists_no_tools(gateway: Harness, opa_stub: OpaStub, answer: Answer) -> None:
    opa_stub.break_route(opa_stub.visibility_route, answer)

    assert await gateway.tool_names() == set()
    assert opa_stub.visibility_route.call_count == 1
