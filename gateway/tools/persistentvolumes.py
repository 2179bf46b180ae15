"""PersistentVolume tools: list and describe. PersistentVolumes are cluster-scoped.

They are read only where the policy lists `persistentvolumes` in its cluster reads: a volume
names the claim (namespace and name) it is bound to, in every namespace, allowed or not.
"""

from typing import TYPE_CHECKING, Annotated, Any

from pydantic import Field

from gateway.kube import Kube
from gateway.tools.events import described
from gateway.tools.listing import cluster_list
from gateway.tools.shape import timestamp
from gateway.validation import ObjectName

if TYPE_CHECKING:
    from kubernetes.client import V1PersistentVolume, V1PersistentVolumeSpec

PvName = Annotated[ObjectName, Field(description="PersistentVolume name (DNS-1123 subdomain).")]


def _source(spec: "V1PersistentVolumeSpec") -> str:
    """Where the data lives, for the common volume sources."""
    if spec.csi is not None:
        return f"csi {spec.csi.driver} {spec.csi.volume_handle}"
    if spec.nfs is not None:
        return f"nfs {spec.nfs.server}:{spec.nfs.path}"
    if spec.host_path is not None:
        return f"hostPath {spec.host_path.path}"
    if spec.local is not None:
        return f"local {spec.local.path}"
    return "other"


def _row(v: "V1PersistentVolume") -> dict[str, Any]:
    spec, claim = v.spec, v.spec.claim_ref
    return {
        "name": v.metadata.name,
        "status": v.status.phase if v.status else None,
        "capacity": (spec.capacity or {}).get("storage"),
        "access_modes": spec.access_modes or [],
        "reclaim_policy": spec.persistent_volume_reclaim_policy,
        "storage_class": spec.storage_class_name,
        "claim": f"{claim.namespace}/{claim.name}" if claim else None,
        "created": timestamp(v.metadata.creation_timestamp),
    }


list_pvs = cluster_list(
    "pvs",
    "List PersistentVolumes (cluster-scoped) with status, capacity, reclaim policy, class and bound claim.",
    method=lambda kube: kube.core.list_persistent_volume,
    row=_row,
)


async def describe_pv(kube: Kube, pv_name: PvName) -> dict[str, Any]:
    """Describe a PersistentVolume: status and its reason, bound claim, source, volume mode, events."""
    v = await kube.call(kube.core.read_persistent_volume, name=pv_name)
    return await described(
        kube,
        v,
        _row(v),
        kind="PersistentVolume",
        namespace=None,
        reason=v.status.reason if v.status else None,
        message=v.status.message if v.status else None,
        source=_source(v.spec),
        volume_mode=v.spec.volume_mode,
        mount_options=v.spec.mount_options or [],
    )
