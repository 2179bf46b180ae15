"""Node tools."""

from typing import TYPE_CHECKING, Annotated, Any

from pydantic import Field

from gateway.kube import Kube
from gateway.validation import ObjectName

if TYPE_CHECKING:
    from kubernetes.client import V1Node


def _node(node: "V1Node") -> dict[str, Any]:
    status = node.status
    conditions = {c.type: c for c in (status.conditions or [])} if status else {}
    ready = conditions.get("Ready")
    info = status.node_info if status else None
    return {
        "name": node.metadata.name,
        "ready": ready.status if ready else "Unknown",
        "ready_reason": ready.reason if ready else None,
        "schedulable": not (node.spec and node.spec.unschedulable),
        "problems": [
            {"type": c.type, "reason": c.reason, "message": c.message}
            for c in conditions.values()
            if (c.type == "Ready") == (c.status != "True")
        ],
        "kubelet_version": info.kubelet_version if info else None,
        "capacity": dict(status.capacity or {}) if status else {},
        "allocatable": dict(status.allocatable or {}) if status else {},
        "addresses": [f"{a.type}={a.address}" for a in (status.addresses or [])] if status else [],
    }


NodeName = Annotated[ObjectName | None, Field(description="Node name (DNS-1123 subdomain); omit for every node.")]


async def get_node_status(kube: Kube, node_name: NodeName = None) -> dict[str, Any]:
    """Status of one node, or of all nodes: readiness, pressure conditions, schedulability, capacity."""
    if node_name is not None:
        return {"nodes": [_node(await kube.call(kube.core.read_node, name=node_name))]}
    result = await kube.call(kube.core.list_node)
    return {"nodes": [_node(n) for n in result.items]}
