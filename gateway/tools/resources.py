"""The generic read pair for the long tail of kinds: `list_resources` and `get_resource`.

The agent names a kind by `group`, `version` and `kind`; the catalog resolves it through discovery
(`gateway.discovery`) before the policy is asked, so the policy judges the real group and plural,
and the tool reads it again from the same cache. The answer is a concise row per object (name,
namespace, age, labels, owners and a few status fields every kind may have), never the object
itself: no `spec`, no `data` or `stringData`. Secrets are never read. These tools reach only what
the gateway's RBAC already grants; a kind it does not grant is a `forbidden` error from the API.
"""

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, Field

from gateway.discovery import Discovery, Resource
from gateway.errors import InvalidArguments
from gateway.tools.listing import DEFAULT_PAGE
from gateway.validation import (
    DNS1123_SUBDOMAIN,
    ContinueToken,
    LabelSelector,
    Limit,
    Namespace,
    ObjectName,
    matching,
)

_GROUP = re.compile(rf"^(core|{DNS1123_SUBDOMAIN.pattern[1:-1]})?$")
_VERSION = re.compile(r"^v[1-9][0-9]*((alpha|beta)[1-9][0-9]*)?$")
_KIND = re.compile(r"^[A-Za-z][A-Za-z0-9]{0,62}$")


Group = Annotated[
    str,
    Field(
        max_length=253,
        description="API group, e.g. 'apps', 'batch', 'networking.k8s.io'; '' or 'core' for the core group.",
        json_schema_extra={"pattern": _GROUP.pattern},
    ),
    AfterValidator(
        matching(_GROUP, "must be an API group: '' or 'core' for the core group, else a DNS-1123 subdomain")
    ),
]
Version = Annotated[
    str,
    Field(
        max_length=20,
        description="API version, e.g. 'v1', 'v2', 'v1beta1'.",
        json_schema_extra={"pattern": _VERSION.pattern},
    ),
    AfterValidator(matching(_VERSION, "must be an API version such as 'v1' or 'v1beta1'")),
]
Kind = Annotated[
    str,
    Field(
        max_length=63,
        description="The kind, e.g. 'PodDisruptionBudget', or its plural resource name, e.g. 'poddisruptionbudgets'.",
        json_schema_extra={"pattern": _KIND.pattern},
    ),
    AfterValidator(
        matching(_KIND, "must be a kind such as 'Deployment' or a resource such as 'deployments': letters and digits")
    ),
]
OptionalNamespace = Annotated[
    Namespace | None,
    Field(description="Namespace of a namespaced kind ('default' when omitted); omit it for a cluster-scoped kind."),
]
ResourceName = Annotated[ObjectName, Field(description="The object's name (DNS-1123 subdomain).")]

CONDITIONS = ("Ready", "Available", "Progressing", "Complete", "Failed")
"""The conditions a row shows, when the object has them: the ones most kinds use for health."""


async def resolved(
    discovery: Discovery, group: str, version: str, kind: str, namespace: str | None, verb: str
) -> tuple[Resource, str | None]:
    """The resource and the namespace a call of the generic pair reaches, or `InvalidArguments`."""
    resource = await discovery.resolve(group, version, kind)
    if verb not in resource.verbs:
        raise InvalidArguments([f"kind: {resource.api_version} {resource.kind} cannot be read with {verb!r}"])
    if not resource.namespaced:
        if namespace is not None:
            raise InvalidArguments([f"namespace: {resource.kind} is cluster-scoped; omit namespace"])
        return resource, None
    return resource, namespace or "default"


def _age(created: str | None, now: datetime) -> str | None:
    """How long ago, as `kubectl get` prints it: `45s`, `12m`, `5h`, `3d`."""
    if not created:
        return None
    seconds = max(int((now - datetime.fromisoformat(created.replace("Z", "+00:00"))).total_seconds()), 0)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def row(obj: dict[str, Any], now: datetime) -> dict[str, Any]:
    """A concise row of any object: who it is, how old, and the status fields most kinds share."""
    meta, spec, status = _object(obj.get("metadata")), _object(obj.get("spec")), _object(obj.get("status"))
    conditions = [c for c in status.get("conditions") or [] if isinstance(c, dict)]
    created = _text(meta.get("creationTimestamp"))
    return {
        "name": str(meta.get("name", "")),
        "namespace": _text(meta.get("namespace")),
        "created": created,
        "age": _age(created, now),
        "labels": {str(k): str(v) for k, v in (meta.get("labels") or {}).items()},
        "owner": [f"{o.get('kind')}/{o.get('name')}" for o in meta.get("ownerReferences") or []],
        "phase": _text(status.get("phase")),
        "conditions": [f"{c.get('type')}={c.get('status')}" for c in conditions if c.get("type") in CONDITIONS],
        "replicas": _count(spec.get("replicas")),
        "ready_replicas": _count(status.get("readyReplicas")),
    }


def _kind(resource: Resource) -> dict[str, Any]:
    return {"group": resource.group, "version": resource.version, "kind": resource.kind, "resource": resource.plural}


async def list_resources(
    discovery: Discovery,
    group: Group,
    version: Version,
    kind: Kind,
    namespace: OptionalNamespace = None,
    label_selector: LabelSelector = None,
    limit: Limit = DEFAULT_PAGE,
    continue_token: ContinueToken = None,
) -> dict[str, Any]:
    """List objects of any kind the gateway may read (not Secrets): name, namespace, age, labels, owners,
    phase, health conditions and replicas. For kinds without their own list tool."""
    resource, where = await resolved(discovery, group, version, kind, namespace, "list")
    query: list[tuple[str, Any]] = [("limit", limit)]
    query += [("labelSelector", label_selector)] if label_selector else []
    query += [("continue", continue_token)] if continue_token else []
    page = await discovery.get(resource.path(namespace=where), query)
    now = datetime.now(UTC)
    meta = _object(page.get("metadata"))
    return {
        **_kind(resource),
        "namespace": where,
        "items": [row(item, now) for item in page.get("items") or []],
        "continue": meta.get("continue") or None,
        "remaining": _count(meta.get("remainingItemCount")),
    }


async def get_resource(
    discovery: Discovery,
    group: Group,
    version: Version,
    kind: Kind,
    name: ResourceName,
    namespace: OptionalNamespace = None,
) -> dict[str, Any]:
    """Read one object of any kind the gateway may read (not Secrets), as the same concise row
    `list_resources` gives. For kinds without their own describe tool."""
    resource, where = await resolved(discovery, group, version, kind, namespace, "get")
    obj = await discovery.get(resource.path(namespace=where, name=name))
    return {**_kind(resource), **row(obj, datetime.now(UTC))}
