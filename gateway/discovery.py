"""What a `group/version/kind` an agent names really is, from the API server's discovery.

The generic tools (`gateway.tools.resources`) take a kind as the agent writes it: `Deployment`,
`deployment` or `deployments`. The policy must judge the real thing, so before OPA is asked the catalog
resolves it here to the resource the API serves: its group, plural, scope and verbs. Each
group/version's resource list is read once per process and read again on a miss (at most once
per `min_refresh` seconds, so unknown kinds cannot make the gateway hammer the API server).

Secrets are never read, however they are spelled: a kind that names them in the core group is
refused before any request is made, and `GatewayState.refuse` refuses the resolved action again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gateway.errors import GatewayDenied, InvalidArguments, KubeError
from gateway.kube import Kube

CORE_ALIASES = ("", "core")
"""How the core group may be written: empty, as the API has it, or `core`, as people say it."""
SECRET_NAMES = frozenset({"secret", "secrets"})
SECRETS_REFUSED = "secrets are never read through the gateway"


@dataclass(frozen=True, slots=True, kw_only=True)
class Resource:
    """One resource the API server serves, as its discovery document names it."""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    verbs: frozenset[str]

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def path(self, *, namespace: str | None, name: str | None = None) -> str:
        """The REST path of the collection (in `namespace`, for a namespaced resource) or of one object."""
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        where = f"/namespaces/{namespace}" if self.namespaced and namespace is not None else ""
        return f"{base}{where}/{self.plural}" + (f"/{name}" if name is not None else "")


def get_json(api_client: Any, *, path: str, query: list[tuple[str, Any]], _request_timeout: float) -> Any:
    """GET `path` with the client's credentials; the decoded JSON, or the client's `ApiException`."""
    request = api_client.param_serialize(
        method="GET",
        resource_path=path,
        query_params=query,
        header_params={"Accept": "application/json"},
        auth_settings=["BearerToken"],
    )
    response = api_client.call_api(*request, _request_timeout=_request_timeout)
    response.read()
    return api_client.response_deserialize(response, {"200": "object"}).data


def core_group(group: str) -> str:
    """The group as the API writes it: the core group's aliases become ``."""
    return "" if group in CORE_ALIASES else group


def refuse_secrets(group: str, kind: str) -> None:
    """Refuse a core-group kind that names Secrets, before discovery is asked anything."""
    if core_group(group) == "" and kind.lower() in SECRET_NAMES:
        raise GatewayDenied([SECRETS_REFUSED])


class Discovery:
    """Resolves kinds through the API server's discovery, caching each group/version's resource list."""

    def __init__(self, kube: Kube, *, min_refresh: float = 10.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.kube = kube
        self.min_refresh = min_refresh
        self.clock = clock
        self._resources: dict[tuple[str, str], list[Resource]] = {}
        self._read_at: dict[tuple[str, str], float] = {}
        self._lock = asyncio.Lock()

    async def resolve(self, group: str, version: str, kind: str) -> Resource:
        """The resource `kind` names in `group/version`: its kind (in any case) or its plural.

        Raises `GatewayDenied` for Secrets and `InvalidArguments` naming the field for a kind the
        API server does not serve.
        """
        group = core_group(group)
        refuse_secrets(group, kind)
        key = (group, version)
        found = _match(self._resources.get(key, []), kind)
        if found is None:
            async with self._lock:
                found = _match(await self._refreshed(key), kind)
        if found is None:
            raise InvalidArguments([f"kind: {_api_version(group, version)} serves no resource named {kind!r}"])
        return found

    async def _refreshed(self, key: tuple[str, str]) -> list[Resource]:
        """The group/version's resources, read again unless they were read within `min_refresh`."""
        read_at = self._read_at.get(key)
        if read_at is None or self.clock() - read_at >= self.min_refresh:
            self._resources[key] = await self._read(*key)
            self._read_at[key] = self.clock()
        return self._resources[key]

    async def get(self, path: str, query: list[tuple[str, Any]] | None = None) -> Any:
        """GET `path` from the API server as the gateway's identity; the decoded JSON answer."""
        return await self.kube.call(get_json, api_client=self.kube.api_client, path=path, query=query or [])

    async def _read(self, group: str, version: str) -> list[Resource]:
        try:
            document = await self.get(f"/apis/{group}/{version}" if group else f"/api/{version}")
        except KubeError as exc:
            if exc.status == 404:
                return []
            raise
        return [
            Resource(
                group=group,
                version=version,
                kind=str(item["kind"]),
                plural=str(item["name"]),
                namespaced=bool(item.get("namespaced")),
                verbs=frozenset(item.get("verbs") or ()),
            )
            for item in _items(document)
        ]


def _items(document: Any) -> list[dict[str, Any]]:
    """The top-level resources of an APIResourceList: subresources (`pods/log`) are not kinds."""
    resources = document.get("resources") if isinstance(document, dict) else None
    return [r for r in resources or [] if isinstance(r, dict) and "/" not in str(r.get("name", ""))]


def _match(resources: list[Resource], kind: str) -> Resource | None:
    """The resource whose kind (any case) or plural is `kind`; a kind match wins over a plural one."""
    wanted = kind.lower()
    by_kind = [r for r in resources if r.kind.lower() == wanted]
    by_plural = [r for r in resources if r.plural == wanted]
    found = by_kind or by_plural
    return found[0] if found else None


def _api_version(group: str, version: str) -> str:
    return f"{group}/{version}" if group else version
