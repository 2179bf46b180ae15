"""What the approval tools answer, and what a write answers while it waits for an approval.

Models of `Approval.view()` and of the flow's pending answer, for the tools' `outputSchema`
(`gateway.tools.outputs` says how these schemas are written). A write tool's schema is its own
result or `ApprovalPending`: the guard answers a write that needs an approval with the request
instead of running it.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from gateway.approvals.model import Kind, State
from gateway.tools.outputs import Shape


class GrantView(Shape):
    sub: str
    groups: list[str]
    at: str = Field(description="When they decided (RFC 3339 UTC).")
    reason: str | None


class Change(Shape):
    field: str = Field(description="The changed field, e.g. `spec.replicas`.")
    before: Any
    after: Any


class Preview(Shape):
    """What the write would change, from a server-side dry run."""

    changes: list[Change]
    summary: list[str] = Field(description="One line per change, e.g. `spec.replicas: 3 → 5`, or why there is none.")


class ApprovalView(Shape):
    """One approval request: the exact call it is for, its state, and who decided it."""

    approval_id: str
    state: State
    kind: Kind = Field(description="`review` by an approver, or `user_confirmation` at the MCP client.")
    tool: str
    arguments: dict[str, Any]
    cluster: str
    requested_by: str
    approvers: list[str] = Field(description="Who may approve, as `user:NAME` or `group:NAME`.")
    count: int = Field(ge=0, description="How many approvals it needs.")
    kinds: list[str] = Field(description="The kinds of approval the policy accepts for it.")
    approved_by: list[GrantView]
    denied_by: GrantView | None
    created_at: str
    expires_at: str
    used_at: str | None
    action_digest: str
    preview: Preview


class ApprovalList(Shape):
    requested_by: str
    approvals: list[ApprovalView] = Field(description="Newest first.")


class ApprovalPending(ApprovalView):
    """A write that did not run: it waits for this approval request, or has it and is to be called again."""

    status: Literal["pending_approval", "approved"]
    message: str
    next_step: str = Field(description="What to do next: who approves, and how to call the tool again.")
