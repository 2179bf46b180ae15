"""HorizontalPodAutoscaler tools (autoscaling/v2): list and describe."""

from typing import TYPE_CHECKING, Annotated, Any

from pydantic import Field

from gateway.kube import Kube
from gateway.tools.events import described
from gateway.tools.listing import each, namespaced_list
from gateway.tools.shape import conditions, counts, timestamp
from gateway.validation import Namespace, ObjectName

if TYPE_CHECKING:
    from kubernetes.client import V2HorizontalPodAutoscaler

HpaName = Annotated[ObjectName, Field(description="HorizontalPodAutoscaler name (DNS-1123 subdomain).")]

_SOURCES = {
    "Resource": "resource",
    "ContainerResource": "container_resource",
    "Pods": "pods",
    "Object": "object",
    "External": "external",
}
"""Metric type -> the field of a metric spec or status that holds it."""


def _source(metric: Any) -> Any:
    return getattr(metric, _SOURCES.get(metric.type, ""), None)


def _metric_name(metric: Any) -> str:
    source = _source(metric)
    if source is None:
        return str(metric.type)
    if metric.type == "Resource":
        return str(source.name)
    if metric.type == "ContainerResource":
        return f"{source.name} of container {source.container}"
    if metric.type == "Object":
        target = source.described_object
        return f"{source.metric.name} of {target.kind}/{target.name}"
    return str(source.metric.name)


def _amount(value: Any) -> str | None:
    """A metric target or current value: `70%` for a utilisation, else the quantity."""
    if value is None:
        return None
    if value.average_utilization is not None:
        return f"{value.average_utilization}%"
    amount = value.average_value or value.value
    return str(amount) if amount is not None else None


def _metrics(hpa: "V2HorizontalPodAutoscaler") -> list[str]:
    """`name: current/target` per metric; current is `<unknown>` until the controller has measured it."""
    current = hpa.status.current_metrics or [] if hpa.status else []
    measured = {_metric_name(m): _amount(source.current) for m in current if (source := _source(m)) is not None}
    lines = []
    for m in hpa.spec.metrics or []:
        name, target = _metric_name(m), _amount(getattr(_source(m), "target", None))
        lines.append(f"{name}: {measured.get(name) or '<unknown>'}/{target}")
    return lines


def _row(h: "V2HorizontalPodAutoscaler") -> dict[str, Any]:
    target = h.spec.scale_target_ref
    return {
        "name": h.metadata.name,
        "target": f"{target.kind}/{target.name}",
        "min": h.spec.min_replicas,
        "max": h.spec.max_replicas,
        **counts(h.status, replicas="current_replicas", desired="desired_replicas"),
        "metrics": _metrics(h),
        "created": timestamp(h.metadata.creation_timestamp),
    }


list_hpas = namespaced_list(
    "hpas",
    "List HorizontalPodAutoscalers in a namespace with target, min/max, current and desired replicas, metrics.",
    method=lambda kube: kube.autoscaling.list_namespaced_horizontal_pod_autoscaler,
    rows=each(_row),
)


async def describe_hpa(kube: Kube, hpa_name: HpaName, namespace: Namespace = "default") -> dict[str, Any]:
    """Describe a HorizontalPodAutoscaler: target, bounds, metrics current/target, conditions, last scale, events."""
    h = await kube.call(kube.autoscaling.read_namespaced_horizontal_pod_autoscaler, name=hpa_name, namespace=namespace)
    return await described(
        kube,
        h,
        _row(h),
        kind="HorizontalPodAutoscaler",
        namespace=namespace,
        last_scale=timestamp(h.status.last_scale_time) if h.status else None,
        conditions=conditions(h.status.conditions if h.status else None),
    )
