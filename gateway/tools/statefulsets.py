"""StatefulSet tools: list and describe."""

from typing import TYPE_CHECKING, Annotated, Any

from pydantic import Field

from gateway.kube import Kube
from gateway.tools.events import described
from gateway.tools.listing import each, namespaced_list
from gateway.tools.shape import claim_request, counts, images, timestamp, workload
from gateway.validation import Namespace, ObjectName

if TYPE_CHECKING:
    from kubernetes.client import V1StatefulSet

StatefulSetName = Annotated[ObjectName, Field(description="StatefulSet name (DNS-1123 subdomain).")]


def _row(s: "V1StatefulSet") -> dict[str, Any]:
    return {
        "name": s.metadata.name,
        "replicas": s.spec.replicas,
        **counts(s.status, ready="ready_replicas", current="current_replicas", updated="updated_replicas"),
        "images": images(s.spec.template),
        "created": timestamp(s.metadata.creation_timestamp),
    }


list_statefulsets = namespaced_list(
    "statefulsets",
    "List StatefulSets in a namespace with desired, ready, current and updated replicas.",
    method=lambda kube: kube.apps.list_namespaced_stateful_set,
    rows=each(_row),
)


async def describe_statefulset(
    kube: Kube, statefulset_name: StatefulSetName, namespace: Namespace = "default"
) -> dict[str, Any]:
    """Describe a StatefulSet: replicas, revisions, update strategy, pod template, volume claim templates, events."""
    s = await kube.call(kube.apps.read_namespaced_stateful_set, name=statefulset_name, namespace=namespace)
    status = s.status
    return await described(
        kube,
        s,
        _row(s),
        kind="StatefulSet",
        namespace=namespace,
        service=s.spec.service_name,
        pod_management=s.spec.pod_management_policy,
        update_strategy=s.spec.update_strategy.type if s.spec.update_strategy else None,
        current_revision=status.current_revision if status else None,
        update_revision=status.update_revision if status else None,
        **workload(s),
        volume_claims=[{"name": t.metadata.name, **claim_request(t.spec)} for t in s.spec.volume_claim_templates or []],
    )
