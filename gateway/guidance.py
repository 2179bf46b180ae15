"""What the policy tells the caller beyond allow or deny: its hints, in words and to the tools.

The decision may carry `hints` (the README's policy contract): on a denial, the namespaces this
caller may use for the tool and what a write needs; on `list_namespaces`, the namespaces this
caller may use; on `my_permissions`, a summary of what this caller may do. The guard puts a
denial's hints into the message the agent reads (`advice`), and hands every call's caller and
hints to the tool it runs (`DECIDED`), so that a tool reports what OPA decided instead of
guessing it. Hints never decide a call: every call is decided again.
"""

from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from gateway.errors import GatewayError
from gateway.policy import Hints


@dataclass(frozen=True, slots=True, kw_only=True)
class Decided:
    """The call the guard let through: who calls (`input.principal`), how, on which cluster, and the
    decision's hints."""

    principal: dict[str, Any]
    transport: str
    cluster: str
    hints: Hints


DECIDED: ContextVar[Decided | None] = ContextVar("k8s_mcp_gateway_decided", default=None)
"""Set by the guard just before an allowed call runs its tool."""


def decided() -> Decided:
    """The allowed call being run; a tool run without the guard has none, and fails."""
    current = DECIDED.get()
    if current is None:
        raise GatewayError("internal error: the call was not decided by the policy")
    return current


def advice(hints: Hints) -> str:
    """One sentence from a denial's hints, for the agent; empty without any."""
    parts = []
    if hints.namespaces is not None:
        usable = ", ".join(hints.namespaces) or "none"
        parts.append(f"namespaces you may use for this tool: {usable}")
    if hints.writes:
        parts.extend(hints.writes)
    return "; ".join(parts)


async def my_permissions(current: Callable[[], Decided]) -> dict[str, Any]:
    """Show who the gateway thinks you are and what the policy lets you do on a cluster: where reads
    go, which writes you may make and which approval each needs."""
    call = current()
    principal = call.principal
    return {
        "caller": {
            "sub": principal["sub"],
            "groups": principal["groups"],
            "authenticated": principal["authenticated"],
            "transport": call.transport,
        },
        "cluster": call.cluster,
        "permissions": call.hints.permissions.model_dump() if call.hints.permissions else None,
    }
