"""Deployment tools: list, describe, and the two writes (restart, scale) with their previews."""

from datetime import UTC, datetime
from typing import Annotated, Any

from kubernetes.client import V1Deployment, V1Scale
from pydantic import Field

from gateway.kube import Kube
from gateway.preview import Snapshot
from gateway.tools.events import events_for
from gateway.tools.shape import container, timestamp
from gateway.validation import Namespace, ObjectName

RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"

DryRun = Annotated[bool, Field(description="Validate on the server without persisting the change.")]


def _row(d: V1Deployment) -> dict[str, Any]:
    status = d.status
    return {
        "name": d.metadata.name,
        "replicas": d.spec.replicas,
        "ready": (status.ready_replicas or 0) if status else 0,
        "updated": (status.updated_replicas or 0) if status else 0,
        "available": (status.available_replicas or 0) if status else 0,
        "images": [c.image for c in d.spec.template.spec.containers],
        "created": timestamp(d.metadata.creation_timestamp),
    }


async def list_deployments(kube: Kube, namespace: Namespace = "default") -> dict[str, Any]:
    """List deployments in a namespace with desired, ready, updated and available replicas."""
    result = await kube.call(kube.apps.list_namespaced_deployment, namespace=namespace)
    return {"namespace": namespace, "deployments": [_row(d) for d in result.items]}


async def describe_deployment(
    kube: Kube, deployment_name: ObjectName, namespace: Namespace = "default"
) -> dict[str, Any]:
    """Describe a deployment: replicas, rollout conditions, strategy, selector, pod template, events."""
    d = await kube.call(kube.apps.read_namespaced_deployment, name=deployment_name, namespace=namespace)
    return {
        **_row(d),
        "namespace": namespace,
        "labels": d.metadata.labels or {},
        "selector": d.spec.selector.match_labels or {},
        "strategy": d.spec.strategy.type if d.spec.strategy else None,
        "paused": bool(d.spec.paused),
        "conditions": [
            {"type": c.type, "status": c.status, "reason": c.reason, "message": c.message}
            for c in ((d.status.conditions or []) if d.status else [])
        ],
        "containers": [container(c, None) for c in d.spec.template.spec.containers],
        "events": await events_for(kube, namespace=namespace, kind="Deployment", name=deployment_name),
    }


def _dry_run(enabled: bool) -> str | None:
    return "All" if enabled else None


def _spec(kube: Kube, obj: Any) -> dict[str, Any]:
    spec: dict[str, Any] = kube.api_client.sanitize_for_serialization(obj.spec)
    return spec


async def _restart(kube: Kube, name: str, namespace: str, dry_run: bool) -> tuple[str, V1Deployment]:
    now = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    body = {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: now}}}}}
    patched = await kube.call(
        kube.apps.patch_namespaced_deployment, name=name, namespace=namespace, body=body, dry_run=_dry_run(dry_run)
    )
    return now, patched


async def restart_deployment(
    kube: Kube, deployment_name: ObjectName, namespace: Namespace = "default", dry_run: DryRun = False
) -> dict[str, Any]:
    """Rolling-restart a deployment (as `kubectl rollout restart` does). A write: needs policy consent."""
    now, _ = await _restart(kube, deployment_name, namespace, dry_run)
    return {"deployment": deployment_name, "namespace": namespace, "restarted_at": now, "dry_run": dry_run}


async def preview_restart(kube: Kube, deployment_name: str, namespace: str = "default") -> Snapshot:
    """The deployment's spec now, and after the restart's own patch run as a server-side dry run."""
    current = await kube.call(kube.apps.read_namespaced_deployment, name=deployment_name, namespace=namespace)
    _, planned = await _restart(kube, deployment_name, namespace, dry_run=True)
    return _spec(kube, current), _spec(kube, planned)


async def _scale(kube: Kube, name: str, namespace: str, replicas: int, dry_run: bool) -> V1Scale:
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
    deployment_name: ObjectName,
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
