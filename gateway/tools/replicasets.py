"""ReplicaSet tools: list and describe. A Deployment's rollout is a succession of ReplicaSets."""

from typing import TYPE_CHECKING, Annotated, Any

from pydantic import Field

from gateway.kube import Kube
from gateway.tools.events import described
from gateway.tools.listing import each, namespaced_list
from gateway.tools.shape import counts, images, owners, revision, timestamp, workload
from gateway.validation import Namespace, ObjectName

if TYPE_CHECKING:
    from kubernetes.client import V1ReplicaSet

ReplicaSetName = Annotated[ObjectName, Field(description="ReplicaSet name (DNS-1123 subdomain).")]


def _row(r: "V1ReplicaSet") -> dict[str, Any]:
    return {
        "name": r.metadata.name,
        "replicas": r.spec.replicas,
        **counts(r.status, current="replicas", ready="ready_replicas", available="available_replicas"),
        "revision": revision(r.metadata),
        "owner": owners(r.metadata),
        "images": images(r.spec.template),
        "created": timestamp(r.metadata.creation_timestamp),
    }


list_replicasets = namespaced_list(
    "replicasets",
    "List ReplicaSets in a namespace with desired, current, ready and available replicas, revision and owner.",
    method=lambda kube: kube.apps.list_namespaced_replica_set,
    rows=each(_row),
)


async def describe_replicaset(
    kube: Kube, replicaset_name: ReplicaSetName, namespace: Namespace = "default"
) -> dict[str, Any]:
    """Describe a ReplicaSet: replicas, owning Deployment and revision, selector, conditions, pod template, events."""
    r = await kube.call(kube.apps.read_namespaced_replica_set, name=replicaset_name, namespace=namespace)
    return await described(kube, r, _row(r), kind="ReplicaSet", namespace=namespace, **workload(r))
