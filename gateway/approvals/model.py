"""An approval request and the people who decided it.

`Approval.document()` is `input.approval` of the policy contract, the part OPA judges;
`Approval.view()` is what the agent (`get_approval`, the pending result) and the operator (the CLI)
read. Times are seconds since the epoch here and RFC 3339 UTC strings in both shapes.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

State = Literal["pending", "approved", "denied", "expired", "used"]
Kind = Literal["review", "user_confirmation"]
OPEN_STATES: tuple[State, ...] = ("pending", "approved")
"""A request in these states can still come to run a call; at most one per requester and action."""


def new_approval_id() -> str:
    """192 random bits, URL-safe: an id cannot be guessed, only handed over.

    Never starting with '-', so that a command line does not take it for an option.
    """
    while (candidate := secrets.token_urlsafe(24)).startswith("-"):
        pass
    return candidate


def rfc3339(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True, slots=True, kw_only=True)
class Approver:
    """Who decides: a subject and its groups (the CLI's configured principal, or an HTTP caller's token)."""

    sub: str
    groups: tuple[str, ...] = ()

    def matches(self, rule: str) -> bool:
        """Whether `rule`, written as the policy names approvers (`user:NAME`, `group:NAME`), names this person."""
        kind, _, name = rule.partition(":")
        return (kind == "user" and name == self.sub) or (kind == "group" and name in self.groups)


@dataclass(frozen=True, slots=True, kw_only=True)
class Grant:
    """One person's verdict on a request, with their groups as they were when they gave it."""

    sub: str
    groups: tuple[str, ...]
    at: float
    reason: str | None = None

    def view(self) -> dict[str, Any]:
        return {"sub": self.sub, "groups": list(self.groups), "at": rfc3339(self.at), "reason": self.reason}


@dataclass(frozen=True, slots=True, kw_only=True)
class Approval:
    """A request to run one exact action, bound to its digest, requester and cluster.

    `approvers`, `count` and `kinds` are what the policy's decision named when the request was
    made; who may decide is checked against them, and OPA checks the approval again, against the
    policy of the moment, when a call carries it.
    """

    id: str
    state: State
    kind: Kind
    action_digest: str
    requested_by: str
    cluster: str
    tool: str
    arguments: dict[str, Any]
    approvers: tuple[str, ...]
    count: int
    kinds: tuple[str, ...]
    created_at: float
    expires_at: float
    preview: dict[str, Any] = field(default_factory=dict)
    approved_by: tuple[Grant, ...] = ()
    denied_by: Grant | None = None
    used_at: float | None = None

    @property
    def tally(self) -> str:
        """How far the request is from approved, e.g. `1 of 2 approvals`."""
        return f"{len(self.approved_by)} of {self.count} approvals"

    def involves(self, person: Approver) -> bool:
        """Whether `person` requested it or is among its approvers: who may read it to decide it."""
        return person.sub == self.requested_by or any(person.matches(rule) for rule in self.approvers)

    def document(self) -> dict[str, Any]:
        """`input.approval`: the README's contract shape, what the policy validates."""
        return {
            "id": self.id,
            "kind": self.kind,
            "state": self.state,
            "requested_by": self.requested_by,
            "approved_by": [{"sub": grant.sub, "groups": list(grant.groups)} for grant in self.approved_by],
            "created_at": rfc3339(self.created_at),
            "expires_at": rfc3339(self.expires_at),
            "action_digest": self.action_digest,
        }

    def view(self) -> dict[str, Any]:
        """Everything a person deciding, or an agent waiting, needs to know about the request."""
        return {
            "approval_id": self.id,
            "state": self.state,
            "kind": self.kind,
            "tool": self.tool,
            "arguments": self.arguments,
            "cluster": self.cluster,
            "requested_by": self.requested_by,
            "approvers": list(self.approvers),
            "count": self.count,
            "kinds": list(self.kinds),
            "approved_by": [grant.view() for grant in self.approved_by],
            "denied_by": self.denied_by.view() if self.denied_by else None,
            "created_at": rfc3339(self.created_at),
            "expires_at": rfc3339(self.expires_at),
            "used_at": rfc3339(self.used_at) if self.used_at is not None else None,
            "action_digest": self.action_digest,
            "preview": self.preview,
        }
