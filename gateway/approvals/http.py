"""The approvals API beside `/mcp`: approvers read and decide requests over HTTP.

    GET  /approvals                 open requests (pending or approved) the caller is an approver
                                    of or made; `?all=1`: in every state
    GET  /approvals/{id}            one of them, with its preview
    POST /approvals/{id}/approve    body {"reason": "..."} (optional reason)
    POST /approvals/{id}/deny       body {"reason": "..."} (reason required)

Each route is one `ApprovalService` call for the caller its bearer token names. FastMCP's auth
does not cover routes beside the MCP endpoint, so every handler authenticates the request itself
with `authenticate_request` and the gateway's verifier, as `/mcp` is guarded: a missing or
refused token gets 401 and the same `authentication` audit record (`refuse_unauthenticated`).
A caller without a verified identity (`K8S_MCP_AUTH=none`) gets 403: a decision names who gave
it, and only a verified credential says who that is. The Host/Origin guard and the body
deadline of `gateway.http_app` wrap these routes as they wrap `/mcp`.

Who may decide is the service's rule, exactly as for the CLI; a request is shown only to its
requester and the people its approvers name. The service writes the audit record of each
decision with the approver's `sub` and groups; a decision the API refuses is recorded here as
`approval_decision_refused`. Answers are JSON; a failure is `{"error": word, "error_description":
sentence}` with its status:

    400 invalid_request         malformed id, query or body (names the field and the rule)
    401 unauthorized / invalid_token   no bearer token / a refused one
    403 forbidden               no verified caller; not an approver (or the requester approving)
    404 not_found               no request has this id
    409 conflict                the request is not pending (decided, expired, used), or already
                                approved by this caller
    413 payload_too_large       a body over MAX_BODY_BYTES
    415 unsupported_media_type  a body that is not `Content-Type: application/json`
    500 internal_error          anything else (logged)
    503 unavailable             the approval store cannot be read or written
"""

from __future__ import annotations

import json
import logging
import unicodedata
from collections.abc import Awaitable, Callable
from typing import Any

from fastmcp import FastMCP
from fastmcp.server.auth import TokenVerifier
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway.approvals.model import OPEN_STATES, Approver
from gateway.approvals.service import ApprovalService, Verdict
from gateway.audit import AuditLog, utc_now
from gateway.errors import (
    ApprovalStoreUnavailable,
    AuditUnavailable,
    CannotDecide,
    DecisionConflict,
    GatewayError,
    UnknownApproval,
)
from gateway.http_app import refuse_unauthenticated
from gateway.identity import Principal, authenticate_request
from gateway.validation import APPROVAL_ID, APPROVAL_ID_RULE

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 4096
"""A decision's body is one short reason; a longer one is refused (413)."""
MAX_REASON_CHARS = 1000
UNVERIFIED = (
    "the approvals API needs a verified caller, and this gateway runs with K8S_MCP_AUTH=none: "
    "set K8S_MCP_AUTH to tokens or jwt, or decide with `k8s-mcp-gateway approvals`"
)
_FLAGS = {"1": True, "true": True, "0": False, "false": False, "": False}
_UNPRINTED = {"Cc", "Cf", "Zl", "Zp"}
"""Control and format characters, line and paragraph separators: a reason is one line of text."""
_ERRORS: tuple[tuple[type[GatewayError], int, str], ...] = (
    (UnknownApproval, 404, "not_found"),
    (DecisionConflict, 409, "conflict"),
    (CannotDecide, 403, "forbidden"),
    (ApprovalStoreUnavailable, 503, "unavailable"),
    (AuditUnavailable, 503, "unavailable"),
)


class Refused(Exception):
    """An answer other than success: its status, a fixed `error` word and a sentence for people."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description

    def response(self) -> JSONResponse:
        return JSONResponse({"error": self.error, "error_description": self.description}, status_code=self.status)


Handler = Callable[[Request, Approver], Awaitable[dict[str, Any]]]


class ApprovalsApi:
    """The four routes, over one `ApprovalService`, for callers `verifier` names."""

    def __init__(self, *, service: ApprovalService, verifier: TokenVerifier | None, audit: AuditLog) -> None:
        self.service = service
        self.verifier = verifier
        self.audit = audit

    def register(self, server: FastMCP) -> None:
        """Add the routes to `server`'s HTTP app (they exist only on the HTTP transport)."""
        server.custom_route("/approvals", methods=["GET"])(self._route(self.list_requests))
        server.custom_route("/approvals/{approval_id}", methods=["GET"])(self._route(self.show_request))
        server.custom_route("/approvals/{approval_id}/approve", methods=["POST"])(self._route(self.approve))
        server.custom_route("/approvals/{approval_id}/deny", methods=["POST"])(self._route(self.deny))

    async def list_requests(self, request: Request, caller: Approver) -> dict[str, Any]:
        flag = request.query_params.get("all", "").lower()
        if flag not in _FLAGS:
            raise Refused(400, "invalid_request", "all: must be 1 (every state) or 0 (open requests only)")
        found = await self.service.list(states=() if _FLAGS[flag] else OPEN_STATES)
        shown = [approval.view() for approval in found if approval.involves(caller)]
        return {"caller": _caller(caller), "approvals": shown}

    async def show_request(self, request: Request, caller: Approver) -> dict[str, Any]:
        approval = await self.service.get(_approval_id(request))
        if not approval.involves(caller):
            approvers = ", ".join(approval.approvers) or "none"
            raise Refused(
                403,
                "forbidden",
                f"{caller.sub} may not read approval {approval.id}: only its requester and its approvers"
                f" ({approvers}) may",
            )
        return {"approval": approval.view()}

    async def approve(self, request: Request, caller: Approver) -> dict[str, Any]:
        return await self._decide(request, caller, "approve")

    async def deny(self, request: Request, caller: Approver) -> dict[str, Any]:
        return await self._decide(request, caller, "deny")

    async def _decide(self, request: Request, caller: Approver, verdict: Verdict) -> dict[str, Any]:
        approval_id = _approval_id(request)
        reason = _reason(await _json_object(request), required=verdict == "deny")
        decided = await self.service.decide(approval_id, caller, verdict, reason)
        done = {"approve": "approved", "deny": "denied"}[verdict]
        message = f"{caller.sub} {done} {decided.id}: it is {decided.state} ({decided.tally})"
        return {"message": message, "approval": decided.view()}

    def _route(self, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        """`handler` for a verified caller only, its failures as JSON answers, refused decisions audited."""

        async def route(request: Request) -> Response:
            principal = await authenticate_request(request, self.verifier)
            if principal is None:
                assert self.verifier is not None  # without one every caller is system:anonymous
                return await refuse_unauthenticated(request.scope, verifier=self.verifier, audit=self.audit)
            try:
                if not principal.authenticated:
                    raise Refused(403, "forbidden", UNVERIFIED)
                return JSONResponse(await handler(request, Approver(sub=principal.sub, groups=principal.groups)))
            except Refused as refusal:
                refused = refusal
            except GatewayError as error:
                refused = _refused(error)
            if request.method == "POST":
                await self._record_refusal(request, principal, refused)
            return refused.response()

        return route

    async def _record_refusal(self, request: Request, principal: Principal, refused: Refused) -> None:
        client = request.client
        await self.audit.record(
            {
                "event": "approval_decision_refused",
                "time": utc_now(),
                "outcome": "refused",
                "transport": "http",
                "principal": {
                    "sub": principal.sub,
                    "groups": list(principal.groups),
                    "authenticated": principal.authenticated,
                },
                "method": request.method,
                "path": request.url.path,
                "remote": client.host if client else None,
                "approval_id": request.path_params.get("approval_id"),
                "status": refused.status,
                "reasons": [refused.description],
            }
        )


def _refused(error: GatewayError) -> Refused:
    """The answer to an error of the service: its status and word, and its own message."""
    for kind, status, word in _ERRORS:
        if isinstance(error, kind):
            return Refused(status, word, str(error))
    log.error("approvals API: unexpected %s: %s", type(error).__name__, error)
    return Refused(500, "internal_error", str(error))


def _caller(caller: Approver) -> dict[str, Any]:
    return {"sub": caller.sub, "groups": list(caller.groups)}


def _approval_id(request: Request) -> str:
    approval_id: str = request.path_params["approval_id"]
    if not APPROVAL_ID.fullmatch(approval_id):
        raise Refused(400, "invalid_request", f"approval id: {APPROVAL_ID_RULE}")
    return approval_id


async def _json_object(request: Request) -> dict[str, Any]:
    """The request's body: a JSON object of at most `MAX_BODY_BYTES`, sent as application/json."""
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type != "application/json":
        raise Refused(415, "unsupported_media_type", "the body must be JSON, sent with Content-Type: application/json")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise Refused(413, "payload_too_large", f"the body may be at most {MAX_BODY_BYTES} bytes")
    try:
        document = json.loads(body)
    except ValueError:
        document = None
    if not isinstance(document, dict):
        raise Refused(400, "invalid_request", 'the body must be a JSON object: {"reason": "..."}')
    return document


def _reason(body: dict[str, Any], *, required: bool) -> str | None:
    """The decision's reason from `body`, its only member; `required` to deny."""
    unknown = sorted(set(body) - {"reason"})
    if unknown:
        raise Refused(400, "invalid_request", f"{unknown[0]}: is not a field of a decision (only reason)")
    reason = body.get("reason")
    if reason is not None and not isinstance(reason, str):
        raise Refused(400, "invalid_request", "reason: must be a string")
    reason = (reason or "").strip()
    if required and not reason:
        raise Refused(400, "invalid_request", "reason: is required to deny: say why")
    if len(reason) > MAX_REASON_CHARS:
        raise Refused(400, "invalid_request", f"reason: must be at most {MAX_REASON_CHARS} characters")
    if any(unicodedata.category(character) in _UNPRINTED for character in reason):
        raise Refused(400, "invalid_request", "reason: must be one line of text, without control or format characters")
    return reason or None
