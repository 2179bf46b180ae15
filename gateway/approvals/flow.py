"""The guard's hook for calls that need, or name, a human approval.

The guard hands over a call's input document and `settle` asks OPA, as often as the approval
protocol needs, and says how the call ends:

- OPA allows it: it runs; if it names an approval bound to it, that approval is used up first, in
  one conditional update, so of any number of concurrent calls naming it exactly one runs.
- OPA denies it outright: the guard denies it with the reasons.
- OPA wants an approval the call does not validly carry: a pending request bound to the action
  digest, the requester and the cluster is made (or the open one found), with a dry-run preview
  of the change, and the agent gets a normal result saying who may approve it and what to do
  next. Where the policy accepts a confirmation by the user, a client that can show one is asked
  first (`ctx.elicit` on handshake-era protocols, an input-required result on 2026-07-28); a call
  with `wait_seconds` waits for the decision, with progress notifications, and runs once approved.
- The call names an approval that does not let it run (another action, used, denied, expired,
  someone else's): it is refused with OPA's reasons, and no new request is made.

`approval_id` and `wait_seconds` are accepted by every write tool but are not its arguments: they
say how the call is carried out, not what it does, so they are not part of the action digest.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import mcp_types as mt
from fastmcp.server.context import Context
from fastmcp.server.elicitation import AcceptedElicitation, handle_elicit_accept, parse_elicit_response_type
from fastmcp.tools.base import InputRequiredToolResult, ToolResult
from mcp.shared.exceptions import MCPError
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import ConfigDict, Field, create_model

from gateway.approvals.model import OPEN_STATES, Approval, Approver, new_approval_id, rfc3339
from gateway.approvals.service import ApprovalService
from gateway.approvals.tools import CALLER
from gateway.errors import ApprovalRefused, approval_reasons
from gateway.policy import Decision
from gateway.validation import ApprovalId, validate_arguments

log = logging.getLogger(__name__)

Decide = Callable[[dict[str, Any]], Awaitable[Decision]]
Preview = Callable[[str, dict[str, Any]], Awaitable[dict[str, Any]]]
Answer = Literal["confirm", "decline", "dismiss"]

CARRIED = ("approval_id", "wait_seconds")
CarriedApprovalId = Annotated[
    ApprovalId | None, Field(description="The approved request to run this call under; omit it to ask for one.")
]
"""A write's `approval_id`: described on the argument itself, since it may be null."""
CONFIRMATION = "confirm"
"""The key of the confirmation in an input-required result and in the client's responses."""
_TITLE = "Run this change?"
_YES_NO = parse_elicit_response_type(bool, response_title=_TITLE)


@dataclass(frozen=True, slots=True)
class Carried:
    """How a write is to be carried out: under which approval, waiting how long for it."""

    approval_id: str | None = None
    wait_seconds: int = 0

    @property
    def audit(self) -> dict[str, Any]:
        """The call's audit record names the approval it carries, whatever becomes of the call."""
        return {"approval_id": self.approval_id} if self.approval_id else {}


@dataclass(frozen=True, slots=True, kw_only=True)
class Settled:
    """How a call ends: run (under `approval`, if one was used up), or answered with `answer`."""

    decision: Decision
    approval: Approval | None = None
    answer: ToolResult | None = None
    outcome: str | None = None
    """The audit outcome of `answer`: `approval_pending` or `confirmation_requested`."""
    approval_id: str | None = None

    @property
    def audit(self) -> dict[str, Any]:
        """The approval's part of the call's audit record."""
        if self.approval is not None:
            approved_by = [{"sub": grant.sub, "groups": list(grant.groups)} for grant in self.approval.approved_by]
            return {
                "approval_id": self.approval.id,
                "approval": {"kind": self.approval.kind, "approved_by": approved_by},
            }
        return {"approval_id": self.approval_id} if self.approval_id else {}


class ApprovalFlow:
    """Requests, waits for, confirms and uses approvals on behalf of the guard."""

    def __init__(
        self,
        *,
        service: ApprovalService,
        decide: Decide,
        preview: Preview,
        max_wait: int,
        confirm_timeout: float,
        poll_interval: float = 1.0,
    ) -> None:
        self.service = service
        self.decide = decide
        self.preview = preview
        self.max_wait = max_wait
        self.confirm_timeout = confirm_timeout
        self.poll_interval = poll_interval
        self._carried = create_model(
            "carried_arguments",
            __config__=ConfigDict(extra="forbid"),
            approval_id=(CarriedApprovalId, None),
            wait_seconds=(
                int,
                Field(0, ge=0, le=max_wait, description="Seconds to wait for the approval's decision, then run."),
            ),
        )
        self.carried_schema: dict[str, Any] = self._carried.model_json_schema()["properties"]
        """The JSON Schema properties every write tool adds to its own."""

    def split(self, *, write: bool, raw: dict[str, Any]) -> tuple[dict[str, Any], Carried]:
        """Separate a write's `approval_id`/`wait_seconds` from its own arguments, and check them."""
        if not write:
            return raw, Carried()
        carried = validate_arguments(self._carried, {name: raw[name] for name in CARRIED if name in raw})
        return {name: value for name, value in raw.items() if name not in CARRIED}, Carried(**carried)

    async def settle(self, document: dict[str, Any], carried: Carried, context: Context | None) -> Settled:
        """Ask OPA about the call (with the approval it names) and say how it ends; see the module doc."""
        CALLER.set(document["principal"]["sub"])
        named_id = carried.approval_id or document["arguments"].get("approval_id")
        named = await self.service.get(named_id) if named_id else None
        decision = await self._decide(document, named)
        if decision.allow or not decision.approval.required or not document["action"]["write"]:
            return await self._run(document, decision, named)
        if named is not None and not self._awaits(named, document):
            closed = [] if named.state in OPEN_STATES else [_closed(named)]
            raise ApprovalRefused(named.id, [*decision.reasons, *closed])
        request = named or await self._request(document, decision)
        return await self._obtain(document, decision, request, carried, context)

    async def _decide(self, document: dict[str, Any], approval: Approval | None) -> Decision:
        return await self.decide({**document, "approval": approval.document() if approval else None})

    @staticmethod
    def _binds(approval: Approval, document: dict[str, Any]) -> bool:
        """The approval is this caller's, for this exact action on this cluster."""
        return bool(
            approval.action_digest == document["action_digest"]
            and approval.requested_by == document["principal"]["sub"]
        )

    def _awaits(self, approval: Approval, document: dict[str, Any]) -> bool:
        """The approval is this call's own request, still waiting for its decision."""
        return approval.state == "pending" and self._binds(approval, document)

    async def _run(self, document: dict[str, Any], decision: Decision, named: Approval | None) -> Settled:
        """Run the call; an approved approval bound to it is used up first (one caller wins)."""
        if not (decision.allow and named is not None and named.state == "approved" and self._binds(named, document)):
            return Settled(decision=decision)
        if not await self.service.consume(named, request_id=document["request"]["id"]):
            raise ApprovalRefused(named.id, [_closed(await self.service.get(named.id))])
        return Settled(decision=decision, approval=named)

    async def _request(self, document: dict[str, Any], decision: Decision) -> Approval:
        """The caller's open request for this action, or a new one with a preview of the change."""
        sub, digest = document["principal"]["sub"], document["action_digest"]
        found = await self.service.open_request(requested_by=sub, action_digest=digest)
        if found is not None:
            return found
        tool, arguments = document["tool"]["name"], document["arguments"]
        preview = await self.preview(tool, arguments)
        # Whole milliseconds, as input.approval writes times: its lifetime is exactly the ttl there too.
        now = math.floor(self.service.clock() * 1000) / 1000
        requirement = decision.approval
        request = Approval(
            id=new_approval_id(),
            state="pending",
            kind="review",
            action_digest=digest,
            requested_by=sub,
            cluster=document["gateway"]["cluster"],
            tool=tool,
            arguments=arguments,
            approvers=tuple(requirement.approvers),
            count=requirement.count,
            kinds=tuple(requirement.kinds),
            created_at=now,
            expires_at=now + requirement.ttl_seconds,
            preview=preview,
        )
        return await self.service.request(request, request_id=document["request"]["id"])

    async def _obtain(
        self,
        document: dict[str, Any],
        decision: Decision,
        request: Approval,
        carried: Carried,
        context: Context | None,
    ) -> Settled:
        """Confirm, wait for, or describe the request; run the call if it is approved here and now."""
        run_when_approved = carried.wait_seconds > 0
        if request.state == "pending" and _confirmable(decision, request):
            asked = await self._confirm(request, document["principal"], context)
            if isinstance(asked, ToolResult):
                return Settled(
                    decision=decision, answer=asked, outcome="confirmation_requested", approval_id=request.id
                )
            run_when_approved = run_when_approved or asked.state == "approved"
            request = asked
        if request.state == "pending" and carried.wait_seconds:
            request = await self._wait(request, carried.wait_seconds, context)
        if request.state == "approved" and run_when_approved:
            decision = await self._decide(document, request)
            if not decision.allow:
                raise ApprovalRefused(request.id, decision.reasons)
            return await self._run(document, decision, request)
        if request.state not in OPEN_STATES:
            raise ApprovalRefused(request.id, [_closed(request)])
        return Settled(
            decision=decision,
            answer=ToolResult(structured_content=self._pending(request, decision)),
            outcome="approval_pending",
            approval_id=request.id,
        )

    async def _confirm(
        self, request: Approval, who: dict[str, Any], context: Context | None
    ) -> Approval | InputRequiredToolResult:
        """Ask the person at the client to confirm, where the client can show the question."""
        if context is None or not _can_elicit(context):
            return request
        question = _question(request)
        if context.session.protocol_version in MODERN_PROTOCOL_VERSIONS:
            answer = _answer_in_retry(request, context)
            if answer is None:
                form = mt.ElicitRequestFormParams(message=question, requested_schema=_YES_NO.schema)
                ask = mt.InputRequiredResult(
                    input_requests={CONFIRMATION: mt.ElicitRequest(params=form)}, request_state=request.id
                )
                return InputRequiredToolResult(ask)
        elif context.session.can_send_request:
            answer = await self._elicit(question, context)
        else:
            return request
        approver = Approver(sub=who["sub"], groups=tuple(who["groups"]))
        if answer == "confirm":
            return await self.service.decide(
                request.id, approver, "approve", "confirmed at the MCP client", kind="user_confirmation"
            )
        if answer == "decline":
            return await self.service.decide(
                request.id, approver, "deny", "declined at the MCP client", kind="user_confirmation"
            )
        return request

    async def _elicit(self, question: str, context: Context) -> Answer:
        """A server→client request may never come back (stateless HTTP): bounded by a timeout."""
        try:
            result = await asyncio.wait_for(context.elicit(question, bool, response_title=_TITLE), self.confirm_timeout)
        except (TimeoutError, MCPError, ValueError) as exc:
            log.info("no confirmation from the client: %s", exc or type(exc).__name__)
            return "dismiss"
        if isinstance(result, AcceptedElicitation):
            return "confirm" if result.data is True else "decline"
        return "decline" if result.action == "decline" else "dismiss"

    async def _wait(self, request: Approval, seconds: int, context: Context | None) -> Approval:
        """Poll the store until the request is decided or `seconds` pass, reporting progress."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while True:
            remaining = deadline - loop.time()
            if context is not None:
                approvals = f"{len(request.approved_by)} of {request.count} approvals"
                waited = round(seconds - max(remaining, 0), 3)
                await context.report_progress(waited, seconds, f"waiting for approval {request.id}: {approvals}")
            if remaining <= 0:
                return request
            await asyncio.sleep(min(self.poll_interval, remaining))
            request = await self.service.get(request.id)
            if request.state != "pending":
                return request

    def _pending(self, request: Approval, decision: Decision) -> dict[str, Any]:
        """The agent's answer while the request waits for, or has, its approval."""
        call = f"call {request.tool} again with the same arguments and approval_id={request.id!r}"
        if request.state == "approved":
            message = f"approval {request.id} is approved and not used yet"
            next_step = f"Run it: {call} before {rfc3339(request.expires_at)}; it runs once."
        else:
            requirement = decision.approval
            reasons = approval_reasons(decision.reasons, approvers=requirement.approvers, count=requirement.count)
            message = "; ".join(reasons)
            who = " or ".join(request.approvers) or "an approver"
            waiting = f" (add wait_seconds, at most {self.max_wait}, to wait for the decision)" if self.max_wait else ""
            next_step = (
                f"Ask {who} to approve request {request.id} (`k8s-mcp-gateway approvals approve {request.id}`). "
                f"Then {call}{waiting}, or call get_approval(approval_id={request.id!r}) to check it. "
                f"It expires at {rfc3339(request.expires_at)}."
            )
        status = "pending_approval" if request.state == "pending" else "approved"
        return {"status": status, "message": message, **request.view(), "next_step": next_step}


def _confirmable(decision: Decision, request: Approval) -> bool:
    """The policy accepts, now and when the request was made, a confirmation by the user."""
    return "user_confirmation" in decision.approval.kinds and "user_confirmation" in request.kinds


def _can_elicit(context: Context) -> bool:
    wanted = mt.ClientCapabilities(elicitation=mt.ElicitationCapability())
    try:
        return context.session.check_client_capability(wanted)
    except RuntimeError:  # no session: not inside an MCP request
        return False


def _answer_in_retry(request: Approval, context: Context) -> Answer | None:
    """The client's answer to our question on a 2026-07-28 retry; None when it was not asked yet."""
    if context.request_state != request.id:
        return None
    response = (context.input_responses or {}).get(CONFIRMATION)
    if not isinstance(response, mt.ElicitResult) or response.action == "cancel":
        return "dismiss"
    if response.action == "decline":
        return "decline"
    try:
        accepted = handle_elicit_accept(_YES_NO, response.content)
    except ValueError:
        return "dismiss"
    return "confirm" if accepted.data is True else "decline"


def _question(request: Approval) -> str:
    arguments = ", ".join(f"{name}={value!r}" for name, value in request.arguments.items())
    changes = "; ".join(request.preview.get("summary", [])) or "no preview"
    return (
        f"Confirm {request.tool}({arguments}) on cluster {request.cluster}? "
        f"Preview: {changes}. Approval request {request.id}, expires {rfc3339(request.expires_at)}."
    )


def _closed(request: Approval) -> str:
    """Why a request that is denied, expired or used can no longer run a call."""
    if request.state == "denied" and request.denied_by is not None:
        because = f": {request.denied_by.reason}" if request.denied_by.reason else ""
        return f"the request was denied by {request.denied_by.sub}{because}"
    if request.state == "expired":
        return f"the request expired at {rfc3339(request.expires_at)}"
    return "the approval was already used: an approval runs one call, once"
