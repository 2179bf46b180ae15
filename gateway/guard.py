"""The guard: FastMCP middleware that puts OPA in front of every tool call and every listing.

For `tools/call` it validates the arguments, builds the versioned input document, asks OPA
(through the approval flow, which carries the approval a write names and answers a write that
waits for one), enforces the decision (deny, or allow with obligations applied), writes the
audit record, and only then lets the call through to the tool. For `tools/list` it asks OPA once
which tools this principal could be allowed and hides the rest; the listing is a courtesy, every
call is decided again. It runs on every transport: FastMCP's own auth checks are skipped on stdio,
this is not. It knows OPA and nothing about Kubernetes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import mcp_types as mt
from fastmcp.server.middleware import CallNext, Middleware, MiddlewareContext
from fastmcp.tools.base import Tool, ToolResult

from gateway.approvals.flow import ApprovalFlow
from gateway.audit import AuditLog
from gateway.catalog import Catalog, Entry
from gateway.errors import ApprovalRefused, ApprovalRequired, Denied, GatewayError, PolicyUnavailable, UnknownTool
from gateway.identity import StdioIdentity, Transport, principal
from gateway.policy import Decision, PolicyClient
from gateway.validation import validate_arguments

log = logging.getLogger(__name__)

INPUT_VERSION = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class GatewayState:
    """The gateway's own half of the policy input (`input.gateway`), fixed at start."""

    mode: str
    dry_run: bool
    cluster: str
    namespaces: tuple[str, ...] | None
    transport: Transport

    def document(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "dry_run": self.dry_run,
            "cluster": self.cluster,
            "namespaces": list(self.namespaces) if self.namespaces is not None else None,
        }


def action_digest(*, tool: str, arguments: dict[str, Any], cluster: str) -> str:
    """sha256 of the canonical action; an approval is bound to exactly this value."""
    canonical = json.dumps(
        {"tool": tool, "arguments": arguments, "cluster": cluster},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def apply_obligations(arguments: dict[str, Any], decision: Decision) -> dict[str, Any]:
    """Narrow the arguments as the policy obliges: cap log lines, force dry runs."""
    obligations = decision.obligations
    narrowed = dict(arguments)
    cap = obligations.max_log_lines
    if cap is not None and "tail_lines" in narrowed:
        narrowed["tail_lines"] = min(narrowed["tail_lines"] or cap, cap)
    if obligations.dry_run and "dry_run" in narrowed:
        narrowed["dry_run"] = True
    return narrowed


class Guard(Middleware):
    """Policy enforcement point for every tool call and every tool listing."""

    def __init__(
        self,
        *,
        catalog: Catalog,
        policy: PolicyClient,
        audit: AuditLog,
        gateway: GatewayState,
        stdio_identity: StdioIdentity,
        approvals: ApprovalFlow,
    ) -> None:
        self.catalog = catalog
        self.policy = policy
        self.audit = audit
        self.gateway = gateway
        self.stdio_identity = stdio_identity
        self.approvals = approvals
        self._gateway_document = gateway.document()

    async def on_call_tool(
        self,
        context: MiddlewareContext[mt.CallToolRequestParams],
        call_next: CallNext[mt.CallToolRequestParams, ToolResult],
    ) -> ToolResult:
        started = time.perf_counter()
        params = context.message
        raw_arguments = dict(params.arguments or {})
        request = self._request(context)
        record: dict[str, Any] = {
            "event": "tool_call",
            "request_id": request["id"],
            "time": request["time"],
            "transport": request["transport"],
            "principal": None,
            "tool": params.name,
            "arguments": raw_arguments,
            "action": None,
            "action_digest": None,
            "decision_id": None,
            "allow": False,
            "reasons": [],
            "outcome": "error",
        }
        try:
            record["principal"] = self._principal(context, request["transport"])
            entry = self.catalog.get(params.name)
            if entry is None:
                raise UnknownTool(params.name)
            tool_arguments, carried = self.approvals.split(write=entry.action.write, raw=raw_arguments)
            record.update(carried.audit)
            arguments = validate_arguments(entry.arguments, tool_arguments)
            document = self._input(entry, arguments, request, record["principal"])
            record.update(arguments=arguments, action=document["action"], action_digest=document["action_digest"])
            # OPA decides, with the approval the call names; a call waiting for one is answered here.
            settled = await self.approvals.settle(document, carried, context.fastmcp_context)
            decision = settled.decision
            record.update(decision_id=decision.decision_id, allow=decision.allow, reasons=decision.reasons)
            record.update(settled.audit)
            if settled.answer is not None:
                record["outcome"] = settled.outcome
                return settled.answer
            self._enforce(decision)
            narrowed = apply_obligations(arguments, decision)
            record["arguments"] = narrowed
            if entry.action.write:
                await self.audit.write_ahead({**record, "event": "write_intent", "outcome": "authorized"})
            result = await call_next(context.copy(message=params.model_copy(update={"arguments": narrowed})))
            record["outcome"] = "ok"
            return result
        except GatewayError as exc:
            record["outcome"] = exc.outcome
            record["error"] = str(exc)
            if isinstance(exc, PolicyUnavailable):
                record["reasons"] = ["policy unavailable"]
                record["policy_error"] = exc.detail
            if isinstance(exc, ApprovalRefused):
                record["approval_id"] = exc.approval_id
            raise
        except Exception as exc:
            log.exception("tool %s failed", params.name)
            record["error"] = f"internal error ({type(exc).__name__})"
            raise GatewayError(f"internal error in {params.name}; see the gateway log") from None
        finally:
            record["duration_ms"] = round((time.perf_counter() - started) * 1000, 3)
            await self.audit.record(record)

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
        raise Denied(decision.reasons)

    def _input(
        self, entry: Entry, arguments: dict[str, Any], request: dict[str, Any], who: dict[str, Any]
    ) -> dict[str, Any]:
        return {
            "version": INPUT_VERSION,
            "request": request,
            "principal": who,
            "tool": entry.tool_document,
            "arguments": arguments,
            "action": entry.action.bind(arguments),
            "gateway": self._gateway_document,
            "action_digest": action_digest(tool=entry.name, arguments=arguments, cluster=self.gateway.cluster),
            "approval": None,
        }

    def _request(self, context: MiddlewareContext[Any]) -> dict[str, Any]:
        return {
            "id": str(uuid.uuid4()),
            "time": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "transport": self._transport(context),
        }

    def _transport(self, context: MiddlewareContext[Any]) -> Transport:
        ctx = context.fastmcp_context
        active = ctx.transport if ctx is not None else None
        if active is None:
            return self.gateway.transport
        return "stdio" if active == "stdio" else "http"

    def _principal(self, context: MiddlewareContext[Any], transport: Transport) -> dict[str, Any]:
        return principal(transport=transport, stdio=self.stdio_identity, client=_client_info(context))


def _client_info(context: MiddlewareContext[Any]) -> dict[str, str | None]:
    ctx = context.fastmcp_context
    try:
        params = ctx.session.client_params if ctx is not None else None
    except RuntimeError:
        params = None
    info = params.client_info if params is not None else None
    return {"name": info.name if info else None, "version": info.version if info else None}
