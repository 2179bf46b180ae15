"""DaemonSet tools: list and describe."""

from typing import Annotated, Any

from pydantic import Field

from gateway.kube import Kube
from gateway.tools.events import described
from gateway.tools.listing import each, namespaced_list
from gateway.tools.shape import Json, counts, images, rfc3339, workload
from gateway.validation import Namespace, ObjectName

DaemonSetName = Annotated[ObjectName, Field(description="DaemonSet name (DNS-1123 subdomain).")]


def _row(d: Json) -> dict[str, Any]:
    """One line of a DaemonSet listing, read from the API's JSON (a listing builds no models)."""
    metadata, template = d["metadata"], d["spec"]["template"]
    return {
        "name": metadata["name"],
        **counts(
            d.get("status") or {},
            desired="desiredNumberScheduled",
            current="currentNumberScheduled",
            ready="numberReady",
            updated="updatedNumberScheduled",
            available="numberAvailable",
            misscheduled="numberMisscheduled",
        ),
        "node_selector": (template.get("spec") or {}).get("nodeSelector") or {},
        "images": images(template),
        "created": rfc3339(metadata.get("creationTimestamp")),
    }


list_daemonsets = namespaced_list(
    "daemonsets",
    "List DaemonSets in a namespace with desired, current, ready, updated and available pods.",
    method=lambda kube: kube.json_list(
        "/apis/apps/v1/namespaces/{namespace}/daemonsets", name="list_namespaced_daemon_set"
    ),
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
        _row(kube.api_client.sanitize_for_serialization(d)),
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
