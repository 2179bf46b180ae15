"""DaemonSet tools: list and describe."""

from typing import TYPE_CHECKING, Annotated, Any

from pydantic import Field

from gateway.kube import Kube
from gateway.tools.events import described
from gateway.tools.listing import each, namespaced_list
from gateway.tools.shape import counts, images, timestamp, workload
from gateway.validation import Namespace, ObjectName

if TYPE_CHECKING:
    from kubernetes.client import V1DaemonSet

DaemonSetName = Annotated[ObjectName, Field(description="DaemonSet name (DNS-1123 subdomain).")]


def _row(d: "V1DaemonSet") -> dict[str, Any]:
    return {
        "name": d.metadata.name,
        **counts(
            d.status,
            desired="desired_number_scheduled",
            current="current_number_scheduled",
            ready="number_ready",
            updated="updated_number_scheduled",
            available="number_available",
            misscheduled="number_misscheduled",
        ),
        "node_selector": d.spec.template.spec.node_selector or {},
        "images": images(d.spec.template),
        "created": timestamp(d.metadata.creation_timestamp),
    }


list_daemonsets = namespaced_list(
    "daemonsets",
    "List DaemonSets in a namespace with desired, current, ready, updated and available pods.",
    method=lambda kube: kube.apps.list_namespaced_daemon_set,
    rows=each(_row),
)


async def describe_daemonset(
    kube: Kube, daemonset_name: DaemonSetName, namespace: Namespace = "default"
) -> dict[str, Any]:
    """Describe a DaemonSet: pods per node state, update strategy, tolerations, pod template, events."""
    d = await kube.call(kube.apps.read_namespaced_daemon_set, name=daemonset_name, namespace=namespace)
    strategy = d.spec.update_strategy
    rolling = strategy.rolling_update if strategy else None
    return await described(
        kube,
        d,
        _row(d),
        kind="DaemonSet",
        namespace=namespace,
        update_strategy=strategy.type if strategy else None,
        max_unavailable=str(rolling.max_unavailable) if rolling and rolling.max_unavailable is not None else None,
        tolerations=[
            f"{t.key or '*'}{'=' + t.value if t.value else ''}:{t.effect or '*'}"
            for t in d.spec.template.spec.tolerations or []
        ],
        **workload(d),
    )
