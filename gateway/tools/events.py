"""Event tools: what happened recently, newest first."""

from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field

from gateway.kube import Kube
from gateway.tools.shape import timestamp
from gateway.validation import FieldSelector, Namespace

if TYPE_CHECKING:
    from kubernetes.client import CoreV1Event

CLUSTER_EVENTS_NAMESPACE = "default"


def _when(event: "CoreV1Event") -> Any:
    return event.last_timestamp or event.event_time or event.first_timestamp or event.metadata.creation_timestamp


def event_rows(events: list["CoreV1Event"], limit: int) -> list[dict[str, Any]]:
    newest = sorted(events, key=lambda e: timestamp(_when(e)) or "", reverse=True)[:limit]
    return [
        {
            "time": timestamp(_when(e)),
            "type": e.type,
            "reason": e.reason,
            "object": f"{e.involved_object.kind}/{e.involved_object.name}",
            "message": e.message,
            "count": e.count or 1,
        }
        for e in newest
    ]


async def events_for(kube: Kube, *, namespace: str, kind: str, name: str, limit: int = 10) -> list[dict[str, Any]]:
    """The latest events about one object, for the describe tools."""
    result = await kube.call(
        kube.core.list_namespaced_event,
        namespace=namespace,
        field_selector=f"involvedObject.kind={kind},involvedObject.name={name}",
    )
    return event_rows(result.items, limit)


async def described(
    kube: Kube, obj: Any, row: dict[str, Any], *, kind: str, namespace: str | None, **details: Any
) -> dict[str, Any]:
    """A describe tool's answer, the same frame for every kind: the object's list row, where it
    lives, its labels, the kind's own `details`, and the object's recent events.

    Kubernetes records the events of a cluster-scoped object in `default`; they are read there.
    """
    where = {} if namespace is None else {"namespace": namespace}
    name = obj.metadata.name
    events = await events_for(kube, namespace=namespace or CLUSTER_EVENTS_NAMESPACE, kind=kind, name=name)
    return {**row, **where, "labels": obj.metadata.labels or {}, **details, "events": events}


async def list_events(
    kube: Kube,
    namespace: Namespace = "default",
    type: Annotated[Literal["Normal", "Warning"] | None, Field(description="Only events of this type.")] = None,
    field_selector: FieldSelector = None,
    limit: Annotated[int, Field(ge=1, le=500, description="How many events, newest first.")] = 50,
) -> dict[str, Any]:
    """List recent events in a namespace, newest first (optionally only Warnings)."""
    selectors = [s for s in (field_selector, f"type={type}" if type else None) if s]
    result = await kube.call(
        kube.core.list_namespaced_event,
        namespace=namespace,
        field_selector=",".join(selectors) or None,
    )
    return {"namespace": namespace, "events": event_rows(result.items, limit)}
