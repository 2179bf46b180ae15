"""Who is calling: the `principal` of the policy input, and the check other HTTP routes use.

On HTTP with `K8S_MCP_AUTH` set to `tokens` or `jwt`, FastMCP's auth middleware verifies the
bearer token of every request and the MCP endpoint refuses a request without a valid one (see
`gateway.http_app`); the principal is the token's subject and groups, read through FastMCP's
`get_access_token()`, with `authenticated` true. With `none` (loopback only) the caller is
`system:anonymous`, `authenticated` false, and the shipped policy refuses it. On stdio there is
no token: the principal is the one the operator configured (default: the OS user who started the
gateway), trusted as local, also with `authenticated` false. Never an empty or fake subject.

Routes added with `custom_route` are not covered by FastMCP's auth: they call
`authenticate_request` themselves.
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass
from typing import Any, Literal

from fastmcp.server.auth import AccessToken, TokenVerifier
from fastmcp.server.dependencies import get_access_token
from starlette.requests import Request

from gateway.auth import VerifiedToken, bearer_token, check_token

Transport = Literal["stdio", "http"]
ANONYMOUS = "system:anonymous"


@dataclass(frozen=True, slots=True, kw_only=True)
class Principal:
    """One caller: who (`sub`), their groups, and whether a verified credential says so."""

    sub: str
    groups: tuple[str, ...]
    authenticated: bool

    @classmethod
    def of_token(cls, token: AccessToken) -> Principal:
        """The caller a verified access token names."""
        if isinstance(token, VerifiedToken):
            groups = token.groups
        else:
            claimed = (token.claims or {}).get("groups")
            groups = [str(g) for g in claimed] if isinstance(claimed, list) else []
        return cls(sub=str(token.subject or token.client_id), groups=tuple(groups), authenticated=True)

    def document(self, client: dict[str, str | None]) -> dict[str, Any]:
        """`input.principal` of the policy contract."""
        return {"sub": self.sub, "groups": list(self.groups), "authenticated": self.authenticated, "client": client}


ANONYMOUS_PRINCIPAL = Principal(sub=ANONYMOUS, groups=(), authenticated=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class StdioIdentity:
    """The configured stdio principal, resolved once at start."""

    sub: str
    groups: tuple[str, ...]

    @classmethod
    def configured(cls, *, sub: str | None, groups: list[str]) -> StdioIdentity:
        return cls(sub=sub or getpass.getuser(), groups=tuple(groups))

    @property
    def principal(self) -> Principal:
        return Principal(sub=self.sub, groups=self.groups, authenticated=False)


def current_principal(*, transport: Transport, stdio: StdioIdentity) -> Principal:
    """The caller of the MCP request being handled, from FastMCP's verified access token."""
    token = get_access_token()
    if token is not None:
        return Principal.of_token(token)
    return stdio.principal if transport == "stdio" else ANONYMOUS_PRINCIPAL


async def authenticate_request(request: Request, verifier: TokenVerifier | None) -> Principal | None:
    """The caller of an HTTP request to a route FastMCP's auth does not cover.

    With a verifier: the principal its bearer token names, or None when the token is missing or
    invalid (answer 401). Without one (`K8S_MCP_AUTH=none`, loopback only): `system:anonymous`,
    not authenticated, so the route can refuse or ask the policy.
    """
    if verifier is None:
        return ANONYMOUS_PRINCIPAL
    checked = await check_token(verifier, bearer_token(request.headers))
    return Principal.of_token(checked) if isinstance(checked, VerifiedToken) else None
