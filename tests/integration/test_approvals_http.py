"""The approvals API over raw HTTP, on the app `serve --transport http` runs.

The gateway is the real HTTP app under uvicorn in this process, in front of the real OPA with
the shipped approval rules and writes enabled, and the counting fake kube. Callers are entries of
a token file: alice (groups sre, sre-leads) is the agent who asks for writes; a write to
`default` needs one review by group:sre-leads, which bob has; carol (sre) is an approver only in
`staging`; mallory is in no group that approves anything. Every refusal is shown to leave the
request as it was and to write nothing to the cluster.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest
from kubernetes.client import V1Scale, V1ScaleSpec

from tests.catalog import IN_STAGING, READWRITE, SCALE, USED
from tests.conftest import HttpGatewayFactory, PolicyServers
from tests.gateways import HttpHarness, error_text

pytestmark = pytest.mark.integration

ALICE = "alice-0123456789abcdef-token"
BOB = "bob-0123456789abcdef-token"
CAROL = "carol-0123456789abcdef-token"
MALLORY = "mallory-0123456789abcdef-token"
JSON = {"content-type": "application/json"}


@pytest.fixture
def token_file(tmp_path: Path) -> Path:
    path = tmp_path / "tokens.json"
    callers = {
        ALICE: {"sub": "alice", "groups": ["sre", "sre-leads"]},
        BOB: {"sub": "bob", "groups": ["sre-leads"]},
        CAROL: {"sub": "carol", "groups": ["sre"]},
        MALLORY: {"sub": "mallory", "groups": ["dev"]},
    }
    path.write_text(json.dumps(callers))
    return path


@pytest.fixture
async def gateway(serve_gateway: HttpGatewayFactory, policy_opa: PolicyServers, token_file: Path) -> HttpHarness:
    return await serve_gateway(
        **policy_opa(READWRITE).settings(), mode="readwrite", auth="tokens", auth_token_file=token_file
    )


async def request_write(gateway: HttpHarness, arguments: Mapping[str, Any] = SCALE) -> dict[str, Any]:
    """alice's write, which must come back pending: the agent's answer."""
    async with gateway.client(ALICE) as client:
        pending = await client.call_tool("scale_deployment", dict(arguments))
    assert pending.structured_content is not None
    assert pending.structured_content["status"] == "pending_approval"
    return pending.structured_content


async def retry(gateway: HttpHarness, approval_id: str, arguments: Mapping[str, Any] = SCALE) -> Any:
    """alice's same write again, carrying `approval_id`."""
    async with gateway.client(ALICE) as client:
        return await client.call_tool(
            "scale_deployment", {**arguments, "approval_id": approval_id}, raise_on_error=False
        )


async def api(
    gateway: HttpHarness,
    method: str,
    path: str,
    *,
    token: str | None,
    headers: Mapping[str, str] | None = None,
    **options: Any,
) -> httpx.Response:
    """One raw request to the gateway, as `token`'s holder."""
    sent = {**({"authorization": f"Bearer {token}"} if token else {}), **(headers or {})}
    async with httpx.AsyncClient(base_url=gateway.base_url) as http:
        return await http.request(method, path, headers=sent, **options)


async def decide(
    gateway: HttpHarness, approval_id: str, verdict: str, token: str | None, reason: str | None = None
) -> httpx.Response:
    body = {} if reason is None else {"reason": reason}
    return await api(gateway, "POST", f"/approvals/{approval_id}/{verdict}", token=token, json=body)


async def state(gateway: HttpHarness, approval_id: str) -> str:
    shown = await api(gateway, "GET", f"/approvals/{approval_id}", token=ALICE)
    assert shown.status_code == 200, shown.text
    found: str = shown.json()["approval"]["state"]
    return found


def events(gateway: HttpHarness, approval_id: str) -> list[str]:
    return [r["event"] for r in gateway.records() if r.get("approval_id") == approval_id and r["event"] != "tool_call"]


def assert_error(response: httpx.Response, status: int, error: str, description: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"error": error, "error_description": description}


def assert_untouched(gateway: HttpHarness, approval_id: str) -> None:
    """The request is still only requested (refused attempts aside), and nothing was written to the cluster."""
    assert [event for event in events(gateway, approval_id) if event != "approval_decision_refused"] == [
        "approval_requested"
    ]
    assert gateway.kube.writes == []


# --------------------------------------------------------------------------------------------
# The whole flow: requested by the agent, approved or denied over HTTP, used once
# --------------------------------------------------------------------------------------------


async def test_an_approver_approves_over_http_and_the_write_runs_exactly_once(gateway: HttpHarness) -> None:
    gateway.kube.responses["patch_namespaced_deployment_scale"] = V1Scale(spec=V1ScaleSpec(replicas=5))  # dry run
    pending = await request_write(gateway)
    approval_id = pending["approval_id"]
    assert f"`POST /approvals/{approval_id}/approve` on this gateway" in pending["next_step"]

    shown = await api(gateway, "GET", f"/approvals/{approval_id}", token=BOB)
    assert shown.status_code == 200
    assert shown.json()["approval"]["preview"]["summary"] == ["spec.replicas: 2 → 5"]
    approved = await decide(gateway, approval_id, "approve", BOB, reason="looks right")

    assert approved.status_code == 200, approved.text
    assert approved.json()["message"] == f"bob approved {approval_id}: it is approved (1 of 1 approvals)"
    assert approved.json()["approval"]["approved_by"][0]["sub"] == "bob"
    record = [r for r in gateway.records() if r["event"] == "approval_approved"][-1]
    assert (record["approval_id"], record["by"], record["groups"], record["reason"]) == (
        approval_id,
        "bob",
        ["sre-leads"],
        "looks right",
    )
    assert gateway.kube.writes == []

    ran = await retry(gateway, approval_id)
    assert not ran.is_error, ran.content
    assert gateway.kube.writes == [
        (
            "patch_namespaced_deployment_scale",
            {"name": "web", "namespace": "default", "body": {"spec": {"replicas": 5}}, "dry_run": None},
        )
    ]
    replayed = await retry(gateway, approval_id)
    assert USED in error_text(replayed)
    assert len(gateway.kube.writes) == 1
    refused = gateway.records()[-1]
    assert (refused["event"], refused["outcome"], refused["allow"]) == ("tool_call", "denied", False)
    assert refused["decision_id"]  # OPA was asked, and said no: the approval is used
    assert USED in refused["reasons"]
    assert events(gateway, approval_id) == ["approval_requested", "approval_approved", "approval_used", "write_intent"]
    assert_error(
        await decide(gateway, approval_id, "approve", BOB), 409, "conflict", f"cannot approve {approval_id}: it is used"
    )


async def test_a_denial_with_its_reason_refuses_the_agents_retry(gateway: HttpHarness) -> None:
    approval_id = (await request_write(gateway))["approval_id"]

    denied = await decide(gateway, approval_id, "deny", BOB, reason="not during the freeze")

    assert denied.status_code == 200, denied.text
    assert denied.json()["approval"]["state"] == "denied"
    assert denied.json()["approval"]["denied_by"]["reason"] == "not during the freeze"
    refused = error_text(await retry(gateway, approval_id))
    assert refused.startswith(f"refused: approval {approval_id} does not allow this call: ")
    assert "the request was denied by bob: not during the freeze" in refused
    assert gateway.kube.writes == []
    assert events(gateway, approval_id) == ["approval_requested", "approval_denied"]


async def test_the_requester_may_withdraw_their_own_request(gateway: HttpHarness) -> None:
    approval_id = (await request_write(gateway))["approval_id"]

    withdrawn = await decide(gateway, approval_id, "deny", ALICE, reason="wrong deployment")

    assert withdrawn.json()["message"] == f"alice denied {approval_id}: it is denied (0 of 1 approvals)"
    assert gateway.kube.writes == []


def break_audit(gateway: HttpHarness) -> Path:
    """A directory where the audit file was: no record can be written until it is gone."""
    path = gateway.harness.audit_path
    path.unlink()
    path.mkdir()
    return path


async def test_no_approval_step_happens_while_its_record_cannot_be_written(gateway: HttpHarness) -> None:
    approval_id = (await request_write(gateway))["approval_id"]
    broken = break_audit(gateway)

    approving = await decide(gateway, approval_id, "approve", BOB)
    asking_again = await request_write_refused(gateway, {**SCALE, "replicas": 6})

    assert_error(
        approving,
        503,
        "unavailable",
        f"refused: the audit record could not be written, so {approval_id} is still pending",
    )
    assert asking_again == "refused: the audit record could not be written, so no request was made"
    broken.rmdir()
    assert await state(gateway, approval_id) == "pending"
    assert (await decide(gateway, approval_id, "approve", BOB)).status_code == 200

    broken = break_audit(gateway)
    using = error_text(await retry(gateway, approval_id))
    broken.rmdir()

    assert using == f"refused: the audit record could not be written, so {approval_id} was not used"
    assert await state(gateway, approval_id) == "approved"
    assert gateway.kube.writes == []
    ran = await retry(gateway, approval_id)
    assert not ran.is_error, ran.content
    assert len(gateway.kube.writes) == 1
    assert events(gateway, approval_id) == ["approval_used", "write_intent"]  # the file was new after the break


async def request_write_refused(gateway: HttpHarness, arguments: Mapping[str, Any]) -> str:
    """alice's write, which must be refused: the agent's message."""
    async with gateway.client(ALICE) as client:
        return error_text(await client.call_tool("scale_deployment", dict(arguments), raise_on_error=False))


# --------------------------------------------------------------------------------------------
# Who may decide: a verified caller, named by the request's approvers, not its requester
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "route"),
    [("GET", ""), ("GET", "/{id}"), ("POST", "/{id}/approve"), ("POST", "/{id}/deny")],
    ids=["list", "show", "approve", "deny"],
)
@pytest.mark.parametrize(
    ("authorization", "check"),
    [(None, "missing"), ("Bearer forged-0123456789abcdef", "unknown_token"), (f"Basic {BOB}", "missing")],
    ids=["no token", "forged token", "another scheme"],
)
async def test_without_a_valid_token_every_route_answers_401_and_audits_it(
    gateway: HttpHarness, method: str, route: str, authorization: str | None, check: str
) -> None:
    approval_id = (await request_write(gateway))["approval_id"]
    headers = {"authorization": authorization} if authorization else {}

    path = "/approvals" + route.format(id=approval_id)
    refused = await api(gateway, method, path, token=None, headers=headers, json={"reason": "r"})

    assert refused.status_code == 401
    assert refused.headers["www-authenticate"].startswith('Bearer realm="k8s-mcp-gateway"')
    assert refused.json()["error"] in ("unauthorized", "invalid_token")
    record = gateway.records()[-1]
    assert (record["event"], record["outcome"], record["check"], record["path"]) == (
        "authentication",
        "unauthenticated",
        check,
        path,
    )
    assert record["principal"] is None
    if authorization:
        assert authorization.partition(" ")[2] not in gateway.harness.audit_path.read_text()
    assert_untouched(gateway, approval_id)


async def test_another_users_token_neither_reads_nor_decides_the_request(gateway: HttpHarness) -> None:
    approval_id = (await request_write(gateway))["approval_id"]

    shown = await api(gateway, "GET", f"/approvals/{approval_id}", token=MALLORY)
    listed = await api(gateway, "GET", "/approvals?all=1", token=MALLORY)
    approved = await decide(gateway, approval_id, "approve", MALLORY)
    denied = await decide(gateway, approval_id, "deny", MALLORY, reason="because")

    assert_error(
        shown,
        403,
        "forbidden",
        f"mallory may not read approval {approval_id}: only its requester and its approvers (group:sre-leads) may",
    )
    assert listed.json() == {"caller": {"sub": "mallory", "groups": ["dev"]}, "approvals": []}
    for verdict, answer in (("approve", approved), ("deny", denied)):
        assert_error(
            answer,
            403,
            "forbidden",
            f"cannot {verdict} {approval_id}: mallory is not one of its approvers (group:sre-leads)",
        )
    refusals = [r for r in gateway.records() if r["event"] == "approval_decision_refused"]
    assert [(r["principal"]["sub"], r["status"], r["path"]) for r in refusals] == [
        ("mallory", 403, f"/approvals/{approval_id}/approve"),
        ("mallory", 403, f"/approvals/{approval_id}/deny"),
    ]
    assert_untouched(gateway, approval_id)


@pytest.mark.parametrize(
    ("token", "why"),
    [
        (ALICE, "the requester cannot approve their own request"),  # alice is in group:sre-leads
        (CAROL, "carol is not one of its approvers (group:sre-leads)"),
    ],
    ids=["the requester", "outside the allowed groups"],
)
async def test_the_requester_and_callers_outside_the_approvers_cannot_approve(
    gateway: HttpHarness, token: str, why: str
) -> None:
    approval_id = (await request_write(gateway))["approval_id"]

    refused = await decide(gateway, approval_id, "approve", token)

    assert_error(refused, 403, "forbidden", f"cannot approve {approval_id}: {why}")
    assert await state(gateway, approval_id) == "pending"
    assert_untouched(gateway, approval_id)


async def test_without_verified_callers_nobody_decides(
    serve_gateway: HttpGatewayFactory, policy_opa: PolicyServers
) -> None:
    """`K8S_MCP_AUTH=none` under a policy that lets anonymous callers ask for writes."""
    policy = policy_opa({**READWRITE, "allow_unauthenticated_http": True})
    gateway = await serve_gateway(**policy.settings(), mode="readwrite")
    async with gateway.client() as client:
        pending = await client.call_tool("scale_deployment", SCALE)
    assert pending.structured_content is not None
    approval_id = pending.structured_content["approval_id"]

    refusals = [
        await api(gateway, "GET", "/approvals", token=None),
        await api(gateway, "GET", f"/approvals/{approval_id}", token=None),
        await decide(gateway, approval_id, "approve", BOB),
        await decide(gateway, approval_id, "deny", None, reason="no"),
    ]

    for refused in refusals:
        assert refused.status_code == 403
        assert refused.json()["error_description"].startswith(
            "the approvals API needs a verified caller, and this gateway runs with K8S_MCP_AUTH=none"
        )
    assert_untouched(gateway, approval_id)


# --------------------------------------------------------------------------------------------
# Reading: each caller sees the requests they may decide and their own
# --------------------------------------------------------------------------------------------


async def test_each_caller_lists_the_requests_they_may_decide_and_their_own(gateway: HttpHarness) -> None:
    in_default = (await request_write(gateway))["approval_id"]
    in_staging = (await request_write(gateway, IN_STAGING))["approval_id"]

    async def listed(token: str, query: str = "") -> list[tuple[str, str]]:
        answer = await api(gateway, "GET", f"/approvals{query}", token=token)
        assert answer.status_code == 200, answer.text
        return [(a["approval_id"], a["state"]) for a in answer.json()["approvals"]]

    assert await listed(ALICE) == [(in_staging, "pending"), (in_default, "pending")]
    assert await listed(BOB) == [(in_default, "pending")]
    assert await listed(CAROL) == [(in_staging, "pending")]
    assert await listed(MALLORY) == []
    assert (await decide(gateway, in_default, "deny", BOB, reason="no")).status_code == 200
    assert await listed(BOB) == []
    assert await listed(BOB, "?all=1") == [(in_default, "denied")]
    assert await listed(BOB, "?all=true") == [(in_default, "denied")]
    assert_error(
        await api(gateway, "GET", "/approvals?all=yes", token=BOB),
        400,
        "invalid_request",
        "all: must be 1 (every state) or 0 (open requests only)",
    )


# --------------------------------------------------------------------------------------------
# Bad requests: answered in JSON, naming the field and the rule, deciding nothing
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("verdict", "options", "status", "error", "description"),
    [
        (
            "approve",
            {},
            415,
            "unsupported_media_type",
            "the body must be JSON, sent with Content-Type: application/json",
        ),
        (
            "approve",
            {"content": b"reason=ok", "headers": {"content-type": "application/x-www-form-urlencoded"}},
            415,
            "unsupported_media_type",
            "the body must be JSON, sent with Content-Type: application/json",
        ),
        (
            "approve",
            {"content": b'{"reason": "ok"}', "headers": {"content-type": "text/plain"}},
            415,
            "unsupported_media_type",
            "the body must be JSON, sent with Content-Type: application/json",
        ),
        (
            "approve",
            {"json": {"reason": "x" * 5000}},
            413,
            "payload_too_large",
            "the body may be at most 4096 bytes",
        ),
        (
            "approve",
            {"content": b"", "headers": JSON},
            400,
            "invalid_request",
            'the body must be a JSON object: {"reason": "..."}',
        ),
        (
            "approve",
            {"content": b"{not json", "headers": JSON},
            400,
            "invalid_request",
            'the body must be a JSON object: {"reason": "..."}',
        ),
        ("approve", {"json": ["ok"]}, 400, "invalid_request", 'the body must be a JSON object: {"reason": "..."}'),
        (
            "approve",
            {"json": {"reason": "ok", "approvers": ["bob"]}},
            400,
            "invalid_request",
            "approvers: is not a field of a decision (only reason)",
        ),
        ("approve", {"json": {"reason": 5}}, 400, "invalid_request", "reason: must be a string"),
        (
            "approve",
            {"json": {"reason": "x" * 1001}},
            400,
            "invalid_request",
            "reason: must be at most 1000 characters",
        ),
        (
            "approve",
            {"json": {"reason": "ok\u001b[2J"}},
            400,
            "invalid_request",
            "reason: must be one line of text, without control or format characters",
        ),
        (
            "approve",
            {"json": {"reason": "ok\u202eevil"}},
            400,
            "invalid_request",
            "reason: must be one line of text, without control or format characters",
        ),
        ("deny", {"json": {}}, 400, "invalid_request", "reason: is required to deny: say why"),
        ("deny", {"json": {"reason": "  "}}, 400, "invalid_request", "reason: is required to deny: say why"),
    ],
    ids=[
        "no body",
        "a form",
        "text/plain",
        "too large",
        "empty",
        "not JSON",
        "an array",
        "another field",
        "a number",
        "too long a reason",
        "an escape sequence",
        "a bidi override",
        "deny without a reason",
        "deny with a blank reason",
    ],
)
async def test_a_body_that_is_not_a_small_json_decision_is_refused(
    gateway: HttpHarness, verdict: str, options: dict[str, Any], status: int, error: str, description: str
) -> None:
    approval_id = (await request_write(gateway))["approval_id"]
    headers = {**options.pop("headers", {}), "authorization": f"Bearer {BOB}"}

    async with httpx.AsyncClient(base_url=gateway.base_url) as http:
        refused = await http.post(f"/approvals/{approval_id}/{verdict}", headers=headers, **options)

    assert_error(refused, status, error, description)
    assert gateway.records()[-1]["event"] == "approval_decision_refused"
    assert_untouched(gateway, approval_id)


@pytest.mark.parametrize(
    ("path", "status", "error", "description"),
    [
        (
            "/approvals/not-an-id",
            400,
            "invalid_request",
            "approval id: must be an approval id: 32 letters, digits, '-' or '_', not starting with '-'",
        ),
        (
            "/approvals/-" + "a" * 31,
            400,
            "invalid_request",
            "approval id: must be an approval id: 32 letters, digits, '-' or '_', not starting with '-'",
        ),
        (
            "/approvals/" + "A" * 32,
            404,
            "not_found",
            "approval_id: no approval request has the id '" + "A" * 32 + "'",
        ),
    ],
    ids=["malformed", "starting with '-'", "unknown"],
)
@pytest.mark.parametrize("verdict", [None, "approve", "deny"])
async def test_a_malformed_or_unknown_id_is_refused(
    gateway: HttpHarness, path: str, status: int, error: str, description: str, verdict: str | None
) -> None:
    if verdict is None:
        answer = await api(gateway, "GET", path, token=BOB)
    else:
        answer = await api(gateway, "POST", f"{path}/{verdict}", token=BOB, json={"reason": "r"})

    assert_error(answer, status, error, description)
    assert gateway.kube.calls == []


# --------------------------------------------------------------------------------------------
# The HTTP layers in front: Host/Origin guard
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"host": "evil.example"}, 421),
        ({"host": "127.0.0.1.evil.example"}, 421),
        ({"origin": "http://evil.example"}, 403),
        ({"host": "evil.example", "origin": "http://evil.example"}, 421),
    ],
)
async def test_a_foreign_host_or_origin_decides_nothing(
    gateway: HttpHarness, headers: dict[str, str], status: int
) -> None:
    approval_id = (await request_write(gateway))["approval_id"]

    for path in ("/approvals", f"/approvals/{approval_id}"):
        assert (await api(gateway, "GET", path, token=BOB, headers=headers)).status_code == status
    refused = await api(
        gateway, "POST", f"/approvals/{approval_id}/approve", token=BOB, headers=headers, json={"reason": "r"}
    )

    assert refused.status_code == status
    assert await state(gateway, approval_id) == "pending"
    assert_untouched(gateway, approval_id)
    assert (await decide(gateway, approval_id, "approve", BOB)).status_code == 200  # the same, from loopback
