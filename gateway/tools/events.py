"""Event tools: what happened recently, newest first."""

from collections.abc import Iterable
from typing import Annotated, Any, Literal

from pydantic import Field

from gateway.kube import JsonRead, Kube
from gateway.tools.shape import Json, rfc3339
from gateway.validation import FieldSelector, Namespace

CLUSTER_EVENTS_NAMESPACE = "default"


def _list(kube: Kube) -> JsonRead:
    """Events are read as the API's JSON: a namespace's events are the longest list a triage reads."""
    return kube.json_list("/api/v1/namespaces/{namespace}/events", name="list_namespaced_event")


def _when(event: Json) -> str | None:
    when = (
        event.get("lastTimestamp")
        or event.get("eventTime")
        or event.get("firstTimestamp")
        or event["metadata"].get("creationTimestamp")
    )
    return rfc3339(when)


def event_rows(events: Iterable[Json], limit: int) -> list[dict[str, Any]]:
    """The `limit` newest of `events` (the API's JSON), newest first."""
    newest = sorted(events, key=lambda e: _when(e) or "", reverse=True)[:limit]
    return [
        {
            "time": _when(e),
            "type": e.get("type"),
            "reason": e.get("reason"),
            "object": f"{e['involvedObject'].get('kind')}/{e['involvedObject'].get('name')}",
            "message": e.get("message"),
            "count": e.get("count") or 1,
        }
        for e in newest
    ]


async def events_for(kube: Kube, *, namespace: str, kind: str, name: str, limit: int = 10) -> list[dict[str, Any]]:
    """The latest events about one object, for the describe tools."""
    result = await kube.call(
        _list(kube),
        namespace=namespace,
        field_selector=f"involvedObject.kind={kind},involvedObject.name={name}",
    )
    return event_rows(result["items"] or [], limit)


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
    result = await kube.call(_list(kube), namespace=namespace, field_selector=",".join(selectors) or None)
    return {"namespace": namespace, "events": event_rows(result["items"] or [], limit)}
