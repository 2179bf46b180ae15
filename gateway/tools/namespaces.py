"""Namespace tools."""

from typing import Any

from gateway.guidance import decided
from gateway.kube import Kube
from gateway.tools.shape import rfc3339


async def list_namespaces(kube: Kube) -> dict[str, Any]:
    """List the cluster's namespaces with their phase, and whether you may use each one.

    The namespaces are read as the API's JSON: a listing builds no models."""
    usable = set(decided().hints.namespaces or ())
    result = await kube.call(kube.json_list("/api/v1/namespaces", name="list_namespace"))
    return {
        "namespaces": [
            {
                "name": ns["metadata"]["name"],
                "phase": (ns.get("status") or {}).get("phase"),
                "created": rfc3339(ns["metadata"].get("creationTimestamp")),
                "allowed": "*" in usable or ns["metadata"]["name"] in usable,
            }
            for ns in result["items"] or []
        ]
    }
