"""The OPA client: one question per call, asked over a kept-alive connection.

Every way the answer can fail to be a decision (connection refused, no complete answer within the
deadline, OPA refusing the gateway's token, non-2xx status, undefined result, malformed JSON, a
missing field or one of the wrong type) is mapped at this boundary to `PolicyUnavailable`, which
the guard turns into a denial. There is no path from an error to an allow. Details go to the log,
never to the agent.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import httpcore
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr, ValidationError

from gateway.errors import PolicyUnavailable

log = logging.getLogger(__name__)


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, frozen=True, extra="ignore")


class ApprovalRequirement(_Strict):
    required: StrictBool
    approvers: list[StrictStr]
    count: StrictInt = Field(ge=0)
    ttl_seconds: StrictInt = Field(ge=0)
    kinds: list[StrictStr]


class Obligations(_Strict):
    """Both fields are required: a policy that forgets its log cap has not decided, it has failed."""

    max_log_lines: StrictInt = Field(ge=1)
    dry_run: StrictBool


class GrantedWrite(_Strict):
    tool: StrictStr
    namespace: StrictStr
    approval: dict[StrictStr, StrictBool | StrictInt | list[StrictStr]]


class Permissions(_Strict):
    """What this principal may do, as the policy sums it up (`data.mcp.authz.permissions`)."""

    mode: StrictStr
    namespaces: list[StrictStr]
    cluster_reads: list[StrictStr]
    writes: list[GrantedWrite]
    truncated: StrictBool


class Hints(_Strict):
    """What the policy tells the caller beyond allow or deny; each key absent means none."""

    namespaces: list[StrictStr] | None = None
    writes: list[StrictStr] | None = None
    permissions: Permissions | None = None

    def given(self) -> dict[str, Any]:
        """The hints as the policy gave them: only the keys it sent, so none is an empty object."""
        return self.model_dump(exclude_none=True)


class Decision(_Strict):
    """The decision document (the README's policy contract); `decision_id` comes from OPA's envelope.

    `warnings` and `hints` may be absent (contract version 1 had neither): none.
    """

    allow: StrictBool
    reasons: list[StrictStr]
    approval: ApprovalRequirement
    obligations: Obligations
    warnings: list[StrictStr] = Field(default_factory=list)
    hints: Hints = Field(default_factory=Hints)
    decision_id: StrictStr | None = None

    def document(self) -> dict[str, Any]:
        """The decision document as the contract writes it: `hints` only when there are any."""
        document = self.model_dump(exclude={"decision_id", "hints"})
        hints = self.hints.given()
        return {**document, "hints": hints} if hints else document


_TRANSPORT_ERRORS = (
    httpcore.NetworkError,
    httpcore.ProtocolError,
    httpcore.UnsupportedProtocol,
    httpcore.ProxyError,
    OSError,
)
"""What a failed exchange raises besides a timeout: no connection, a broken one, an answer that is not HTTP."""


class PolicyClient:
    """Asks OPA's Data API for decisions and for the visible tools.

    `timeout` bounds the whole exchange (waiting for a connection, sending, every byte of the
    answer), not each read: an answer trickled byte by byte fails closed at the deadline. The
    `token` is sent as a bearer token on every query; OPA's API refuses queries without it.

    It speaks to OPA through httpcore's connection pool, not through httpx's client: the question
    is always the same POST of JSON to one origin, and httpx's request and response models cost
    more per decision than OPA takes to evaluate the policy.
    """

    def __init__(
        self,
        *,
        base_url: str,
        decision_path: str,
        visibility_path: str,
        timeout: float,
        token: str | None = None,
    ) -> None:
        origin = base_url.rstrip("/")
        self._decision_url = f"{origin}/v1/data/{decision_path.strip('/')}"
        self._visibility_url = f"{origin}/v1/data/{visibility_path.strip('/')}"
        self._deadline = timeout
        self._headers = [(b"Content-Type", b"application/json")]
        if token is not None:
            self._headers.append((b"Authorization", f"Bearer {token}".encode()))
        self._pool = httpcore.AsyncConnectionPool(
            max_connections=100, max_keepalive_connections=16, keepalive_expiry=60
        )

    async def decide(self, document: dict[str, Any]) -> Decision:
        result, decision_id = await self._query(self._decision_url, document)
        if not isinstance(result, dict):
            raise self._unavailable("decision is not an object", result)
        try:
            return Decision.model_validate({**result, "decision_id": decision_id})
        except ValidationError as exc:
            raise self._unavailable("decision has wrong fields or types", exc.errors(include_url=False)) from None

    async def visible_tools(self, document: dict[str, Any]) -> frozenset[str]:
        result, _ = await self._query(self._visibility_url, document)
        if not isinstance(result, list) or not all(isinstance(name, str) for name in result):
            raise self._unavailable("visible_tools is not a list of names", result)
        return frozenset(result)

    async def _query(self, url: str, document: dict[str, Any]) -> tuple[Any, str | None]:
        content = json.dumps({"input": document}, separators=(",", ":")).encode()
        try:
            async with asyncio.timeout(self._deadline):
                response = await self._pool.request("POST", url, headers=self._headers, content=content)
        except (TimeoutError, httpcore.TimeoutException):
            raise self._unavailable(f"no complete answer within {self._deadline}s", url) from None
        except _TRANSPORT_ERRORS as exc:
            raise self._unavailable(f"unreachable ({type(exc).__name__})", url) from None
        status, text = response.status, response.content[:500].decode(errors="replace")
        if status in (401, 403):
            raise self._unavailable(
                f"OPA refused the gateway's credentials (HTTP {status}); "
                "K8S_MCP_OPA_TOKEN_FILE or K8S_MCP_OPA_TOKEN must hold the token OPA was started with",
                text,
            )
        if status != 200:
            raise self._unavailable(f"HTTP {status}", text)
        try:
            body = json.loads(response.content)
        except ValueError:
            raise self._unavailable("malformed JSON", text) from None
        if not isinstance(body, dict) or "result" not in body:
            raise self._unavailable("undefined result (is the policy loaded at this path?)", url)
        decision_id = body.get("decision_id")
        return body["result"], decision_id if isinstance(decision_id, str) else None

    @staticmethod
    def _unavailable(detail: str, context: Any) -> PolicyUnavailable:
        log.error("policy unavailable: %s: %.500r", detail, context)
        return PolicyUnavailable(detail)

    async def aclose(self) -> None:
        await self._pool.aclose()
