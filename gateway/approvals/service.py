"""Deciding approval requests: who may approve or deny one, and the audit record of every step.

The operator's CLI calls `decide` with the configured local principal, the HTTP API
(`gateway.approvals.http`) with the verified caller of the request, both as the `Approver`. The
approval flow calls the other steps a tool call takes: request, confirmation at the client, use.
Every state change is exactly one audit record naming the approval; expiries are recorded by the
first operation that finds them due. A request, a decision or a use is refused before the state
changes when the audit sink cannot take a record (`AuditUnavailable`): no unrecorded approvals.

Who may decide, checked against what the policy's decision named when the request was made:
an approval (`review`) needs a listed approver who is not the requester; a `user_confirmation`
is given by the requester, where the request accepts that kind; a denial comes from a listed
approver or from the requester, who withdraws the request. OPA checks the approval again, against
the policy of the moment, when a call carries it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from typing import Any, Literal, Protocol

from gateway.approvals.model import OPEN_STATES, Approval, Approver, Grant, Kind, State, rfc3339
from gateway.approvals.store import ApprovalStore, Conflict
from gateway.errors import AuditUnavailable, CannotDecide, DecisionConflict, UnknownApproval

Verdict = Literal["approve", "deny"]


class Recorder(Protocol):
    """The audit trail, as this module uses it."""

    async def ready(self) -> None: ...

    async def record(self, entry: dict[str, Any]) -> None: ...


def _why_not(approval: Approval, approver: Approver, verdict: Verdict, kind: Kind) -> str | None:
    """Why `approver` may not give this verdict on the pending `approval`, or None when they may."""
    if kind == "user_confirmation":
        if approver.sub != approval.requested_by:
            return "only the requester confirms their own request"
        if "user_confirmation" not in approval.kinds:
            return "the policy does not accept a confirmation by the requester for this action"
        return None
    if approver.sub == approval.requested_by:
        return None if verdict == "deny" else "the requester cannot approve their own request"
    if not any(approver.matches(rule) for rule in approval.approvers):
        listed = ", ".join(approval.approvers) or "none is configured"
        return f"{approver.sub} is not one of its approvers ({listed})"
    return None


class ApprovalService:
    """Approval requests as people and the gateway act on them, over any `ApprovalStore`."""

    def __init__(self, *, store: ApprovalStore, audit: Recorder, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.audit = audit
        self.clock = clock

    async def sweep(self) -> list[Approval]:
        """Expire every open request past its expiry, one audit record each."""
        expired = await self.store.expire(now=self.clock())
        for approval in expired:
            await self._record("approval_expired", approval)
        return expired

    async def get(self, approval_id: str) -> Approval:
        await self.sweep()
        found = await self.store.get(approval_id)
        if found is None:
            raise UnknownApproval(approval_id)
        return found

    async def list(self, *, requested_by: str | None = None, states: Collection[State] = ()) -> list[Approval]:
        """Requests, newest first: all of them, or one requester's, or those in `states`."""
        await self.sweep()
        return await self.store.find(requested_by=requested_by, states=states)

    async def open_request(self, *, requested_by: str, action_digest: str) -> Approval | None:
        """The requester's open request for this exact action, if there is one."""
        await self.sweep()
        found = await self.store.find(requested_by=requested_by, action_digest=action_digest, states=OPEN_STATES)
        return found[0] if found else None

    async def request(self, approval: Approval, *, request_id: str) -> Approval:
        """Store a new request, or return the requester's open one for the same action."""
        await self._recordable("no request was made")
        stored, created = await self.store.open(approval, now=self.clock())
        if created:
            await self._record(
                "approval_requested",
                stored,
                request_id=request_id,
                arguments=stored.arguments,
                action_digest=stored.action_digest,
                approvers=list(stored.approvers),
                count=stored.count,
                kinds=list(stored.kinds),
                expires_at=rfc3339(stored.expires_at),
            )
        return stored

    async def decide(
        self,
        approval_id: str,
        approver: Approver,
        verdict: Verdict,
        reason: str | None = None,
        *,
        kind: Kind = "review",
    ) -> Approval:
        """Approve or deny `approval_id` as `approver`; raise `CannotDecide` saying why not.

        `DecisionConflict` when the request's state refuses anyone (it is not pending, or this
        person approved it already), `CannotDecide` when its rules refuse this person.
        """
        current = await self.get(approval_id)
        if current.state != "pending":
            raise DecisionConflict(f"cannot {verdict} {approval_id}: it is {current.state}")
        problem = _why_not(current, approver, verdict, kind)
        if problem is not None:
            raise CannotDecide(f"cannot {verdict} {approval_id}: {problem}")
        await self._recordable(f"{approval_id} is still {current.state}")
        grant = Grant(sub=approver.sub, groups=approver.groups, at=self.clock(), reason=reason)
        try:
            if verdict == "approve":
                decided = await self.store.grant(approval_id, grant, kind=kind, now=grant.at)
            else:
                decided = await self.store.deny(approval_id, grant, now=grant.at)
        except Conflict as conflict:
            raise DecisionConflict(f"cannot {verdict} {approval_id}: {conflict.why}") from None
        event = "approval_approved" if verdict == "approve" else "approval_denied"
        await self._record(event, decided, by=approver.sub, groups=list(approver.groups), reason=reason)
        return decided

    async def consume(self, approval: Approval, *, request_id: str) -> bool:
        """Use `approval` for one call; true for exactly one caller, however many try at once."""
        await self._recordable(f"{approval.id} was not used")
        used = await self.store.consume(approval.id, now=self.clock())
        if used:
            await self._record("approval_used", approval, request_id=request_id, state="used")
        return used

    async def _recordable(self, unchanged: str) -> None:
        """Refuse the step about to change a request's state while its record could not be written."""
        try:
            await self.audit.ready()
        except AuditUnavailable:
            raise AuditUnavailable(consequence=unchanged) from None

    async def _record(self, event: str, approval: Approval, **details: Any) -> None:
        await self.audit.record(
            {
                "event": event,
                "time": rfc3339(self.clock()),
                "approval_id": approval.id,
                "state": approval.state,
                "kind": approval.kind,
                "tool": approval.tool,
                "cluster": approval.cluster,
                "requested_by": approval.requested_by,
                **details,
            }
        )
