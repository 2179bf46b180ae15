"""Namespace tools."""

from typing import Any

from gateway.guidance import decided
from gateway.kube import Kube
from gateway.tools.shape import timestamp


async def list_namespaces(kube: Kube) -> dict[str, Any]:
    """List the cluster's namespaces with their phase, and whether you may use each one."""
    usable = set(decided().hints.namespaces or ())
    result = await kube.call(kube.core.list_namespace)
    return {
        "namespaces": [
            {
                "name": ns.metadata.name,
                "phase": ns.status.phase if ns.status else None,
                "created": timestamp(ns.metadata.creation_timestamp),
                "allowed": "*" in usable or ns.metadata.name in usable,
            }
            for ns in result.items
        ]
    }
