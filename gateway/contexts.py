"""The kubeconfig contexts one gateway serves: one `Kube` each, built at start, and the one a call chose.

With more than one context (`K8S_MCP_CONTEXTS`), every Kubernetes tool takes an optional
`context` argument, one of the configured names; the first is the default. The guard takes it off
the arguments before they are validated, so the tool's own arguments stay what they are, and the
chosen context's cluster name goes into `input.gateway.cluster` and the action digest: the policy
can decide per cluster, and an approval granted for one cluster never runs on another. The tool
then runs against that context's `Kube`, picked here from the context variable the guard set.
"""

from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from fastmcp.tools.base import ToolResult
from fastmcp.tools.function_tool import FunctionTool
from pydantic import Field
from pydantic.json_schema import SkipJsonSchema

from gateway.discovery import Discovery
from gateway.errors import InvalidArguments
from gateway.kube import Kube

ARGUMENT = "context"
"""The argument a Kubernetes tool takes the context under, when there is more than one."""

_CHOSEN: ContextVar[str | None] = ContextVar("k8s_mcp_gateway_context", default=None)
"""The context the call being run chose; the guard sets it before the call reaches its tool."""


@dataclass(frozen=True, slots=True)
class Context:
    """One configured context: its name, the client reaching it and that cluster's discovery."""

    name: str
    kube: Kube
    discovery: Discovery = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "discovery", Discovery(self.kube))


class Contexts:
    """The configured contexts in order (the first is the default), fixed at start."""

    def __init__(self, kubes: Mapping[str, Kube]) -> None:
        if not kubes:
            raise ValueError("at least one context is needed")
        self._by_name = {name: Context(name, kube) for name, kube in kubes.items()}
        self.names = tuple(self._by_name)
        self.default = self._by_name[self.names[0]]

    @property
    def multiple(self) -> bool:
        """Whether calls choose a context: only then do the tools take the `context` argument."""
        return len(self.names) > 1

    def __iter__(self) -> Iterator[Context]:
        return iter(self._by_name.values())

    @property
    def schema(self) -> dict[str, Any]:
        """The JSON Schema property every Kubernetes tool adds to its own when calls choose a context."""
        return {
            ARGUMENT: {
                "type": "string",
                "enum": list(self.names),
                "default": self.names[0],
                "description": "The kubeconfig context (cluster) to run against; see list_contexts.",
            }
        }

    def split(self, *, per_context: bool, raw: dict[str, Any]) -> tuple[dict[str, Any], Context]:
        """Take a call's `context` off its arguments and name the context it chose.

        Raises `InvalidArguments` for a name that is not configured. A `context` given to a gateway
        with one context, or to a tool that chooses none (`Entry.per_context`), is left in the
        arguments, where validation refuses it as it refuses any argument the tool does not have.
        """
        if ARGUMENT not in raw or not (per_context and self.multiple):
            return raw, self.default
        rest = {name: value for name, value in raw.items() if name != ARGUMENT}
        chosen = raw[ARGUMENT]
        if not isinstance(chosen, str) or chosen not in self._by_name:
            allowed = ", ".join(self.names)
            raise InvalidArguments([f"{ARGUMENT}: must be one of the configured contexts ({allowed})"])
        return rest, self._by_name[chosen]

    def chosen(self) -> Context:
        """The context of the call being run (the default outside a call)."""
        name = _CHOSEN.get()
        return self._by_name[name] if name is not None else self.default

    @staticmethod
    def choose(context: Context) -> None:
        """Make `context` the one the rest of this call runs against."""
        _CHOSEN.set(context.name)


async def list_contexts(contexts: Contexts) -> dict[str, Any]:
    """List the kubeconfig contexts (clusters) this gateway serves: each one's name, for the `context`
    argument of the Kubernetes tools, its API server, and which one a call without `context` uses."""
    return {
        "contexts": [
            {
                "name": context.name,
                "server": urlparse(context.kube.api_client.configuration.host).netloc,
                "default": context is contexts.default,
            }
            for context in contexts
        ]
    }


class RoutedTool(FunctionTool):
    """A tool with one body per context: each call runs the body of the context the guard chose."""

    routes: SkipJsonSchema[dict[str, FunctionTool]] = Field(default_factory=dict, exclude=True)

    async def run(self, arguments: dict[str, Any]) -> ToolResult:
        name = _CHOSEN.get()
        route = self.routes.get(name) if name is not None else None
        if route is None:
            return await super().run(arguments)
        return await route.run(arguments)
