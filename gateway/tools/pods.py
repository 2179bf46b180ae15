"""Pod tools: list, describe, read logs, and one write (delete) with its preview."""

from typing import Annotated, Any

from pydantic import Field

from gateway.kube import Kube
from gateway.preview import Snapshot
from gateway.tools.deployments import DryRun
from gateway.tools.events import described
from gateway.tools.listing import each, namespaced_list
from gateway.tools.shape import conditions, owners, pod_containers, pod_row, timestamp
from gateway.validation import ContainerName, Namespace, ObjectName

MAX_LOG_BYTES = 1_000_000

PodName = Annotated[ObjectName, Field(description="Pod name (DNS-1123 subdomain).")]

list_pods = namespaced_list(
    "pods",
    "List pods in a namespace with status (as `kubectl get pods` shows it), readiness, restarts and node.",
    method=lambda kube: kube.json_list("/api/v1/namespaces/{namespace}/pods", name="list_namespaced_pod"),
    rows=each(pod_row),
)


async def get_pod_logs(
    kube: Kube,
    pod_name: PodName,
    namespace: Namespace = "default",
    container: Annotated[
        ContainerName | None,
        Field(description="Container name (DNS-1123 label), init containers included; needed if there are several."),
    ] = None,
    tail_lines: Annotated[int | None, Field(ge=1, le=10_000, description="Last N lines.")] = 100,
    since_seconds: Annotated[int | None, Field(ge=1, le=7 * 24 * 3600, description="Only the last N seconds.")] = None,
    previous: Annotated[bool, Field(description="Logs of the previous, crashed container.")] = False,
) -> dict[str, Any]:
    """Read the tail of a container's log (the policy may cap `tail_lines`)."""
    text = await kube.call(
        kube.core.read_namespaced_pod_log,
        name=pod_name,
        namespace=namespace,
        container=container,
        tail_lines=tail_lines,
        since_seconds=since_seconds,
        previous=previous,
        limit_bytes=MAX_LOG_BYTES,
    )
    lines = text.splitlines()
    return {
        "pod": pod_name,
        "namespace": namespace,
        "container": container,
        "previous": previous,
        "lines": len(lines),
        "log": text,
    }


async def describe_pod(kube: Kube, pod_name: PodName, namespace: Namespace = "default") -> dict[str, Any]:
    """Describe a pod: status, owner, conditions, containers (init, ephemeral) with restarts and states, events."""
    pod = await kube.call(kube.core.read_namespaced_pod, name=pod_name, namespace=namespace)
    status = pod.status
    return await described(
        kube,
        pod,
        pod_row(kube.api_client.sanitize_for_serialization(pod)),
        kind="Pod",
        namespace=namespace,
        owner=owners(pod.metadata),
        reason=status.reason if status else None,
        message=status.message if status else None,
        qos=status.qos_class if status else None,
        started=timestamp(status.start_time) if status else None,
        conditions=conditions(status.conditions if status else None),
        **pod_containers(pod),
    )


GracePeriod = Annotated[
    int | None,
    Field(ge=0, le=3600, description="Seconds the pod gets to stop (0: at once); omit for the pod's own."),
]


async def _delete(kube: Kube, name: str, namespace: str, grace_period_seconds: int | None, dry_run: bool) -> None:
    await kube.call(
        kube.core.delete_namespaced_pod,
        name=name,
        namespace=namespace,
        grace_period_seconds=grace_period_seconds,
        dry_run="All" if dry_run else None,
    )


async def delete_pod(
    kube: Kube,
    pod_name: PodName,
    namespace: Namespace = "default",
    grace_period_seconds: GracePeriod = None,
    dry_run: DryRun = False,
) -> dict[str, Any]:
    """Delete a pod, as `kubectl delete pod` does: a pod a controller owns (ReplicaSet, StatefulSet,
    DaemonSet, Job) is replaced by a new one. A write: the policy must allow it, and it may need a
    human approval first."""
    await _delete(kube, pod_name, namespace, grace_period_seconds, dry_run)
    return {
        "pod": pod_name,
        "namespace": namespace,
        "deleted": True,
        "grace_period_seconds": grace_period_seconds,
        "dry_run": dry_run,
    }


async def preview_delete_pod(
    kube: Kube, pod_name: str, namespace: str = "default", grace_period_seconds: int | None = None
) -> Snapshot:
    """The pod as it is (phase, node, owners), and nothing after the delete, checked by a server-side
    dry run."""
    pod = await kube.call(kube.core.read_namespaced_pod, name=pod_name, namespace=namespace)
    await _delete(kube, pod_name, namespace, grace_period_seconds, dry_run=True)
    row = pod_row(kube.api_client.sanitize_for_serialization(pod))
    return {"pod": {"status": row["status"], "node": row["node"], "owners": owners(pod.metadata)}}, {}
