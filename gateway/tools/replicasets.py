"""ReplicaSet tools: list and describe. A Deployment's rollout is a succession of ReplicaSets."""

from typing import Annotated, Any

from pydantic import Field

from gateway.kube import JsonRead, Kube
from gateway.tools.events import described
from gateway.tools.listing import each, namespaced_list
from gateway.tools.shape import Json, counts, images, owners, revision, rfc3339, workload
from gateway.validation import Namespace, ObjectName

ReplicaSetName = Annotated[ObjectName, Field(description="ReplicaSet name (DNS-1123 subdomain).")]


def list_replica_sets(kube: Kube) -> JsonRead:
    """The ReplicaSets of a namespace as the API's JSON: a rollout's history is a list of them."""
    return kube.json_list("/apis/apps/v1/namespaces/{namespace}/replicasets", name="list_namespaced_replica_set")


def _row(r: Json) -> dict[str, Any]:
    """One line of a ReplicaSet listing, read from the API's JSON."""
    metadata, spec = r["metadata"], r.get("spec") or {}
    return {
        "name": metadata["name"],
        "replicas": spec.get("replicas"),
        **counts(r.get("status") or {}, current="replicas", ready="readyReplicas", available="availableReplicas"),
        "revision": revision(metadata),
        "owner": owners(metadata),
        "images": images(spec["template"]),
        "created": rfc3339(metadata.get("creationTimestamp")),
    }


list_replicasets = namespaced_list(
    "replicasets",
    "List ReplicaSets in a namespace with desired, current, ready and available replicas, revision and owner.",
    method=list_replica_sets,
    rows=each(_row),
)


async def describe_replicaset(
    kube: Kube, replicaset_name: ReplicaSetName, namespace: Namespace = "default"
) -> dict[str, Any]:
    """Describe a ReplicaSet: replicas, owning Deployment and revision, selector, conditions, pod template, events."""
    r = await kube.call(kube.apps.read_namespaced_replica_set, name=replicaset_name, namespace=namespace)
    row = _row(kube.api_client.sanitize_for_serialization(r))
    return await described(kube, r, row, kind="ReplicaSet", namespace=namespace, **workload(r))
