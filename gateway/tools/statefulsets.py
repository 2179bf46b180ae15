"""StatefulSet tools: list and describe."""

from typing import Annotated, Any

from pydantic import Field

from gateway.kube import Kube
from gateway.tools.events import described
from gateway.tools.listing import each, namespaced_list
from gateway.tools.shape import Json, claim_request, counts, images, rfc3339, workload
from gateway.validation import Namespace, ObjectName

StatefulSetName = Annotated[ObjectName, Field(description="StatefulSet name (DNS-1123 subdomain).")]


def _row(s: Json) -> dict[str, Any]:
    """One line of a StatefulSet listing, read from the API's JSON (a listing builds no models)."""
    metadata, spec = s["metadata"], s.get("spec") or {}
    return {
        "name": metadata["name"],
        "replicas": spec.get("replicas"),
        **counts(s.get("status") or {}, ready="readyReplicas", current="currentReplicas", updated="updatedReplicas"),
        "images": images(spec["template"]),
        "created": rfc3339(metadata.get("creationTimestamp")),
    }


list_statefulsets = namespaced_list(
    "statefulsets",
    "List StatefulSets in a namespace with desired, ready, current and updated replicas.",
    method=lambda kube: kube.json_list(
        "/apis/apps/v1/namespaces/{namespace}/statefulsets", name="list_namespaced_stateful_set"
    ),
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
        _row(kube.api_client.sanitize_for_serialization(s)),
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
