"""What can go wrong in a guarded call, as the agent sees it.

Every error the gateway raises at the agent is a `GatewayError`, which is FastMCP's `ToolError`:
FastMCP turns it into an MCP tool result with `isError: true` and the message unmasked. Messages
are short and actionable; details (stack traces, OPA and Kubernetes responses) go to the log.

    GatewayError (fastmcp ToolError)
    ├── InvalidArguments     an argument breaks a rule; names the field and the rule
    ├── UnknownTool          the tool is not in the catalog
    ├── GatewayDenied        the gateway's own switches (mode, namespaces) said no, whatever the policy says
    ├── Denied               the policy said no; carries its reasons
    │   └── ApprovalRequired the policy wants a human approval first
    ├── PolicyUnavailable    OPA could not give a well-formed answer: fail closed
    ├── AuditUnavailable     no audit record can be written: the call does not run (or a read is withheld)
    ├── KubeError            the Kubernetes API refused or failed; carries the HTTP status
    ├── ApprovalRefused      the approval a call names does not let it run (invalid, used, denied)
    ├── UnknownApproval      no approval request has the id given
    ├── CannotDecide         this person cannot approve or deny this request
    │   └── DecisionConflict not in this state: already decided, expired, or approved by them
    └── ApprovalStoreUnavailable  the approval store could not be read or written
"""

from __future__ import annotations

from collections.abc import Sequence

from fastmcp.exceptions import ToolError


class GatewayError(ToolError):
    """Base of every error shown to the agent."""

    outcome = "error"


class InvalidArguments(GatewayError):
    """Arguments failed validation; `problems` holds one `field: rule` line each."""

    outcome = "invalid"

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("invalid arguments: " + "; ".join(self.problems))


class UnknownTool(GatewayError):
    outcome = "invalid"

    def __init__(self, name: str) -> None:
        super().__init__(f"unknown tool {name!r}")


class GatewayDenied(GatewayError):
    """The gateway's own floor refused the call; the policy was not asked and cannot lift it."""

    outcome = "gateway_denied"

    def __init__(self, reasons: Sequence[str]) -> None:
        self.reasons = list(reasons)
        super().__init__("denied by the gateway: " + "; ".join(self.reasons))


class Denied(GatewayError):
    """The policy denied the call."""

    outcome = "denied"

    def __init__(self, reasons: Sequence[str], *, advice: str = "") -> None:
        self.reasons = list(reasons) or ["denied by policy"]
        hint = f". Hint: {advice}" if advice else ""
        super().__init__("denied by policy: " + "; ".join(self.reasons) + hint)


class ApprovalRequired(Denied):
    """The call is allowed only with a human approval it does not carry; says who can approve."""

    outcome = "approval_required"

    def __init__(self, reasons: Sequence[str], *, approvers: Sequence[str], count: int) -> None:
        super().__init__(approval_reasons(reasons, approvers=approvers, count=count))


def approval_reasons(reasons: Sequence[str], *, approvers: Sequence[str], count: int) -> list[str]:
    """The policy's reasons, led by what approval is required even when the policy did not say."""
    if any(reason.startswith("approval required") for reason in reasons):
        return list(reasons)
    who = ", ".join(approvers) or "an approver"
    return [f"approval required: {count} approval(s) from {who}", *reasons]


class PolicyUnavailable(GatewayError):
    """OPA was unreachable, slow, or answered something that is not a decision."""

    outcome = "policy_unavailable"

    def __init__(self, detail: str) -> None:
        self.detail = detail
        super().__init__("denied: policy unavailable")


class AuditUnavailable(GatewayError):
    """No record, no call: raised before a call runs, instead of a read's result, or before an approval step."""

    outcome = "audit_unavailable"

    def __init__(self, *, consequence: str = "the call did not run") -> None:
        super().__init__(f"refused: the audit record could not be written, so {consequence}")


class KubeError(GatewayError):
    """A Kubernetes API failure, already shortened for the agent."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        self.status = status
        super().__init__(message)


class ApprovalRefused(GatewayError):
    """The call names an approval that does not let it run; the call did not run.

    `decision_id` and `allow` are those of the OPA decision the refusal follows, for the audit record.
    """

    outcome = "denied"

    def __init__(
        self, approval_id: str, reasons: Sequence[str], *, decision_id: str | None = None, allow: bool = False
    ) -> None:
        self.approval_id = approval_id
        self.reasons = list(reasons)
        self.decision_id = decision_id
        self.allow = allow
        super().__init__(
            f"refused: approval {approval_id} does not allow this call: "
            + "; ".join(self.reasons)
            + ". Call the tool without approval_id to request an approval for these exact arguments."
        )


class UnknownApproval(GatewayError):
    outcome = "invalid"

    def __init__(self, approval_id: str) -> None:
        super().__init__(f"approval_id: no approval request has the id {approval_id!r}")


class CannotDecide(GatewayError):
    """An approve or deny that the request's rules do not permit to this person."""

    outcome = "invalid"


class DecisionConflict(CannotDecide):
    """An approve or deny that the request's current state does not permit, whoever gives it."""


class ApprovalStoreUnavailable(GatewayError):
    outcome = "approval_unavailable"

    def __init__(self) -> None:
        super().__init__("refused: the approval store is unavailable")
