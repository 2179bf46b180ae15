"""Readiness (`/readyz`): could this gateway decide and run a tool call right now?

`/healthz` is liveness: the process is up and serves HTTP, and a failure means restart it.
`/readyz` asks the two things every tool call needs, concurrently, each within `CHECK_TIMEOUT`
seconds (or the gateway's own OPA or Kubernetes timeout, when shorter):

- **opa**: OPA answers a real decision query. One POST to the decision path through the
  gateway's own `PolicyClient`, with a fixed input built once at start: a `list_namespaces` call
  by the principal `PROBE_PRINCIPAL`. Any well-formed decision counts, allow or deny; the question
  is whether the policy can be asked, not what it says. Whatever `PolicyClient` turns into
  "policy unavailable" (down, slow, non-2xx, garbage, wrong types) is not ready.
- **kubernetes**: the API server answers `/version` through the gateway's `Kube`, off the event
  loop, with the gateway's own credentials (so a rejected token is not ready either). Every
  authenticated identity may read `/version` (the default `system:public-info-viewer` role), so
  the gateway's RBAC needs no grant for it. With several contexts each one's API server is asked
  at once: the default context decides (`unavailable`: not ready); another one down leaves the
  gateway ready, `degraded`, since its calls on the other clusters still run.

A pod that is not ready leaves its Service's endpoints instead of failing every call closed. The
body names each check with a fixed word for its state, never an error text, an address or an
exception: the route is unauthenticated, for the kubelet. The reasons go to the log.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kubernetes.client import VersionApi

from gateway import __version__
from gateway.catalog import Catalog
from gateway.contexts import Contexts
from gateway.errors import KubeError, PolicyUnavailable
from gateway.guard import INPUT_VERSION, GatewayState, action_digest
from gateway.kube import Kube
from gateway.policy import PolicyClient

log = logging.getLogger(__name__)

CHECK_TIMEOUT = 2.0
"""Seconds each check may take; below the readinessProbe's timeoutSeconds in deploy/gateway.yaml."""
PROBE_TOOL = "list_namespaces"
PROBE_PRINCIPAL = "k8s-mcp-gateway:readiness"
"""Who the probe's decision input names, so OPA's decision log tells probes from agents."""
OK = "ok"
DEGRADED = "degraded"
"""The default context answers and another one does not: ready, with the others' calls failing."""
UNAVAILABLE = "unavailable"


def probe_input(*, catalog: Catalog, gateway: GatewayState) -> dict[str, Any]:
    """The decision input `/readyz` sends: a well-formed `list_namespaces` call by the probe."""
    entry = catalog.get(PROBE_TOOL)
    if entry is None:
        raise LookupError(f"the readiness probe's tool {PROBE_TOOL} is not in the catalog")
    arguments: dict[str, Any] = {}
    return {
        "version": INPUT_VERSION,
        "request": {
            "id": str(uuid.uuid4()),
            "time": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "transport": gateway.transport,
        },
        "principal": {
            "sub": PROBE_PRINCIPAL,
            "groups": [],
            "authenticated": False,
            "client": {"name": "k8s-mcp-gateway", "version": __version__},
        },
        "tool": entry.tool_document,
        "arguments": arguments,
        "action": entry.action.bind(arguments),
        "gateway": gateway.document(),
        "action_digest": action_digest(tool=entry.name, arguments=arguments, cluster=gateway.cluster),
        "approval": None,
    }


@dataclass(frozen=True, slots=True)
class Report:
    """Each check's state, `ok` or `unavailable`."""

    checks: dict[str, str]

    @property
    def ready(self) -> bool:
        return all(state in (OK, DEGRADED) for state in self.checks.values())

    def body(self) -> dict[str, Any]:
        return {"status": "ready" if self.ready else "not ready", "checks": self.checks}


class Readiness:
    """Asks OPA and each context's Kubernetes API server, as a tool call would, whether they answer."""

    def __init__(self, *, policy: PolicyClient, contexts: Contexts, probe: dict[str, Any]) -> None:
        self._policy = policy
        self._contexts = [(context.name, context.kube, VersionApi(context.kube.api_client)) for context in contexts]
        self._probe = probe

    async def check(self) -> Report:
        opa, *clusters = await asyncio.gather(
            self._opa(), *(self._kubernetes(name, kube, version) for name, kube, version in self._contexts)
        )
        default, *others = clusters
        if default == OK and any(state != OK for state in others):
            default = DEGRADED
        return Report({"opa": opa, "kubernetes": default})

    async def _opa(self) -> str:
        try:
            await asyncio.wait_for(self._policy.decide(self._probe), CHECK_TIMEOUT)
        except PolicyUnavailable:
            return UNAVAILABLE  # PolicyClient has logged why
        except TimeoutError:
            log.warning("not ready: OPA gave no decision within %gs", CHECK_TIMEOUT)
            return UNAVAILABLE
        return OK

    async def _kubernetes(self, name: str, kube: Kube, version: VersionApi) -> str:
        timeout = min(kube.timeout, CHECK_TIMEOUT)
        try:
            await asyncio.wait_for(kube.call(version.get_code, _request_timeout=timeout), timeout)
        except KubeError as exc:
            log.warning("context %s unavailable: %s", name, exc)
            return UNAVAILABLE
        except TimeoutError:
            log.warning("context %s unavailable: its Kubernetes API gave no answer within %gs", name, timeout)
            return UNAVAILABLE
        return OK
