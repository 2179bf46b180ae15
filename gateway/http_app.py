"""The HTTP transport: what a request passes before any MCP session or tool sees it.

From the outside in, every request meets:

1. FastMCP's Host/Origin guard (`K8S_MCP_HTTP_ALLOWED_HOSTS`, `K8S_MCP_HTTP_ALLOWED_ORIGINS`):
   a Host that is not allowed gets 421, an Origin that is not allowed 403. This stops DNS
   rebinding: a page on `evil.example` whose name resolves to this gateway still sends
   `Host: evil.example`. Loopback names and the address the connection came in on are allowed.
2. FastMCP's bearer-token middleware, running the verifier of `K8S_MCP_AUTH` (gateway.auth).
3. `IdentityDoor`: a request to the MCP endpoint without a verified caller gets 401 and an
   audit record (outcome `unauthenticated`, the check that failed, never the token), before
   any session exists. FastMCP's own check behind it stays as a second lock. The routes beside
   it (`/approvals`, gateway.approvals.http) check their caller themselves and refuse the same
   way, with `refuse_unauthenticated`.
4. `BodyDeadline`: the body must arrive in full within `K8S_MCP_HTTP_BODY_TIMEOUT`, else 408;
   the MCP SDK's body size limit (413 over 4 MiB) is read under the same deadline.
5. The MCP SDK's session manager, started by FastMCP, with `K8S_MCP_HTTP_MAX_SESSIONS` (503
   when full) and `K8S_MCP_HTTP_SESSION_IDLE_TIMEOUT` (an idle session is closed, its id 404s).
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import anyio
from fastmcp import FastMCP
from fastmcp.server.auth import TokenVerifier
from fastmcp.server.http import StarletteWithLifespan, StreamableHTTPASGIApp
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.transport_security import DEFAULT_MAX_REQUEST_BODY_SIZE, RequestBodyLimitMiddleware
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.middleware import Middleware
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.audit import AuditLog
from gateway.auth import Rejection, bearer_token, check_token
from gateway.settings import Settings

log = logging.getLogger(__name__)


def build_http_app(
    server: FastMCP, *, settings: Settings, verifier: TokenVerifier | None, audit: AuditLog
) -> Starlette:
    """The ASGI app `serve --transport http` runs: the MCP endpoint behind the layers above."""
    middleware = [Middleware(BodyDeadline, timeout=settings.http_body_timeout)]
    if verifier is not None:
        middleware.insert(0, Middleware(IdentityDoor, path=settings.http_path, verifier=verifier, audit=audit))
    app = server.http_app(
        path=settings.http_path,
        middleware=middleware,
        host_origin_protection=True,
        allowed_hosts=settings.http_allowed_hosts,
        allowed_origins=settings.http_allowed_origins,
        session_idle_timeout=settings.http_session_idle_timeout,
    )
    _cap_sessions(app, max_sessions=settings.http_max_sessions)
    return app


def _cap_sessions(app: StarletteWithLifespan, *, max_sessions: int) -> None:
    """Give the SDK's session manager its session cap, which FastMCP does not pass on.

    FastMCP creates the manager when the app starts; the cap is set on it right then, before
    the server accepts a connection.
    """
    endpoint = _mcp_endpoint(app)
    started = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(starlette: Starlette) -> AsyncIterator[Any]:
        async with started(starlette) as state:
            assert endpoint.session_manager is not None
            endpoint.session_manager.max_sessions = max_sessions
            yield state

    app.router.lifespan_context = lifespan


def _mcp_endpoint(app: Starlette) -> StreamableHTTPASGIApp:
    """FastMCP's streamable HTTP endpoint, under whatever wraps it in its route."""
    for route in app.routes:
        inner = getattr(route, "app", None)
        while inner is not None and not isinstance(inner, StreamableHTTPASGIApp):
            inner = getattr(inner, "app", None)
        if inner is not None:
            return inner
    raise LookupError("FastMCP's HTTP app has no streamable HTTP endpoint")


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
        await (await refuse_unauthenticated(scope, verifier=self.verifier, audit=self.audit))(scope, receive, send)


async def refuse_unauthenticated(scope: Scope, *, verifier: TokenVerifier, audit: AuditLog) -> Response:
    """The 401 for a request whose bearer token was refused, once its audit record is written.

    Whoever refused the token (FastMCP's middleware, `authenticate_request`) did not say why:
    the verifier is asked again, for the check that failed.
    """
    checked = await check_token(verifier, bearer_token(Headers(scope=scope)))
    rejection = checked if isinstance(checked, Rejection) else Rejection("invalid", "the token was not accepted")
    record = _unauthenticated_record(scope, rejection)
    log.warning("refused %s %s from %s: %s", scope["method"], scope["path"], record["remote"], rejection.detail)
    await audit.record(record)
    return _unauthorized(rejection)


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


class SlowBody(Exception):
    """The request body did not arrive in full before the deadline."""


class BodyDeadline:
    """Answers 408 when a request body takes longer than `timeout` seconds to arrive in full.

    uvicorn waits for a body as long as the client keeps the connection open, and the MCP SDK
    reads it in full before it opens a session: one slow client per connection would hold a
    worker's memory and a socket indefinitely. The SDK's size limit reads the body here, under
    the deadline, so the body is complete (or refused) before anything behind it runs.
    """

    def __init__(self, app: ASGIApp, *, timeout: float, max_size: int = DEFAULT_MAX_REQUEST_BODY_SIZE) -> None:
        self.app = RequestBodyLimitMiddleware(app, max_size)
        self.timeout = timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        deadline = time.monotonic() + self.timeout
        body_complete = False

        async def receive_by_deadline() -> Message:
            nonlocal body_complete
            if body_complete:  # later reads wait for a disconnect, as long as a stream lasts
                return await receive()
            try:
                with anyio.fail_after(max(deadline - time.monotonic(), 0)):
                    message = await receive()
            except TimeoutError:
                raise SlowBody from None
            body_complete = message["type"] != "http.request" or not message.get("more_body", False)
            return message

        try:
            await self.app(scope, receive_by_deadline, send)
        except SlowBody:
            log.warning("request body of %s %s not complete after %.1fs", scope["method"], scope["path"], self.timeout)
            response = Response(
                f"request body not received within {self.timeout:g} seconds",
                status_code=408,
                headers={"Connection": "close"},
            )
            await response(scope, receive, send)
