"""Pod tools: list, describe, read logs."""

from typing import Annotated, Any

from pydantic import Field

from gateway.kube import Kube
from gateway.tools.events import events_for
from gateway.tools.shape import container, pod_row, timestamp
from gateway.validation import ContainerName, FieldSelector, LabelSelector, Namespace, ObjectName

MAX_LOG_BYTES = 1_000_000


async def list_pods(
    kube: Kube,
    namespace: Namespace = "default",
    label_selector: LabelSelector = None,
    field_selector: FieldSelector = None,
) -> dict[str, Any]:
    """List pods in a namespace with phase, readiness, restarts and node."""
    result = await kube.call(
        kube.core.list_namespaced_pod,
        namespace=namespace,
        label_selector=label_selector,
        field_selector=field_selector,
    )
    return {"namespace": namespace, "pods": [pod_row(p) for p in result.items]}


async def get_pod_logs(
    kube: Kube,
    pod_name: ObjectName,
    namespace: Namespace = "default",
    container: ContainerName | None = None,
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


async def describe_pod(kube: Kube, pod_name: ObjectName, namespace: Namespace = "default") -> dict[str, Any]:
    """Describe a pod: status, conditions, containers with restarts and state, recent events."""
    pod = await kube.call(kube.core.read_namespaced_pod, name=pod_name, namespace=namespace)
    statuses = {s.name: s for s in (pod.status.container_statuses or [])} if pod.status else {}
    return {
        **pod_row(pod),
        "namespace": namespace,
        "labels": pod.metadata.labels or {},
        "owner": [f"{o.kind}/{o.name}" for o in pod.metadata.owner_references or []],
        "conditions": [
            {"type": c.type, "status": c.status, "reason": c.reason, "since": timestamp(c.last_transition_time)}
            for c in (pod.status.conditions or [] if pod.status else [])
        ],
        "containers": [container(c, statuses.get(c.name)) for c in pod.spec.containers],
        "events": await events_for(kube, namespace=namespace, kind="Pod", name=pod_name),
    }
