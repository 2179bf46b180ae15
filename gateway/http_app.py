"""The HTTP transport: what a request passes before any MCP session or tool sees it.

From the outside in, every request meets:

1. FastMCP's bearer-token middleware, running the verifier of `K8S_MCP_AUTH` (gateway.auth).
2. `IdentityDoor`: a request to the MCP endpoint without a verified caller gets 401 and an
   audit record (outcome `unauthenticated`, the check that failed, never the token), before
   any session exists. FastMCP's own check behind it stays as a second lock.
3. The MCP endpoint FastMCP serves.
"""

from __future__ import annotations

import json
import logging
import uuid
from datetime import UTC, datetime
from typing import Any

from fastmcp import FastMCP
from fastmcp.server.auth import TokenVerifier
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.middleware import Middleware
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.audit import AuditLog
from gateway.auth import Rejection, bearer_token, check_token
from gateway.settings import Settings

log = logging.getLogger(__name__)


def build_http_app(
    server: FastMCP, *, settings: Settings, verifier: TokenVerifier | None, audit: AuditLog
) -> Starlette:
    """The ASGI app `serve --transport http` runs: the MCP endpoint behind the layers above."""
    middleware = []
    if verifier is not None:
        middleware.append(Middleware(IdentityDoor, path=settings.http_path, verifier=verifier, audit=audit))
    return server.http_app(path=settings.http_path, middleware=middleware)


class IdentityDoor:
    """Refuses the MCP endpoint to a caller without a verified bearer token: 401, audited."""

    def __init__(self, app: ASGIApp, *, path: str, verifier: TokenVerifier, audit: AuditLog) -> None:
        self.app = app
        self.path = path
        self.verifier = verifier
        self.audit = audit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self.path or isinstance(scope.get("user"), AuthenticatedUser):
            await self.app(scope, receive, send)
            return
        # FastMCP's middleware refused the token without saying why; ask the verifier again.
        checked = await check_token(self.verifier, bearer_token(Headers(scope=scope)))
        rejection = checked if isinstance(checked, Rejection) else Rejection("invalid", "the token was not accepted")
        record = _unauthenticated_record(scope, rejection)
        log.warning("refused %s %s from %s: %s", scope["method"], self.path, record["remote"], rejection.detail)
        await self.audit.record(record)
        await _unauthorized(rejection)(scope, receive, send)


def _unauthenticated_record(scope: Scope, rejection: Rejection) -> dict[str, Any]:
    client = scope.get("client")
    return {
        "event": "authentication",
        "request_id": str(uuid.uuid4()),
        "time": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "transport": "http",
        "principal": None,
        "method": scope["method"],
        "path": scope["path"],
        "remote": client[0] if client else None,
        "outcome": "unauthenticated",
        "check": rejection.check,
        "reasons": [rejection.detail],
    }


def _unauthorized(rejection: Rejection) -> Response:
    """RFC 6750: no `error` when no token came; the check word (never the detail) otherwise."""
    if rejection.check == "missing":
        challenge = 'Bearer realm="k8s-mcp-gateway"'
        body = {"error": "unauthorized", "error_description": "a bearer token is required (Authorization: Bearer ...)"}
    else:
        challenge = 'Bearer realm="k8s-mcp-gateway", error="invalid_token"'
        body = {"error": "invalid_token", "error_description": f"bearer token refused: {rejection.check}"}
    return Response(
        json.dumps(body), status_code=401, media_type="application/json", headers={"WWW-Authenticate": challenge}
    )
