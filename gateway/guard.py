"""The guard: FastMCP middleware that puts OPA in front of every tool call and every listing.

For `tools/call` it validates the arguments, builds the versioned input document, applies the
gateway's own floor (its mode and namespace switches refuse, its dry-run switch narrows, whatever
the policy says), asks OPA (through the approval flow, which carries the approval a write names
and answers a write that waits for one), enforces the decision (deny, or allow with obligations
applied), makes sure the call's audit record can be written, and only then lets the call through
to the tool. The call's record keeps the input document of its decision and the decision's
warnings, which also reach the agent in the result's `_meta`. A `tools/call` the MCP layer
rejects before the guard sees it (its params do not parse) is audited too. For `tools/list` it
asks OPA once which tools this principal could be allowed and hides the rest; the listing is a
courtesy, every call is decided again. It runs on every transport: FastMCP's own auth checks are
skipped on stdio, this is not. It knows OPA and nothing about Kubernetes.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
import uuid
from collections.abc import Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import mcp_types as mt
from fastmcp.server.middleware import CallNext, Middleware, MiddlewareContext
from fastmcp.tools.base import Tool, ToolResult
from pydantic import ValidationError

from gateway.approvals.flow import ApprovalFlow, Decide
from gateway.audit import AuditLog, AuditRecord, utc_now
from gateway.catalog import Catalog, Entry
from gateway.contexts import Contexts
from gateway.discovery import SECRET_NAMES, SECRETS_REFUSED
from gateway.errors import (
    ApprovalRefused,
    ApprovalRequired,
    AuditUnavailable,
    Denied,
    GatewayDenied,
    GatewayError,
    PolicyUnavailable,
    UnknownTool,
)
from gateway.guidance import DECIDED, Decided, advice
from gateway.identity import StdioIdentity, Transport, current_principal
from gateway.policy import Decision, PolicyClient
from gateway.validation import validate_arguments

log = logging.getLogger(__name__)

INPUT_VERSION = 1
WARNINGS_META = "k8s-mcp-gateway/warnings"
"""The key of a result's `_meta` that carries the policy's warnings about the call."""

_CALL_RECORD: ContextVar[AuditRecord | None] = ContextVar("k8s_mcp_gateway_call_record", default=None)
"""The audit record of the `tools/call` being decided in this context."""


@dataclass(frozen=True, slots=True, kw_only=True)
class GatewayState:
    """The gateway's own switches, fixed at start: sent to OPA in `input.gateway`, and a floor.

    The floor holds whatever the policy answers, so a wrong or replaced policy cannot lift it:
    no call touches Secrets, a readonly gateway runs no write, a namespace allowlist refuses every other namespace for
    namespaced actions, and a dry-run gateway runs every write as a server-side dry run.
    """

    mode: str
    dry_run: bool
    cluster: str
    namespaces: tuple[str, ...] | None
    transport: Transport
    max_log_lines: int
    clusters: tuple[str, ...] = ()
    """Every cluster the gateway serves, the default (`cluster`) first; empty: `cluster` alone."""

    def document(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "dry_run": self.dry_run,
            "cluster": self.cluster,
            "clusters": list(self.clusters or (self.cluster,)),
            "namespaces": list(self.namespaces) if self.namespaces is not None else None,
        }

    def refuse(self, action: Mapping[str, Any]) -> None:
        """Raise `GatewayDenied` with every reason the gateway's own switches refuse `action`."""
        reasons = []
        if action["group"] == "" and action["resource"] in SECRET_NAMES:
            reasons.append(SECRETS_REFUSED)
        if action["write"] and self.mode == "readonly":
            reasons.append('writes are disabled: the gateway runs in "readonly" mode (K8S_MCP_MODE)')
        namespace = action["namespace"]
        if self.namespaces is not None and not action["cluster_scoped"] and namespace not in self.namespaces:
            allowed = ",".join(self.namespaces)
            reasons.append(f'namespace "{namespace}" is not in the gateway\'s allowlist (K8S_MCP_NAMESPACES={allowed})')
        if reasons:
            raise GatewayDenied(reasons)

    def narrow(self, arguments: dict[str, Any], *, write: bool) -> dict[str, Any]:
        """The arguments as run: a dry-run gateway forces `dry_run` (the API's `dryRun=All`) on every write."""
        if write and self.dry_run:
            return {**arguments, "dry_run": True}
        return arguments


def action_digest(*, tool: str, arguments: dict[str, Any], cluster: str) -> str:
    """sha256 of the canonical action; an approval is bound to exactly this value."""
    canonical = json.dumps(
        {"tool": tool, "arguments": arguments, "cluster": cluster},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def new_request(transport: Transport) -> dict[str, Any]:
    """`input.request` of a call or listing received now."""
    return {"id": str(uuid.uuid4()), "time": utc_now(), "transport": transport}


def build_input(
    entry: Entry,
    raw_arguments: dict[str, Any],
    *,
    request: dict[str, Any],
    principal: dict[str, Any],
    gateway: Mapping[str, Any],
) -> dict[str, Any]:
    """The input document of a call of `entry`: its arguments validated, its action bound, its digest.

    Raises `InvalidArguments` naming each field and rule an argument breaks. `gateway` is
    `GatewayState.document()`; `approval` is null here, the approval flow fills it in.
    """
    arguments = validate_arguments(entry.arguments, raw_arguments)
    return {
        "version": INPUT_VERSION,
        "request": request,
        "principal": principal,
        "tool": entry.tool_document,
        "arguments": arguments,
        "action": entry.action.bind(arguments),
        "gateway": gateway,
        "action_digest": action_digest(tool=entry.name, arguments=arguments, cluster=gateway["cluster"]),
        "approval": None,
    }


def recorded(decide: Decide) -> Decide:
    """`decide`, keeping each exchange with OPA in the audit record of the call it decides.

    The approval flow asks OPA on the guard's behalf, adds the approval the call names to the
    input, and may ask again after a wait; the record keeps the last exchange, so its `input` is
    exactly the document behind the `allow`, `reasons`, `approval_required` and `warnings` it
    records, and a record has an `input` only when OPA answered it.
    """

    async def decide_and_record(document: dict[str, Any]) -> Decision:
        decision = await decide(document)
        record = _CALL_RECORD.get()
        if record is not None:
            record.input = document
            record.decision_id = decision.decision_id
            record.allow = decision.allow
            record.reasons = decision.reasons
            record.approval_required = decision.approval.required
            record.warnings = decision.warnings
            record.hints = decision.hints.given() or None
        return decision

    return decide_and_record


def apply_obligations(arguments: dict[str, Any], decision: Decision, *, max_log_lines: int) -> dict[str, Any]:
    """Narrow the arguments as the policy obliges: cap log lines, force dry runs.

    `max_log_lines` is the gateway's own cap, a floor under the policy's: a log read never asks
    for more than the smaller of the two, whatever the policy answered.
    """
    obligations = decision.obligations
    narrowed = dict(arguments)
    cap = min(obligations.max_log_lines, max_log_lines)
    if "tail_lines" in narrowed:
        narrowed["tail_lines"] = min(narrowed["tail_lines"] or cap, cap)
    if obligations.dry_run and "dry_run" in narrowed:
        narrowed["dry_run"] = True
    return narrowed


class Guard(Middleware):
    """Policy enforcement point for every tool call and every tool listing.

    `approvals` must ask OPA through `recorded(policy.decide)`: that is how a call's record gets
    its decision. `warnings_total` counts the warnings of every call this guard decided.
    """

    def __init__(
        self,
        *,
        catalog: Catalog,
        policy: PolicyClient,
        audit: AuditLog,
        gateway: GatewayState,
        stdio_identity: StdioIdentity,
        approvals: ApprovalFlow,
        contexts: Contexts,
    ) -> None:
        self.catalog = catalog
        self.contexts = contexts
        self.policy = policy
        self.audit = audit
        self.gateway = gateway
        self.stdio_identity = stdio_identity
        self.approvals = approvals
        self._gateway_document = gateway.document()
        self.warnings_total = 0

    async def on_call_tool(
        self,
        context: MiddlewareContext[mt.CallToolRequestParams],
        call_next: CallNext[mt.CallToolRequestParams, ToolResult],
    ) -> ToolResult:
        """Decide and run one call, then write its record; a result reaches the agent only once it is written."""
        started = time.perf_counter()
        params = context.message
        request = self._request(context)
        record = _call_record(request, tool=params.name, arguments=dict(params.arguments or {}))
        deciding = _CALL_RECORD.set(record)
        try:
            result = await self._run(context, call_next, request, record)
        except BaseException as exc:
            replacement = _record_failure(record, exc)
            self._finish(record, started)
            await self.audit.record(record.document())
            if replacement is None:
                raise
            raise replacement from None
        finally:
            _CALL_RECORD.reset(deciding)
        self._finish(record, started)
        try:
            await self.audit.append(record.document())
        except AuditUnavailable:
            if record.outcome == "ok" and record.action is not None and record.action["write"]:
                return result  # it ran; its fsynced write_intent record stands for it
            raise AuditUnavailable(consequence="the result is withheld") from None
        return result

    async def _run(
        self,
        context: MiddlewareContext[mt.CallToolRequestParams],
        call_next: CallNext[mt.CallToolRequestParams, ToolResult],
        request: dict[str, Any],
        record: AuditRecord,
    ) -> ToolResult:
        """Build the input, decide, record, run: each step fills in `record`, and any refusal raises."""
        params = context.message
        record.principal = self._principal(context, request["transport"])
        entry = self.catalog.get(params.name)
        if entry is None:
            raise UnknownTool(params.name)
        tool_arguments, carried = self.approvals.split(write=entry.action.write, raw=record.arguments)
        record.add(carried.audit)
        tool_arguments, chosen = self.contexts.split(per_context=entry.per_context, raw=tool_arguments)
        self.contexts.choose(chosen)
        gateway = {**self._gateway_document, "cluster": chosen.kube.cluster}
        document = build_input(entry, tool_arguments, request=request, principal=record.principal, gateway=gateway)
        arguments = document["arguments"]
        if entry.action.discovered:
            document["action"] = await self.catalog.action(entry, arguments, discovery=chosen.discovery)
        record.arguments, record.action = arguments, document["action"]
        record.action_digest = document["action_digest"]
        self.gateway.refuse(document["action"])
        # OPA decides (recorded in `record`), with the approval the call names; a call waiting for one is answered here.
        settled = await self.approvals.settle(document, carried, context.fastmcp_context)
        decision = settled.decision
        record.add(settled.audit)
        if settled.answer is not None:
            record.outcome = settled.outcome or record.outcome
            return _with_warnings(settled.answer, decision.warnings)
        self._enforce(decision)
        write = entry.action.write
        narrowed = self.gateway.narrow(
            apply_obligations(document["arguments"], decision, max_log_lines=self.gateway.max_log_lines), write=write
        )
        record.arguments = narrowed
        if write:
            await self.audit.append(record.document(event="write_intent", outcome="authorized"), sync=True)
            record.outcome = "sent"
        else:
            await self.audit.ready()
        DECIDED.set(
            Decided(
                principal=document["principal"],
                transport=request["transport"],
                cluster=gateway["cluster"],
                hints=decision.hints,
            )
        )
        result = await call_next(context.copy(message=params.model_copy(update={"arguments": narrowed})))
        record.outcome = "ok"
        return _with_warnings(result, decision.warnings)

    def _finish(self, record: AuditRecord, started: float) -> None:
        """The call's duration, and its warnings added to the process's count."""
        record.duration_ms = round((time.perf_counter() - started) * 1000, 3)
        if record.warnings:
            self.warnings_total += len(record.warnings)
            record.warnings_total = self.warnings_total

    async def on_request(self, context: MiddlewareContext[Any], call_next: CallNext[Any, Any]) -> Any:
        """Audit a `tools/call` the MCP layer rejects before `on_call_tool`: its params do not parse.

        FastMCP hands this hook the raw params of a `tools/call` only when the request failed
        before its typed middleware chain (a missing `name`, `arguments` not an object); the
        original error still answers the client. Every other request passes straight through.
        """
        if context.method != "tools/call" or isinstance(context.message, mt.CallToolRequestParams):
            return await call_next(context)
        started = time.perf_counter()
        request = self._request(context)
        raw: dict[str, Any] = context.message
        name = raw.get("name")
        record = _call_record(request, tool=name if isinstance(name, str) else None, arguments=raw.get("arguments"))
        record.principal = self._principal(context, request["transport"])
        record.outcome = "invalid"
        try:
            return await call_next(context)
        except Exception as exc:
            record.error = "invalid tools/call request: " + _params_problems(exc)
            raise
        finally:
            record.duration_ms = round((time.perf_counter() - started) * 1000, 3)
            await self.audit.record(record.document())

    async def on_list_tools(
        self,
        context: MiddlewareContext[mt.ListToolsRequest],
        call_next: CallNext[mt.ListToolsRequest, Sequence[Tool]],
    ) -> Sequence[Tool]:
        tools = await call_next(context)
        request = self._request(context)
        document = {
            "version": INPUT_VERSION,
            "request": request,
            "principal": self._principal(context, request["transport"]),
            "gateway": self._gateway_document,
            "catalog": self.catalog.listing,
        }
        try:
            visible = await self.policy.visible_tools(document)
        except PolicyUnavailable:
            return []
        return [tool for tool in tools if tool.name in visible]

    @staticmethod
    def _enforce(decision: Decision) -> None:
        if decision.allow:
            return
        if decision.approval.required:
            raise ApprovalRequired(
                decision.reasons, approvers=decision.approval.approvers, count=decision.approval.count
            )
        raise Denied(decision.reasons, advice=advice(decision.hints))

    def _request(self, context: MiddlewareContext[Any]) -> dict[str, Any]:
        return new_request(self._transport(context))

    def _transport(self, context: MiddlewareContext[Any]) -> Transport:
        ctx = context.fastmcp_context
        active = ctx.transport if ctx is not None else None
        if active is None:
            return self.gateway.transport
        return "stdio" if active == "stdio" else "http"

    def _principal(self, context: MiddlewareContext[Any], transport: Transport) -> dict[str, Any]:
        who = current_principal(transport=transport, stdio=self.stdio_identity)
        return who.document(_client_info(context))


def _client_info(context: MiddlewareContext[Any]) -> dict[str, str | None]:
    ctx = context.fastmcp_context
    try:
        params = ctx.session.client_params if ctx is not None else None
    except RuntimeError:
        params = None
    info = params.client_info if params is not None else None
    return {"name": info.name if info else None, "version": info.version if info else None}


def _with_warnings(result: ToolResult, warnings: list[str]) -> ToolResult:
    """`result` with the policy's warnings in its `_meta`, for the agent to see (unchanged without any)."""
    if not warnings:
        return result
    return result.model_copy(update={"meta": {**(result.meta or {}), WARNINGS_META: list(warnings)}})


def _call_record(request: dict[str, Any], *, tool: str | None, arguments: Any) -> AuditRecord:
    """A `tool_call` record as it starts: the raw arguments, nothing decided yet."""
    return AuditRecord(
        request_id=request["id"], time=request["time"], transport=request["transport"], tool=tool, arguments=arguments
    )


def _record_failure(record: AuditRecord, exc: BaseException) -> GatewayError | None:
    """Record how a call that raised `exc` ended; return the error the agent gets instead, if not `exc`."""
    if isinstance(exc, GatewayError):
        record.outcome = exc.outcome
        record.error = str(exc)
        if isinstance(exc, GatewayDenied):
            record.reasons = exc.reasons
        if isinstance(exc, PolicyUnavailable):
            record.reasons = ["policy unavailable"]
            record.policy_error = exc.detail
        if isinstance(exc, ApprovalRefused):
            record.approval_id, record.decision_id = exc.approval_id, exc.decision_id
            record.allow, record.reasons = exc.allow, exc.reasons
        return None
    if isinstance(exc, asyncio.CancelledError):
        # A write handed to Kubernetes keeps its "sent": it may have been applied.
        if record.outcome != "sent":
            record.outcome = "cancelled"
        return None
    if not isinstance(exc, Exception):
        return None
    log.error("tool %s failed", record.tool, exc_info=exc)
    record.outcome = "error"
    record.error = f"internal error ({type(exc).__name__})"
    return GatewayError(f"internal error in {record.tool}; see the gateway log")


def _params_problems(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or 'params'}: {error['msg']}"
            for error in exc.errors(include_url=False)
        )
    return str(exc)
