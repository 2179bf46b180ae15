"""`policy explain`: the input document the gateway would send for one call, and the policy's answer.

The document is built by the guard's own `build_input` (the same argument validation, catalog
action and action digest) for the caller and gateway state given on the command line, and
decided by the real `opa eval` over policy files on disk, with OPA's trace on request. The
gateway's own floor (its mode and namespace switches) is shown too: it refuses such a call
before OPA is asked. The approval a call names is looked up in the gateway's store at call time,
so here `approval` is always null.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from gateway.catalog import Catalog
from gateway.errors import GatewayDenied, UnknownTool
from gateway.guard import GatewayState, build_input, new_request
from gateway.identity import Principal
from gateway.opa_eval import Explain, data_ref, evaluate, trace
from gateway.policy import Decision

NO_CLIENT: dict[str, str | None] = {"name": None, "version": None}
"""`principal.client` of a client that announced nothing: explain has no MCP client."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Explained:
    """One call, explained: the input, OPA's decision (None when unusable: `problem` says why)."""

    document: dict[str, Any]
    decision: Decision | None
    problem: str | None
    gateway_refuses: list[str]
    decision_path: str
    trace: str | None

    def verdict(self) -> str:
        """What the gateway would do with the call, in a few words."""
        if self.gateway_refuses:
            return "denied by the gateway's own switches, before OPA is asked"
        if self.decision is None:
            return "denied: policy unavailable"
        if self.decision.allow:
            return "allowed: the call runs" + (" (with warnings)" if self.decision.warnings else "")
        if self.decision.approval.required and self.document["action"]["write"]:
            return "approval required: the call makes an approval request and runs once approved"
        if self.decision.approval.required:
            return "denied: approval required"
        return "denied by policy"

    def json(self) -> dict[str, Any]:
        decision = self.decision.document() if self.decision else None
        return {
            "input": self.document,
            "decision": decision,
            "problem": self.problem,
            "gateway_refuses": self.gateway_refuses,
            "verdict": self.verdict(),
            "trace": self.trace,
        }

    def text(self) -> str:
        lines = [
            f"Input document (POST /v1/data/{self.decision_path.strip('/')}):",
            json.dumps(self.document, indent=2, ensure_ascii=False),
            "",
        ]
        if self.gateway_refuses:
            lines.append("The gateway's own switches refuse this call before OPA is asked:")
            lines += [f"  - {reason}" for reason in self.gateway_refuses]
            lines.append("")
        lines.append(f"Decision ({data_ref(self.decision_path)}): {self.verdict()}")
        if self.decision is None:
            lines.append(f"  {self.problem}")
        else:
            lines += _decision_lines(self.decision)
        if self.trace is not None:
            lines += ["", "Trace (opa eval --explain):", self.trace.rstrip()]
        return "\n".join(lines)


def explain(
    *,
    tool: str,
    arguments: dict[str, Any],
    principal: Principal,
    gateway: GatewayState,
    paths: Sequence[Path],
    decision_path: str,
    explain_mode: Explain | None = None,
) -> Explained:
    """Build the input of `tool(arguments)` as the guard does and ask OPA over `paths`.

    Raises `UnknownTool` or `InvalidArguments` as the guard would, and `OpaEvalError`.
    """
    entry = Catalog().get(tool)
    if entry is None:
        raise UnknownTool(tool)
    document = build_input(
        entry,
        arguments,
        request=new_request(gateway.transport),
        principal=principal.document(NO_CLIENT),
        gateway=gateway.document(),
    )
    try:
        gateway.refuse(document["action"])
        refuses: list[str] = []
    except GatewayDenied as exc:
        refuses = exc.reasons
    query = data_ref(decision_path)
    answer = evaluate(query, paths=paths, input_document=document)
    decision, problem = None, None
    if answer is None:
        problem = f"{query} is undefined for this input (is the policy loaded at this path?)"
    else:
        try:
            decision = Decision.model_validate(answer)
        except ValidationError as exc:
            fields = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors(include_url=False))
            problem = f"the answer is not a decision document: {fields}"
    steps = trace(query, paths=paths, input_document=document, explain=explain_mode) if explain_mode else None
    return Explained(
        document=document,
        decision=decision,
        problem=problem,
        gateway_refuses=refuses,
        decision_path=decision_path,
        trace=steps,
    )


def _decision_lines(decision: Decision) -> list[str]:
    approval = decision.approval
    lines = [f"  allow: {json.dumps(decision.allow)}", "  reasons:" if decision.reasons else "  reasons: none"]
    lines += [f"    - {reason}" for reason in decision.reasons]
    if approval.required:
        who = " or ".join(approval.approvers) or "an approver (none is configured)"
        lines.append(
            f"  approval: required, {approval.count} from {who}; kinds {', '.join(approval.kinds)}; "
            f"valid {approval.ttl_seconds} s"
        )
    else:
        lines.append("  approval: not required")
    obligations = decision.obligations
    lines.append(f"  obligations: max_log_lines {obligations.max_log_lines}, dry_run {json.dumps(obligations.dry_run)}")
    lines.append("  warnings:" if decision.warnings else "  warnings: none")
    lines += [f"    - {warning}" for warning in decision.warnings]
    hints = decision.hints.given()
    if hints:
        lines.append(f"  hints: {json.dumps(hints, ensure_ascii=False)}")
    return lines
