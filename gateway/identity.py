"""Who is calling: the `principal` of the policy input.

On HTTP the principal comes from the verified access token when an auth provider is configured;
without one the caller is `system:anonymous` and `authenticated` is false, so a policy can refuse
it. On stdio there is no token: the principal is the one the operator configured (default: the OS
user who started the gateway), also with `authenticated` false. Never an empty or fake subject.
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass
from typing import Any, Literal

from fastmcp.server.dependencies import get_access_token

Transport = Literal["stdio", "http"]
ANONYMOUS = "system:anonymous"


@dataclass(frozen=True, slots=True, kw_only=True)
class StdioIdentity:
    """The configured stdio principal, resolved once at start."""

    sub: str
    groups: tuple[str, ...]

    @classmethod
    def configured(cls, *, sub: str | None, groups: list[str]) -> StdioIdentity:
        return cls(sub=sub or getpass.getuser(), groups=tuple(groups))


def principal(*, transport: Transport, stdio: StdioIdentity, client: dict[str, str | None]) -> dict[str, Any]:
    token = get_access_token()
    if token is not None:
        claims = token.claims or {}
        groups = claims.get("groups", [])
        return {
            "sub": str(token.subject or claims.get("sub") or token.client_id),
            "groups": [str(g) for g in groups] if isinstance(groups, list) else [],
            "authenticated": True,
            "client": client,
        }
    if transport == "stdio":
        return {"sub": stdio.sub, "groups": list(stdio.groups), "authenticated": False, "client": client}
    return {"sub": ANONYMOUS, "groups": [], "authenticated": False, "client": client}
