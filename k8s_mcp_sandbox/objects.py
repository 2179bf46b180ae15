"""How the sandbox writes Kubernetes objects, and the small builders its seed data shares.

The sandbox has no controllers, so the seed writes every object and every status itself. `apply`
is server-side apply, as `kubectl apply --server-side --force-conflicts` does it: the object
becomes what the manifest says (whoever changed it since, a test or a tool), then its status is
applied through the status subresource, as the object's controller would write it. `owner`,
`involved` and `event` build the references and events those controllers would have recorded.
"""

from __future__ import annotations

import tempfile
import weakref
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from kubernetes.client import ApiClient
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.resource import Resource

Manifest = dict[str, Any]
FIELD_MANAGER = "k8s-mcp-sandbox"
"""Who owns the fields the sandbox applies; the apiserver's managedFields name it."""

_DYNAMIC: weakref.WeakKeyDictionary[ApiClient, DynamicClient] = weakref.WeakKeyDictionary()


def apply(
    api_client: ApiClient,
    manifest: Manifest,
    *,
    status: Manifest | None = None,
    observed: bool = False,
    immutable: bool = False,
    status_once: bool = False,
) -> Any:
    """Server-side apply `manifest`, then `status` through the status subresource, as its
    controller would. Returns the stored object.

    `observed`: the status reports the generation it has seen (`observedGeneration`).
    `immutable`: the spec cannot change once created (pods, Jobs); an existing object is kept.
    `status_once`: the status is written only when the object is created.
    """
    dynamic = _dynamic(api_client)
    resource = dynamic.resources.get(api_version=manifest["apiVersion"], kind=manifest["kind"])
    metadata = manifest["metadata"]
    existing = _get(dynamic, resource, metadata) if immutable or status_once else None
    stored = existing if immutable and existing is not None else _apply(dynamic, resource, manifest)
    if status is None or (status_once and existing is not None):
        return stored
    body = {
        "apiVersion": manifest["apiVersion"],
        "kind": manifest["kind"],
        "metadata": {key: metadata[key] for key in ("name", "namespace") if key in metadata},
        "status": {**status, "observedGeneration": stored.metadata.generation} if observed else status,
    }
    return _apply(dynamic, resource.subresources["status"], body)


def _apply(dynamic: DynamicClient, resource: Any, body: Manifest) -> Any:
    return dynamic.server_side_apply(
        resource,
        body=body,
        name=body["metadata"]["name"],
        namespace=body["metadata"].get("namespace"),
        field_manager=FIELD_MANAGER,
        force_conflicts=True,
    )


def _get(dynamic: DynamicClient, resource: Resource, metadata: Manifest) -> Any:
    """The stored object, or None when there is none."""
    try:
        return dynamic.get(resource, name=metadata["name"], namespace=metadata.get("namespace"))
    except ApiException as exc:
        if exc.status != 404:
            raise
        return None


def _dynamic(api_client: ApiClient) -> DynamicClient:
    """One dynamic client per API client: its discovery of the API's kinds is made once, in memory.

    Its cache file lives in a directory removed as soon as discovery has run, so the client's
    later writes of that cache fail quietly (as it lets them) and nothing is left in /tmp.
    """
    if api_client not in _DYNAMIC:
        with tempfile.TemporaryDirectory(prefix="k8s-mcp-discovery-") as scratch:
            _DYNAMIC[api_client] = DynamicClient(api_client, cache_file=str(Path(scratch) / "discovery.json"))
    return _DYNAMIC[api_client]


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
