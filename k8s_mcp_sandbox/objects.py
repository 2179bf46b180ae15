"""How the sandbox writes Kubernetes objects, and the small builders its seed data shares.

The sandbox has no controllers, so the seed writes every object and every status itself:
`apply` creates an object or puts it back as the manifest says, then writes its status through
the status subresource as the object's controller would. `owner`, `involved` and `event` build
the references and events those controllers would have recorded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from kubernetes.client.exceptions import ApiException

Manifest = dict[str, Any]


def raw(manifest: Manifest) -> Any:
    """A literal manifest as a request body.

    The client sends plain dicts as they are; its type hints ask for model objects, which would
    only re-spell these manifests field by field.
    """
    return manifest


def resource_version(obj: Any) -> str:
    return str(obj.metadata.resource_version)


def ensure(read: Callable[[], object], create: Callable[[], object]) -> None:
    """Create an object only if it is missing (for objects whose spec we never reset)."""
    try:
        read()
    except ApiException as exc:
        if exc.status != 404:
            raise
        create()


@dataclass(frozen=True, slots=True)
class Kind:
    """One kind's methods on a typed API client, found by the client's naming convention
    (`read_namespaced_stateful_set`, `replace_persistent_volume_status`...)."""

    api: Any
    name: str
    namespaced: bool = True

    def method(self, verb: str, suffix: str = "") -> Callable[..., Any]:
        found: Callable[..., Any] = getattr(
            self.api, f"{verb}_{'namespaced_' if self.namespaced else ''}{self.name}{suffix}"
        )
        return found

    def key(self, manifest: Manifest) -> tuple[str, ...]:
        """The object's name, and its namespace where it has one: the leading arguments of a call."""
        metadata = manifest["metadata"]
        return (metadata["name"], metadata["namespace"]) if self.namespaced else (metadata["name"],)


def apply(
    kind: Kind,
    manifest: Manifest,
    *,
    status: Manifest | None = None,
    observed: bool = False,
    immutable: bool = False,
    status_once: bool = False,
) -> Any:
    """Create `manifest`, or put the stored object back to it; then write `status` through the
    status subresource, as its controller would. Returns the stored object.

    `observed`: the status reports the generation it has seen (`observedGeneration`).
    `immutable`: the spec cannot change once created (pods, Jobs); an existing object is kept.
    `status_once`: the status is written only when the object is created.
    """
    key = kind.key(manifest)
    try:
        stored = kind.method("read")(*key)
    except ApiException as exc:
        if exc.status != 404:
            raise
        stored = kind.method("create")(*key[1:], raw(manifest))
        created = True
    else:
        created = False
        if not immutable:
            body = {**manifest, "metadata": {**manifest["metadata"], "resourceVersion": resource_version(stored)}}
            stored = kind.method("replace")(*key, raw(body))
    if status is None or (status_once and not created):
        return stored
    # The whole stored object goes back: a status update also writes metadata (labels!).
    body = kind.api.api_client.sanitize_for_serialization(stored)
    body["status"] = {**status, "observedGeneration": stored.metadata.generation} if observed else status
    return kind.method("replace", "_status")(*key, raw(body))


def owner(obj: Any, kind: str, api_version: str = "apps/v1") -> Manifest:
    """An owner reference to a stored object, as its controller would write it."""
    return {
        "apiVersion": api_version,
        "kind": kind,
        "name": obj.metadata.name,
        "uid": obj.metadata.uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def involved(
    kind: str, namespace: str, name: str, *, api_version: str = "v1", field_path: str | None = None
) -> Manifest:
    involved = {"kind": kind, "namespace": namespace, "name": name, "apiVersion": api_version}
    return {**involved, "fieldPath": field_path} if field_path else involved


def event(
    involved: Manifest,
    suffix: str,
    kind: str,
    reason: str,
    message: str,
    *,
    component: str,
    count: int,
    first: datetime,
    at: datetime,
) -> Manifest:
    """An event as its component records it; one seen `count` times was last seen 40 s ago."""
    kubelet = component == "kubelet"
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": f"{involved['name']}.{suffix}", "namespace": involved["namespace"]},
        "involvedObject": involved,
        "type": kind,
        "reason": reason,
        "message": message,
        "source": {"component": component, **({"host": "node-1"} if kubelet else {})},
        "reportingComponent": component,
        "reportingInstance": "node-1" if kubelet else "",
        "count": count,
        "firstTimestamp": rfc3339(first),
        "lastTimestamp": rfc3339(at - timedelta(seconds=40) if count > 1 else first),
    }


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")
