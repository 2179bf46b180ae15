"""Approvals through the public surfaces: the MCP client, the operator's CLI, and the real OPA.

Under the shipped approval rules with writes enabled, a write to `default` needs one review by
group:sre-leads, a write to `staging` one by group:sre or the user's own confirmation. The
requester is alice (group sre), the approver bob (group sre-leads). Every refusal is proven to
stop the write: the fake kube records no patch that is not a server-side dry run (the preview's).
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from fastmcp import Client
from fastmcp.client.elicitation import ElicitResult
from kubernetes.client import V1Scale, V1ScaleSpec

from gateway.errors import KubeError
from gateway.settings import Settings
from gateway.validation import APPROVAL_ID
from k8s_mcp_sandbox.opa import OpaServer
from tests.catalog import IN_STAGING, READWRITE, SCALE, USED, expected_digest
from tests.conftest import GatewayFactory, PolicyServers
from tests.fakes.kube import CountingKube, canned_responses
from tests.gateways import Harness, open_harness

pytestmark = pytest.mark.integration

RULE = "group:sre-leads"


@pytest.fixture
async def alice(open_gateway: GatewayFactory, policy_opa: PolicyServers) -> Harness:
    """alice (group sre) on a readwrite gateway under the shipped approval rules."""
    return await open_gateway(
        **policy_opa(READWRITE).settings(), mode="readwrite", principal="alice", principal_groups=["sre"]
    )


def deployment_with_replicas(replicas: int) -> Any:
    """The fake kube's deployment, as the API server would return it with `replicas` desired."""
    deployment = copy.deepcopy(canned_responses()["read_namespaced_deployment"])
    deployment.spec.replicas = replicas
    return deployment


async def beside(alice: Harness, open_gateway: GatewayFactory, opa: OpaServer, **settings: Any) -> Harness:
    """Another gateway on alice's approval store: another replica, principal, cluster or policy."""
    who: dict[str, Any] = {"principal": "alice", "principal_groups": ["sre"], **settings}
    return await open_gateway(**opa.settings(), mode="readwrite", approvals_path=alice.gateway.approvals.path, **who)


async def request(gateway: Harness, arguments: dict[str, Any] = SCALE, tool: str = "scale_deployment") -> str:
    """Make the write, which must come back pending, and return its approval id."""
    pending = await gateway.ok(tool, arguments)
    assert pending["status"] == "pending_approval", pending
    approval_id: str = pending["approval_id"]
    return approval_id


async def approved(gateway: Harness, arguments: dict[str, Any] = SCALE, tool: str = "scale_deployment") -> str:
    """A request for the write, approved by bob; its id."""
    approval_id = await request(gateway, arguments, tool)
    run = await gateway.approvals("approve", approval_id)
    assert run.code == 0, run.err
    return approval_id


async def state(gateway: Harness, approval_id: str) -> str:
    shown: str = (await gateway.ok("get_approval", {"approval_id": approval_id}))["state"]
    return shown


def seconds_between(start: str, end: str) -> float:
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


# --------------------------------------------------------------------------------------------
# Request
# --------------------------------------------------------------------------------------------


async def test_a_write_needing_approval_returns_a_pending_request_with_a_dry_run_preview(alice: Harness) -> None:
    alice.kube.responses["read_namespaced_deployment"] = deployment_with_replicas(3)
    alice.kube.responses["patch_namespaced_deployment_scale"] = V1Scale(spec=V1ScaleSpec(replicas=5))

    pending = await alice.ok("scale_deployment", SCALE)

    approval_id = pending["approval_id"]
    assert APPROVAL_ID.fullmatch(approval_id)
    assert pending["status"] == "pending_approval"
    assert pending["message"] == "approval required: 1 approval from group:sre-leads"
    assert (pending["requested_by"], pending["approvers"], pending["count"]) == ("alice", ["group:sre-leads"], 1)
    assert (pending["kinds"], pending["cluster"], pending["approved_by"]) == (["review"], "test-cluster", [])
    assert pending["arguments"] == {**SCALE, "dry_run": False}
    assert pending["action_digest"] == expected_digest("scale_deployment", pending["arguments"])
    assert seconds_between(pending["created_at"], pending["expires_at"]) == 900
    assert pending["preview"] == {
        "changes": [{"field": "spec.replicas", "before": 3, "after": 5}],
        "summary": ["spec.replicas: 3 → 5"],
    }
    assert f"approval_id={approval_id!r}" in pending["next_step"]
    assert f"get_approval(approval_id={approval_id!r})" in pending["next_step"]
    assert f"k8s-mcp-gateway approvals approve {approval_id}" in pending["next_step"]
    assert alice.kube.calls == [
        ("read_namespaced_deployment", {"name": "web", "namespace": "default"}),
        (
            "patch_namespaced_deployment_scale",
            {"name": "web", "namespace": "default", "body": {"spec": {"replicas": 5}}, "dry_run": "All"},
        ),
    ]
    record = alice.last_call()
    assert (record["outcome"], record["allow"], record["approval_id"]) == ("approval_pending", False, approval_id)
    assert alice.events(approval_id) == ["approval_requested"]


async def test_a_restart_preview_shows_the_annotation_it_adds(alice: Harness) -> None:
    planned = copy.deepcopy(canned_responses()["patch_namespaced_deployment"])
    planned.spec.template.metadata.annotations["kubectl.kubernetes.io/restartedAt"] = "2026-11-24T21:30:00Z"
    alice.kube.responses["patch_namespaced_deployment"] = planned

    pending = await alice.ok("restart_deployment", {"deployment_name": "web"})

    field = 'spec.template.metadata.annotations["kubectl.kubernetes.io/restartedAt"]'
    assert pending["preview"]["summary"] == [f'{field}: (none) → "2026-11-24T21:30:00Z"']
    assert alice.kube.writes == []


async def test_a_preview_that_cannot_be_made_says_why(alice: Harness) -> None:
    alice.kube.fail("read_namespaced_deployment", KubeError("Kubernetes API not found (404): web", status=404))

    pending = await alice.ok("scale_deployment", SCALE)

    assert pending["preview"] == {"changes": [], "summary": ["no preview: Kubernetes API not found (404): web"]}


async def test_the_same_call_again_returns_the_same_request_never_a_second(alice: Harness) -> None:
    first = await request(alice)
    again = [await request(alice) for _ in range(3)]
    at_once = await asyncio.gather(*(request(alice) for _ in range(10)))

    assert set(again) | set(at_once) == {first}
    assert alice.events(first) == ["approval_requested"]
    assert len(alice.kube.calls) == 2  # one preview, for the first call
    listed = await alice.ok("list_my_approvals")
    assert [approval["approval_id"] for approval in listed["approvals"]] == [first]


async def test_another_action_gets_its_own_request(alice: Harness) -> None:
    ids = {await request(alice), await request(alice, {**SCALE, "replicas": 6}), await request(alice, IN_STAGING)}

    assert len(ids) == 3


# --------------------------------------------------------------------------------------------
# Use: exactly once, exactly this action, by exactly this requester
# --------------------------------------------------------------------------------------------


async def test_an_approved_request_runs_once_and_its_record_names_the_approvers(alice: Harness) -> None:
    approval_id = await approved(alice)

    result = await alice.ok("scale_deployment", {**SCALE, "approval_id": approval_id})

    assert result == {"deployment": "web", "namespace": "default", "replicas": 2, "dry_run": False}
    assert alice.kube.writes == [
        (
            "patch_namespaced_deployment_scale",
            {"name": "web", "namespace": "default", "body": {"spec": {"replicas": 5}}, "dry_run": None},
        )
    ]
    record = alice.last_call()
    assert (record["outcome"], record["allow"], record["approval_id"]) == ("ok", True, approval_id)
    assert record["approval"] == {"kind": "review", "approved_by": [{"sub": "bob", "groups": ["sre-leads"]}]}
    assert record["arguments"] == {**SCALE, "dry_run": False}
    assert alice.events(approval_id) == ["approval_requested", "approval_approved", "approval_used", "write_intent"]
    assert await state(alice, approval_id) == "used"


async def test_a_used_approval_cannot_be_replayed(alice: Harness) -> None:
    approval_id = await approved(alice)
    await alice.ok("scale_deployment", {**SCALE, "approval_id": approval_id})

    for _ in range(2):
        message = await alice.error("scale_deployment", {**SCALE, "approval_id": approval_id})
        assert message.startswith(f"refused: approval {approval_id} does not allow this call: ")
        assert 'the approval is not approved (state "used")' in message
        assert USED in message
    assert len(alice.kube.writes) == 1
    assert [r["outcome"] for r in alice.tool_calls()[-2:]] == ["denied", "denied"]


async def test_fifty_concurrent_calls_with_one_approval_run_exactly_once(alice: Harness) -> None:
    approval_id = await approved(alice)

    call = {**SCALE, "approval_id": approval_id}
    results = await asyncio.gather(*(alice.call("scale_deployment", call) for _ in range(50)))

    assert sum(not result.is_error for result in results) == 1
    refused = [result.content[0].text for result in results if result.is_error]  # type: ignore[union-attr]
    assert len(refused) == 49
    assert all(USED in message for message in refused)
    assert len(alice.kube.writes) == 1
    assert alice.events(approval_id).count("approval_used") == 1


@pytest.mark.parametrize(
    ("tool", "arguments"),
    [
        ("scale_deployment", {**SCALE, "replicas": 6}),
        ("scale_deployment", {**SCALE, "deployment_name": "api"}),
        ("scale_deployment", {**SCALE, "namespace": "staging"}),
        ("scale_deployment", {**SCALE, "dry_run": True}),
        ("restart_deployment", {"deployment_name": "web", "namespace": "default"}),
    ],
    ids=["other replicas", "other deployment", "other namespace", "asked to dry-run", "other tool"],
)
async def test_an_approval_runs_only_the_action_it_was_given_for(
    alice: Harness, tool: str, arguments: dict[str, Any]
) -> None:
    approval_id = await approved(alice)
    alice.kube.reset()

    message = await alice.error(tool, {**arguments, "approval_id": approval_id})

    assert message.startswith(f"refused: approval {approval_id} does not allow this call: ")
    assert "the approval was granted for a different action (action digest mismatch)" in message
    assert alice.kube.calls == []
    assert alice.last_call()["outcome"] == "denied"
    await alice.ok("scale_deployment", {**SCALE, "approval_id": approval_id})  # still good for its own action
    assert len(alice.kube.writes) == 1


async def test_an_approval_runs_only_on_the_cluster_it_was_given_for(
    alice: Harness, open_gateway: GatewayFactory, policy_opa: PolicyServers
) -> None:
    approval_id = await approved(alice)
    elsewhere = await beside(alice, open_gateway, policy_opa(READWRITE), kube=CountingKube(cluster="other-cluster"))

    message = await elsewhere.error("scale_deployment", {**SCALE, "approval_id": approval_id})

    assert "action digest mismatch" in message
    assert elsewhere.kube.calls == []


async def test_only_the_requester_can_use_an_approval(
    alice: Harness, open_gateway: GatewayFactory, policy_opa: PolicyServers
) -> None:
    approval_id = await approved(alice)
    bob = await beside(alice, open_gateway, policy_opa(READWRITE), principal="bob", principal_groups=["sre-leads"])

    message = await bob.error("scale_deployment", {**SCALE, "approval_id": approval_id})

    assert 'the approval was requested by "alice", not by the caller' in message
    assert bob.kube.calls == []
    assert "can be read only by the principal who requested it" in await bob.error(
        "get_approval", {"approval_id": approval_id}
    )
    assert (await bob.ok("list_my_approvals"))["approvals"] == []


async def test_a_guessed_id_is_refused_before_policy_and_kube(alice: Harness) -> None:
    guessed = "A" * 32

    message = await alice.error("scale_deployment", {**SCALE, "approval_id": guessed})

    assert message == f"approval_id: no approval request has the id {guessed!r}"
    assert alice.kube.calls == []
    record = alice.last_call()
    assert (record["outcome"], record["decision_id"], record["approval_id"]) == ("invalid", None, guessed)
    assert "no approval request" in await alice.error("get_approval", {"approval_id": guessed})


# --------------------------------------------------------------------------------------------
# Decide: who may approve or deny (the CLI), and OPA's own check when the approval is used
# --------------------------------------------------------------------------------------------


async def test_the_requester_cannot_approve_their_own_request(alice: Harness) -> None:
    approval_id = await request(alice)

    refused = await alice.approvals("approve", approval_id, principal="alice", groups="sre-leads")

    assert refused.code == 1
    assert refused.err == f"error: cannot approve {approval_id}: the requester cannot approve their own request"
    assert (await alice.ok("scale_deployment", {**SCALE, "approval_id": approval_id}))["state"] == "pending"
    assert alice.kube.writes == []
    assert alice.events(approval_id) == ["approval_requested"]


@pytest.mark.parametrize(("approver", "groups"), [("bob", "sre,dev"), ("carol", ""), ("mallory", "sre-leads-x")])
async def test_an_approver_outside_the_allowed_groups_cannot_approve(
    alice: Harness, approver: str, groups: str
) -> None:
    approval_id = await request(alice)

    refused = await alice.approvals("approve", approval_id, principal=approver, groups=groups)

    assert refused.code == 1
    assert (
        refused.err == f"error: cannot approve {approval_id}: {approver} is not one of its approvers (group:sre-leads)"
    )
    assert await state(alice, approval_id) == "pending"
    assert alice.kube.writes == []


async def test_an_approver_named_as_a_user_can_approve(open_gateway: GatewayFactory, policy_opa: PolicyServers) -> None:
    policy = policy_opa({**READWRITE, "approval": {"default": {"approvers": ["user:carol"]}}})
    gateway = await open_gateway(**policy.settings(), mode="readwrite", principal="alice")
    approval_id = await request(gateway)

    assert (await gateway.approvals("approve", approval_id, principal="carol", groups="")).code == 0
    await gateway.ok("scale_deployment", {**SCALE, "approval_id": approval_id})

    assert len(gateway.kube.writes) == 1


async def test_too_few_approvers_keep_the_request_pending(
    open_gateway: GatewayFactory, policy_opa: PolicyServers
) -> None:
    gateway = await open_gateway(
        **policy_opa({**READWRITE, "approval": {"default": {"count": 2}}}).settings(),
        mode="readwrite",
        principal="alice",
    )
    approval_id = await request(gateway)
    first = await gateway.approvals("approve", approval_id)
    assert first.out == f"bob approved {approval_id}: it is pending (1 of 2 approvals)\n"

    pending = await gateway.ok("scale_deployment", {**SCALE, "approval_id": approval_id})
    twice = await gateway.approvals("approve", approval_id)
    second = await gateway.approvals("approve", approval_id, principal="carol")
    result = await gateway.ok("scale_deployment", {**SCALE, "approval_id": approval_id})

    assert (pending["status"], [grant["sub"] for grant in pending["approved_by"]]) == ("pending_approval", ["bob"])
    assert (twice.code, twice.err) == (1, f"error: cannot approve {approval_id}: bob has already approved it")
    assert second.out == f"carol approved {approval_id}: it is approved (2 of 2 approvals)\n"
    assert result["replicas"] == 2
    assert len(gateway.kube.writes) == 1
    approvers = gateway.last_call()["approval"]["approved_by"]
    assert [approver["sub"] for approver in approvers] == ["bob", "carol"]


@pytest.mark.parametrize(
    ("later", "reason"),
    [
        ({"approvers": ["group:platform"]}, "not enough approvals: 0 of 1 from group:platform"),
        ({"count": 2}, "not enough approvals: 1 of 2 from group:sre-leads"),
        ({"ttl_seconds": 60}, "the approval lasts longer than the policy's ttl of 60 seconds"),
        ({"required": True, "kinds": ["user_confirmation"]}, 'approval kind "review" is not accepted here'),
    ],
    ids=["other approvers", "more approvers", "shorter ttl", "other kind"],
)
async def test_the_policy_of_the_moment_decides_whether_an_approval_is_valid(
    alice: Harness, open_gateway: GatewayFactory, policy_opa: PolicyServers, later: dict[str, Any], reason: str
) -> None:
    """OPA, not the gateway, judges the approval: one given under the old rule fails the new one."""
    approval_id = await approved(alice)
    stricter = await beside(alice, open_gateway, policy_opa({**READWRITE, "approval": {"default": later}}))

    message = await stricter.error("scale_deployment", {**SCALE, "approval_id": approval_id})

    assert reason in message
    assert stricter.kube.calls == []
    assert await state(alice, approval_id) == "approved"


async def test_a_denied_request_refuses_the_call(alice: Harness) -> None:
    approval_id = await request(alice)

    denied = await alice.approvals("deny", approval_id, "--reason", "not during the freeze")
    message = await alice.error("scale_deployment", {**SCALE, "approval_id": approval_id})
    late = await alice.approvals("approve", approval_id)

    assert denied.out == f"bob denied {approval_id}: it is denied (0 of 1 approvals)\n"
    assert "the request was denied by bob: not during the freeze" in message
    assert (late.code, late.err) == (1, f"error: cannot approve {approval_id}: it is denied")
    assert alice.kube.writes == []
    assert alice.events(approval_id) == ["approval_requested", "approval_denied"]
    assert await request(alice) != approval_id  # a new request may be made


async def test_the_requester_may_withdraw_their_own_request(alice: Harness) -> None:
    approval_id = await request(alice)

    withdrawn = await alice.approvals("deny", approval_id, principal="alice", groups="sre")

    assert withdrawn.code == 0
    assert await state(alice, approval_id) == "denied"


@pytest.mark.parametrize("approve_first", [False, True], ids=["pending", "approved, unused"])
async def test_a_request_expires_on_its_own(
    open_gateway: GatewayFactory, policy_opa: PolicyServers, approve_first: bool
) -> None:
    gateway = await open_gateway(
        **policy_opa({**READWRITE, "approval": {"default": {"ttl_seconds": 1}}}).settings(), mode="readwrite"
    )
    approval_id = await (approved if approve_first else request)(gateway)

    await asyncio.sleep(1.1)

    assert await state(gateway, approval_id) == "expired"
    message = await gateway.error("scale_deployment", {**SCALE, "approval_id": approval_id})
    late = await gateway.approvals("approve", approval_id)
    assert "the request expired at" in message
    assert "the approval is not approved" in message
    assert (late.code, late.err) == (1, f"error: cannot approve {approval_id}: it is expired")
    assert gateway.kube.writes == []
    assert gateway.events(approval_id).count("approval_expired") == 1
    assert await request(gateway) != approval_id


async def test_a_pending_request_survives_a_gateway_restart(tmp_path: Path, policy_opa: PolicyServers) -> None:
    settings = Settings(
        **policy_opa(READWRITE).settings(), audit_path=tmp_path / "audit.jsonl", mode="readwrite", principal="alice"
    )
    async with open_harness(settings) as before:
        approval_id = await request(before)
        assert before.events(approval_id) == ["approval_requested"]

    async with open_harness(settings) as after:
        assert (await after.approvals("approve", approval_id)).code == 0
        await after.ok("scale_deployment", {**SCALE, "approval_id": approval_id})
        assert len(after.kube.writes) == 1
        assert after.events(approval_id) == ["approval_approved", "approval_used", "write_intent"]


# --------------------------------------------------------------------------------------------
# Wait
# --------------------------------------------------------------------------------------------

Progress = list[tuple[float, float | None, str | None]]


def progress_recorder() -> tuple[Progress, Callable[[float, float | None, str | None], Awaitable[None]]]:
    seen: Progress = []

    async def record(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total, message))

    return seen, record


async def approve_when_listed(gateway: Harness, *, verdict: str = "approve") -> str:
    """What an approver does: find the pending request with the CLI, then decide it."""
    while True:
        await asyncio.sleep(0.3)
        listed = await gateway.approvals("list")
        if listed.out.strip() != "no approval requests":
            approval_id = listed.out.split()[0]
            assert (await gateway.approvals(verdict, approval_id)).code == 0
            return approval_id


async def test_a_waiting_write_runs_as_soon_as_it_is_approved_with_progress(alice: Harness) -> None:
    seen, on_progress = progress_recorder()
    started = asyncio.get_running_loop().time()

    result, approval_id = await asyncio.gather(
        alice.client.call_tool(
            "scale_deployment", {**SCALE, "wait_seconds": 60}, progress_handler=on_progress, raise_on_error=False
        ),
        approve_when_listed(alice),
    )

    assert not result.is_error, result.content
    assert asyncio.get_running_loop().time() - started < 10
    assert len(alice.kube.writes) == 1
    assert alice.last_call()["approval_id"] == approval_id
    assert seen
    assert all(total == 60 for _, total, _ in seen)
    assert all(f"waiting for approval {approval_id}: 0 of 1 approvals" == message for _, _, message in seen)
    assert [progress for progress, _, _ in seen] == sorted(progress for progress, _, _ in seen)


async def test_a_waiting_write_is_refused_when_denied(alice: Harness) -> None:
    result, approval_id = await asyncio.gather(
        alice.call("scale_deployment", {**SCALE, "wait_seconds": 60}), approve_when_listed(alice, verdict="deny")
    )

    assert result.is_error
    assert f"refused: approval {approval_id} does not allow this call: the request was denied by bob" in str(
        result.content
    )
    assert alice.kube.writes == []


async def test_a_waiting_write_answers_pending_when_its_time_is_up(alice: Harness) -> None:
    seen, on_progress = progress_recorder()
    approval_id = await request(alice)

    result = await alice.client.call_tool(
        "scale_deployment", {**SCALE, "approval_id": approval_id, "wait_seconds": 1}, progress_handler=on_progress
    )

    assert result.structured_content is not None
    assert (result.structured_content["status"], result.structured_content["approval_id"]) == (
        "pending_approval",
        approval_id,
    )
    assert seen[0][0] == 0
    assert seen[-1][:2] == (1, 1)
    assert alice.kube.writes == []


async def test_wait_seconds_is_bounded_by_the_setting(open_gateway: GatewayFactory, policy_opa: PolicyServers) -> None:
    gateway = await open_gateway(**policy_opa(READWRITE).settings(), mode="readwrite", approvals_max_wait=5)

    message = await gateway.error("scale_deployment", {**SCALE, "wait_seconds": 6})

    assert message == "invalid arguments: wait_seconds: Input should be less than or equal to 5"
    assert gateway.kube.calls == []


# --------------------------------------------------------------------------------------------
# Confirmation by the user, where the policy accepts it (staging)
# --------------------------------------------------------------------------------------------

Handler = Callable[..., Awaitable[Any]]


def answering(answer: Any, questions: list[str]) -> Handler:
    async def handler(message: str, response_type: Any, params: Any, context: Any) -> Any:
        questions.append(message)
        return answer

    return handler


@pytest.mark.parametrize("mode", ["auto", "legacy"], ids=["2026-07-28: input-required", "handshake: elicitation"])
async def test_a_confirmation_by_the_user_runs_the_write_in_staging(alice: Harness, mode: str) -> None:
    questions: list[str] = []
    async with Client(alice.gateway.server, mode=mode, elicitation_handler=answering({"value": True}, questions)) as c:
        result = await c.call_tool("scale_deployment", IN_STAGING, raise_on_error=False)

    assert not result.is_error, result.content
    [question] = questions
    assert question.startswith(
        "Confirm scale_deployment(deployment_name='web', replicas=5, namespace='staging', dry_run=False)"
    )
    assert "Preview: no change to the object's spec." in question
    assert len(alice.kube.writes) == 1
    record = alice.last_call()
    assert record["approval"] == {"kind": "user_confirmation", "approved_by": [{"sub": "alice", "groups": ["sre"]}]}
    approval_id = record["approval_id"]
    assert alice.events(approval_id) == ["approval_requested", "approval_approved", "approval_used", "write_intent"]


@pytest.mark.parametrize("mode", ["auto", "legacy"])
@pytest.mark.parametrize("answer", [ElicitResult(action="decline"), {"value": False}], ids=["decline", "no"])
async def test_a_user_who_declines_denies_the_request(alice: Harness, mode: str, answer: Any) -> None:
    async with Client(alice.gateway.server, mode=mode, elicitation_handler=answering(answer, [])) as client:
        result = await client.call_tool("scale_deployment", IN_STAGING, raise_on_error=False)

    assert result.is_error
    assert "the request was denied by alice: declined at the MCP client" in str(result.content)
    assert alice.kube.writes == []
    assert alice.events(alice.last_call()["approval_id"]) == ["approval_requested", "approval_denied"]


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_a_user_who_dismisses_the_question_leaves_the_request_pending(alice: Harness, mode: str) -> None:
    handler = answering(ElicitResult(action="cancel"), [])
    async with Client(alice.gateway.server, mode=mode, elicitation_handler=handler) as client:
        result = await client.call_tool("scale_deployment", IN_STAGING)

    assert result.structured_content is not None
    assert result.structured_content["status"] == "pending_approval"
    assert alice.kube.writes == []


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_a_client_without_elicitation_gets_the_pending_request(alice: Harness, mode: str) -> None:
    async with Client(alice.gateway.server, mode=mode) as client:
        result = await client.call_tool("scale_deployment", IN_STAGING)

    assert result.structured_content is not None
    assert result.structured_content["status"] == "pending_approval"
    assert result.structured_content["kinds"] == ["review", "user_confirmation"]
    assert alice.kube.writes == []


async def test_no_confirmation_is_asked_where_the_policy_wants_a_review(alice: Harness) -> None:
    questions: list[str] = []
    async with Client(alice.gateway.server, elicitation_handler=answering({"value": True}, questions)) as client:
        result = await client.call_tool("scale_deployment", SCALE)

    assert questions == []
    assert result.structured_content is not None
    assert result.structured_content["status"] == "pending_approval"
    assert alice.kube.writes == []


async def test_a_client_that_never_answers_gets_the_pending_request(
    open_gateway: GatewayFactory, policy_opa: PolicyServers
) -> None:
    gateway = await open_gateway(
        **policy_opa(READWRITE).settings(), mode="readwrite", principal="alice", approvals_confirm_timeout=0.5
    )
    never = asyncio.Event()

    async def silent(message: str, response_type: Any, params: Any, context: Any) -> Any:
        await never.wait()

    async with Client(gateway.gateway.server, mode="legacy", elicitation_handler=silent) as client:
        result = await asyncio.wait_for(client.call_tool("scale_deployment", IN_STAGING), timeout=10)
        never.set()

    assert result.structured_content is not None
    assert result.structured_content["status"] == "pending_approval"
    assert gateway.kube.writes == []


async def test_the_same_call_after_approval_says_how_to_run_it(alice: Harness) -> None:
    approval_id = await approved(alice)

    answer = await alice.ok("scale_deployment", SCALE)

    assert (answer["status"], answer["approval_id"]) == ("approved", approval_id)
    assert answer["message"] == f"approval {approval_id} is approved and not used yet"
    assert answer["next_step"].startswith(
        f"Run it: call scale_deployment again with the same arguments and approval_id={approval_id!r}"
    )
    assert alice.kube.writes == []


async def test_a_pending_approval_named_where_none_is_needed_is_left_alone(
    open_gateway: GatewayFactory, policy_opa: PolicyServers
) -> None:
    """Staging stops needing approvals: the write runs, and the pending request stays pending."""
    approval_id = await request(
        await open_gateway(**policy_opa(READWRITE).settings(), mode="readwrite", principal="alice"), IN_STAGING
    )
    exempt = {**READWRITE, "approval": {"namespaces": {"staging": {"required": False}}}}
    gateway = await open_gateway(**policy_opa(exempt).settings(), mode="readwrite", principal="alice")

    await gateway.ok("scale_deployment", {**IN_STAGING, "approval_id": approval_id})

    assert len(gateway.kube.writes) == 1
    assert await state(gateway, approval_id) == "pending"
