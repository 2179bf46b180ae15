"""PersistentVolumeClaim tools: list and describe."""

from typing import TYPE_CHECKING, Annotated, Any

from pydantic import Field

from gateway.kube import Kube
from gateway.tools.events import described
from gateway.tools.listing import each, namespaced_list
from gateway.tools.shape import claim_request, conditions, owners, timestamp
from gateway.validation import Namespace, ObjectName

if TYPE_CHECKING:
    from kubernetes.client import V1PersistentVolumeClaim

PvcName = Annotated[ObjectName, Field(description="PersistentVolumeClaim name (DNS-1123 subdomain).")]


def _row(c: "V1PersistentVolumeClaim") -> dict[str, Any]:
    status = c.status
    return {
        "name": c.metadata.name,
        "status": status.phase if status else None,
        "volume": c.spec.volume_name,
        "capacity": (status.capacity or {}).get("storage") if status else None,
        **claim_request(c.spec),
        "created": timestamp(c.metadata.creation_timestamp),
    }


list_pvcs = namespaced_list(
    "pvcs",
    "List PersistentVolumeClaims in a namespace with status (Bound, Pending...), volume, capacity and class.",
    method=lambda kube: kube.core.list_namespaced_persistent_volume_claim,
    rows=each(_row),
)


async def describe_pvc(kube: Kube, pvc_name: PvcName, namespace: Namespace = "default") -> dict[str, Any]:
    """Describe a PersistentVolumeClaim: status, bound volume, requested and actual size, conditions, events."""
    c = await kube.call(kube.core.read_namespaced_persistent_volume_claim, name=pvc_name, namespace=namespace)
    return await described(
        kube,
        c,
        _row(c),
        kind="PersistentVolumeClaim",
        namespace=namespace,
        owner=owners(c.metadata),
        conditions=conditions(c.status.conditions if c.status else None),
    )
