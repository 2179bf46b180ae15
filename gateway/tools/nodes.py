"""Node tools: status, and two writes (cordon, uncordon) with their preview."""

from typing import TYPE_CHECKING, Annotated, Any

from pydantic import Field

from gateway.kube import Kube
from gateway.preview import Snapshot
from gateway.tools.deployments import DryRun
from gateway.tools.shape import Json
from gateway.validation import ObjectName

if TYPE_CHECKING:
    from kubernetes.client import V1Node


def _node(node: Json) -> dict[str, Any]:
    """A node's status, read from the API's JSON: the listing of every node builds no models."""
    status = node.get("status") or {}
    conditions = {c.get("type"): c for c in status.get("conditions") or []}
    ready = conditions.get("Ready") or {}
    return {
        "name": node["metadata"]["name"],
        "ready": ready.get("status") if ready else "Unknown",
        "ready_reason": ready.get("reason"),
        "schedulable": not (node.get("spec") or {}).get("unschedulable"),
        "problems": [
            {"type": c.get("type"), "reason": c.get("reason"), "message": c.get("message")}
            for c in conditions.values()
            if (c.get("type") == "Ready") == (c.get("status") != "True")
        ],
        "kubelet_version": (status.get("nodeInfo") or {}).get("kubeletVersion"),
        "capacity": dict(status.get("capacity") or {}),
        "allocatable": dict(status.get("allocatable") or {}),
        "addresses": [f"{a.get('type')}={a.get('address')}" for a in status.get("addresses") or []],
    }


NodeName = Annotated[ObjectName | None, Field(description="Node name (DNS-1123 subdomain); omit for every node.")]


async def get_node_status(kube: Kube, node_name: NodeName = None) -> dict[str, Any]:
    """Status of one node, or of all nodes: readiness, pressure conditions, schedulability, capacity."""
    if node_name is not None:
        node = await kube.call(kube.core.read_node, name=node_name)
        return {"nodes": [_node(kube.api_client.sanitize_for_serialization(node))]}
    result = await kube.call(kube.json_list("/api/v1/nodes", name="list_node"))
    return {"nodes": [_node(n) for n in result["items"] or []]}


WrittenNode = Annotated[ObjectName, Field(description="Node name (DNS-1123 subdomain).")]


async def _mark(kube: Kube, name: str, *, unschedulable: bool, dry_run: bool) -> "V1Node":
    node: V1Node = await kube.call(
        kube.core.patch_node,
        name=name,
        body={"spec": {"unschedulable": unschedulable}},
        dry_run="All" if dry_run else None,
    )
    return node


def _marked(node: "V1Node", *, dry_run: bool) -> dict[str, Any]:
    return {"node": node.metadata.name, "schedulable": not (node.spec and node.spec.unschedulable), "dry_run": dry_run}


async def cordon_node(kube: Kube, node_name: WrittenNode, dry_run: DryRun = False) -> dict[str, Any]:
    """Mark a node unschedulable, as `kubectl cordon` does: no new pod is placed on it, running pods
    stay. A cluster-wide write: the policy must allow it, and it may need a human approval first."""
    return _marked(await _mark(kube, node_name, unschedulable=True, dry_run=dry_run), dry_run=dry_run)


async def uncordon_node(kube: Kube, node_name: WrittenNode, dry_run: DryRun = False) -> dict[str, Any]:
    """Mark a node schedulable again, as `kubectl uncordon` does. A cluster-wide write: the policy
    must allow it, and it may need a human approval first."""
    return _marked(await _mark(kube, node_name, unschedulable=False, dry_run=dry_run), dry_run=dry_run)


async def _preview_mark(kube: Kube, node_name: str, *, unschedulable: bool) -> Snapshot:
    current = await kube.call(kube.core.read_node, name=node_name)
    planned = await _mark(kube, node_name, unschedulable=unschedulable, dry_run=True)
    return _schedule(current), _schedule(planned)


def _schedule(node: "V1Node") -> dict[str, Any]:
    return {"unschedulable": bool(node.spec and node.spec.unschedulable)}


async def preview_cordon(kube: Kube, node_name: str) -> Snapshot:
    """Whether the node is unschedulable now, and after the cordon's patch run as a server-side dry run."""
    return await _preview_mark(kube, node_name, unschedulable=True)


async def preview_uncordon(kube: Kube, node_name: str) -> Snapshot:
    """Whether the node is unschedulable now, and after the uncordon's patch run as a server-side dry run."""
    return await _preview_mark(kube, node_name, unschedulable=False)
