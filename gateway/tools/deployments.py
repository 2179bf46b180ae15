"""Deployment tools: list, describe, rollout status and history, and the writes (restart, scale,
rollout undo) with their previews."""

import copy
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import Field

from gateway.errors import KubeError
from gateway.kube import Kube
from gateway.preview import Snapshot
from gateway.tools.events import described
from gateway.tools.listing import each, namespaced_list
from gateway.tools.replicasets import list_replica_sets
from gateway.tools.shape import (
    CHANGE_CAUSE,
    Json,
    counts,
    images,
    revision,
    rfc3339,
    selector_text,
    workload,
)
from gateway.validation import Namespace, ObjectName

if TYPE_CHECKING:
    from kubernetes.client import V1Deployment, V1Scale

RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
POD_TEMPLATE_HASH = "pod-template-hash"
"""The label the deployment controller adds to each ReplicaSet's template; not part of a revision."""
PROGRESS_DEADLINE_EXCEEDED = "ProgressDeadlineExceeded"

DeploymentName = Annotated[ObjectName, Field(description="Deployment name (DNS-1123 subdomain).")]
DryRun = Annotated[bool, Field(description="Validate on the server without persisting the change.")]


def _row(d: Json) -> dict[str, Any]:
    """One line of a deployment listing, read from the API's JSON (a listing builds no models)."""
    metadata, spec = d["metadata"], d.get("spec") or {}
    return {
        "name": metadata["name"],
        "replicas": spec.get("replicas"),
        **counts(
            d.get("status") or {}, ready="readyReplicas", updated="updatedReplicas", available="availableReplicas"
        ),
        "images": images(spec["template"]),
        "created": rfc3339(metadata.get("creationTimestamp")),
    }


list_deployments = namespaced_list(
    "deployments",
    "List deployments in a namespace with desired, ready, updated and available replicas.",
    method=lambda kube: kube.json_list(
        "/apis/apps/v1/namespaces/{namespace}/deployments", name="list_namespaced_deployment"
    ),
    rows=each(_row),
)


async def describe_deployment(
    kube: Kube, deployment_name: DeploymentName, namespace: Namespace = "default"
) -> dict[str, Any]:
    """Describe a deployment: replicas, rollout conditions, strategy, selector, pod template, events."""
    d = await kube.call(kube.apps.read_namespaced_deployment, name=deployment_name, namespace=namespace)
    return await described(
        kube,
        d,
        _row(kube.api_client.sanitize_for_serialization(d)),
        kind="Deployment",
        namespace=namespace,
        revision=revision(d.metadata),
        strategy=d.spec.strategy.type if d.spec.strategy else None,
        paused=bool(d.spec.paused),
        **workload(d),
    )


def _rollout(d: "V1Deployment") -> tuple[str, str]:
    """(state, message) as `kubectl rollout status` decides them, without waiting."""
    name, status = d.metadata.name, d.status
    if status is None or (d.metadata.generation or 0) > (status.observed_generation or 0):
        return "progressing", "waiting for the deployment spec update to be observed"
    progressing = next((c for c in status.conditions or [] if c.type == "Progressing"), None)
    if progressing is not None and progressing.reason == PROGRESS_DEADLINE_EXCEEDED:
        return "failed", f'deployment "{name}" exceeded its progress deadline'
    desired, updated = d.spec.replicas, status.updated_replicas or 0
    if desired is not None and updated < desired:
        return "progressing", f"{updated} out of {desired} new replicas have been updated"
    if (status.replicas or 0) > updated:
        return "progressing", f"{(status.replicas or 0) - updated} old replicas are pending termination"
    if (status.available_replicas or 0) < updated:
        return "progressing", f"{status.available_replicas or 0} of {updated} updated replicas are available"
    return "complete", f'deployment "{name}" successfully rolled out'


async def rollout_status(
    kube: Kube, deployment_name: DeploymentName, namespace: Namespace = "default"
) -> dict[str, Any]:
    """Where a deployment's rollout stands, as `kubectl rollout status` says it: complete, progressing or failed."""
    d = await kube.call(kube.apps.read_namespaced_deployment, name=deployment_name, namespace=namespace)
    state, message = _rollout(d)
    return {
        "deployment": deployment_name,
        "namespace": namespace,
        "revision": revision(d.metadata),
        "state": state,
        "message": message,
        "paused": bool(d.spec.paused),
        "replicas": d.spec.replicas,
        **counts(
            d.status,
            updated="updated_replicas",
            ready="ready_replicas",
            available="available_replicas",
            unavailable="unavailable_replicas",
        ),
    }


def _revision_row(rs: Json, current: int | None) -> dict[str, Any]:
    metadata, spec = rs["metadata"], rs.get("spec") or {}
    number = revision(metadata)
    return {
        "revision": number,
        "current": number is not None and number == current,
        "replicaset": metadata["name"],
        "change_cause": (metadata.get("annotations") or {}).get(CHANGE_CAUSE),
        "images": images(spec["template"]),
        "replicas": spec.get("replicas"),
        **counts(rs.get("status") or {}, ready="readyReplicas"),
        "created": rfc3339(metadata.get("creationTimestamp")),
    }


async def _owned_replica_sets(kube: Kube, d: "V1Deployment", namespace: str) -> list[Json]:
    """The ReplicaSets the deployment controls, as the API's JSON: one per revision."""
    sets = await kube.call(
        list_replica_sets(kube),
        namespace=namespace,
        label_selector=selector_text(d.spec.selector) or None,
    )
    return [
        rs
        for rs in sets["items"] or []
        if any(
            o.get("controller") and o.get("uid") == d.metadata.uid for o in rs["metadata"].get("ownerReferences") or []
        )
    ]


async def rollout_history(
    kube: Kube, deployment_name: DeploymentName, namespace: Namespace = "default"
) -> dict[str, Any]:
    """A deployment's revisions, oldest first: one per ReplicaSet it owns, with images and change cause."""
    d = await kube.call(kube.apps.read_namespaced_deployment, name=deployment_name, namespace=namespace)
    owned = await _owned_replica_sets(kube, d, namespace)
    current = revision(d.metadata)
    rows = [_revision_row(rs, current) for rs in owned]
    return {
        "deployment": deployment_name,
        "namespace": namespace,
        "revision": current,
        "revisions": sorted(rows, key=lambda row: row["revision"] or 0),
    }


def _dry_run(enabled: bool) -> str | None:
    return "All" if enabled else None


def _spec(kube: Kube, obj: Any) -> dict[str, Any]:
    spec: dict[str, Any] = kube.api_client.sanitize_for_serialization(obj.spec)
    return spec


async def _restart(kube: Kube, name: str, namespace: str, dry_run: bool) -> tuple[str, "V1Deployment"]:
    now = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    body = {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: now}}}}}
    patched = await kube.call(
        kube.apps.patch_namespaced_deployment, name=name, namespace=namespace, body=body, dry_run=_dry_run(dry_run)
    )
    return now, patched


async def restart_deployment(
    kube: Kube, deployment_name: DeploymentName, namespace: Namespace = "default", dry_run: DryRun = False
) -> dict[str, Any]:
    """Rolling-restart a deployment (as `kubectl rollout restart` does). A write: needs policy consent."""
    now, _ = await _restart(kube, deployment_name, namespace, dry_run)
    return {"deployment": deployment_name, "namespace": namespace, "restarted_at": now, "dry_run": dry_run}


async def preview_restart(kube: Kube, deployment_name: str, namespace: str = "default") -> Snapshot:
    """The deployment's spec now, and after the restart's own patch run as a server-side dry run."""
    current = await kube.call(kube.apps.read_namespaced_deployment, name=deployment_name, namespace=namespace)
    _, planned = await _restart(kube, deployment_name, namespace, dry_run=True)
    return _spec(kube, current), _spec(kube, planned)


async def _scale(kube: Kube, name: str, namespace: str, replicas: int, dry_run: bool) -> "V1Scale":
    scale: V1Scale = await kube.call(
        kube.apps.patch_namespaced_deployment_scale,
        name=name,
        namespace=namespace,
        body={"spec": {"replicas": replicas}},
        dry_run=_dry_run(dry_run),
    )
    return scale


async def scale_deployment(
    kube: Kube,
    deployment_name: DeploymentName,
    replicas: Annotated[int, Field(ge=0, le=100, description="Desired number of replicas.")],
    namespace: Namespace = "default",
    dry_run: DryRun = False,
) -> dict[str, Any]:
    """Set a deployment's replica count through its scale subresource. A write: needs policy consent."""
    scale = await _scale(kube, deployment_name, namespace, replicas, dry_run)
    return {
        "deployment": deployment_name,
        "namespace": namespace,
        "replicas": scale.spec.replicas,
        "dry_run": dry_run,
    }


async def preview_scale(kube: Kube, deployment_name: str, replicas: int, namespace: str = "default") -> Snapshot:
    """The replica count now, and after the scale's own patch run as a server-side dry run.

    The count now is read from the deployment, which the gateway may `get`; its RBAC grants only
    `patch` on the scale subresource. The API server leaves a count of 0 out, hence the `or 0`.
    """
    current = await kube.call(kube.apps.read_namespaced_deployment, name=deployment_name, namespace=namespace)
    planned = await _scale(kube, deployment_name, namespace, replicas, dry_run=True)
    return {"replicas": current.spec.replicas or 0}, {"replicas": planned.spec.replicas or 0}


ToRevision = Annotated[
    int | None,
    Field(
        ge=1, le=1_000_000, description="The revision to go back to (see rollout_history); omit for the previous one."
    ),
]


def _undo_target(d: "V1Deployment", owned: list[Json], to_revision: int | None) -> tuple[int, Json]:
    """The revision `kubectl rollout undo` goes back to, and its ReplicaSet: `to_revision`, or the
    newest revision before the current one."""
    name = f"{d.metadata.namespace}/{d.metadata.name}"
    by_revision = {number: rs for rs in owned if (number := revision(rs["metadata"])) is not None}
    known = ", ".join(str(number) for number in sorted(by_revision)) or "none"
    if to_revision is not None:
        if to_revision not in by_revision:
            raise KubeError(f"deployment {name} has no revision {to_revision} (revisions: {known})", status=404)
        return to_revision, by_revision[to_revision]
    current = revision(d.metadata)
    earlier = [number for number in by_revision if current is None or number < current]
    if not earlier:
        raise KubeError(f"deployment {name} has no revision before {current} to go back to (revisions: {known})")
    return max(earlier), by_revision[max(earlier)]


def _template_of(rs: Json) -> dict[str, Any]:
    """The ReplicaSet's pod template as the deployment's: without the label the controller adds to it."""
    template: dict[str, Any] = copy.deepcopy(rs["spec"]["template"])
    labels = (template.get("metadata") or {}).get("labels") or {}
    labels.pop(POD_TEMPLATE_HASH, None)
    return template


async def _undo(
    kube: Kube, name: str, namespace: str, to_revision: int | None, dry_run: bool
) -> "tuple[int, V1Deployment, V1Deployment]":
    """The revision gone back to, the deployment as read, and as patched (the read is the one the
    patch tests, so a preview's "before" is exactly what its dry run changed)."""
    d = await kube.call(kube.apps.read_namespaced_deployment, name=name, namespace=namespace)
    target, rs = _undo_target(d, await _owned_replica_sets(kube, d, namespace), to_revision)
    # A JSON patch that tests the version it read: a deployment changed since fails with a conflict.
    body = [
        {"op": "test", "path": "/metadata/resourceVersion", "value": d.metadata.resource_version},
        {"op": "replace", "path": "/spec/template", "value": _template_of(rs)},
    ]
    patched = await kube.call(
        kube.apps.patch_namespaced_deployment, name=name, namespace=namespace, body=body, dry_run=_dry_run(dry_run)
    )
    return target, d, patched


async def rollout_undo(
    kube: Kube,
    deployment_name: DeploymentName,
    namespace: Namespace = "default",
    to_revision: ToRevision = None,
    dry_run: DryRun = False,
) -> dict[str, Any]:
    """Roll a deployment back to an earlier revision, as `kubectl rollout undo` does: its pod template
    becomes that revision's (the previous one unless `to_revision` is given), which rolls its pods.
    A write: the policy must allow it, and it may need a human approval first."""
    target, _, patched = await _undo(kube, deployment_name, namespace, to_revision, dry_run)
    return {
        "deployment": deployment_name,
        "namespace": namespace,
        "to_revision": target,
        "images": images(patched.spec.template),
        "dry_run": dry_run,
    }


async def preview_rollout_undo(
    kube: Kube, deployment_name: str, namespace: str = "default", to_revision: int | None = None
) -> Snapshot:
    """The deployment's spec now, and after the undo's own patch run as a server-side dry run."""
    _, current, planned = await _undo(kube, deployment_name, namespace, to_revision, dry_run=True)
    return _spec(kube, current), _spec(kube, planned)
