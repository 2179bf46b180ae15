"""The agent's approval tools: read one of its approval requests, or list them.

They are catalog tools like the Kubernetes ones, so OPA decides every call: their action is a
read of `approvals` in the gateway's own API group, and `get_approval` sends the request it names
in `input.approval`, so the policy can let each principal read only its own. The first parameter
is the `ApprovalService` (injected by the server), as the Kubernetes tools take the `Kube`.
"""

from contextvars import ContextVar
from typing import Any

from gateway.approvals.service import ApprovalService
from gateway.errors import GatewayError
from gateway.validation import ApprovalId

GATEWAY_GROUP = "k8s-mcp-gateway"
"""The API group of the gateway's own resources in `input.action`, beside Kubernetes' groups."""

CALLER: ContextVar[str | None] = ContextVar("approval_caller", default=None)
"""Who the guard decided this call for; set by the approval flow before a tool runs."""


async def get_approval(approvals: ApprovalService, approval_id: ApprovalId) -> dict[str, Any]:
    """Show one of your approval requests: its state, who approved it, when it expires and the change it previews."""
    return (await approvals.get(approval_id)).view()


async def list_my_approvals(approvals: ApprovalService) -> dict[str, Any]:
    """List your approval requests, newest first, with their state and the call each one is for."""
    caller = CALLER.get()
    if caller is None:
        raise GatewayError("internal error: no caller for list_my_approvals")
    return {"requested_by": caller, "approvals": [a.view() for a in await approvals.list(requested_by=caller)]}
