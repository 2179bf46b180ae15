"""ConfigMap tools: list and describe, showing keys and sizes only.

A ConfigMap's values never reach the agent: configuration often carries credentials that should
have been in a Secret, so the tools name each key and its size in bytes and stop there.
"""

import base64
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import Field

from gateway.kube import Kube
from gateway.tools.events import described
from gateway.tools.listing import each, namespaced_list
from gateway.tools.shape import owners, timestamp
from gateway.validation import Namespace, ObjectName

if TYPE_CHECKING:
    from kubernetes.client import V1ConfigMap

ConfigMapName = Annotated[ObjectName, Field(description="ConfigMap name (DNS-1123 subdomain).")]


def _sizes(c: "V1ConfigMap") -> dict[str, list[dict[str, Any]]]:
    """Each key with its size in bytes: UTF-8 for `data`, decoded for `binary_data`."""
    return {
        "data": [{"key": key, "bytes": len(value.encode())} for key, value in sorted((c.data or {}).items())],
        "binary_data": [
            {"key": key, "bytes": len(base64.b64decode(value))} for key, value in sorted((c.binary_data or {}).items())
        ],
    }


def _row(c: "V1ConfigMap") -> dict[str, Any]:
    sizes = _sizes(c)
    keys = sizes["data"] + sizes["binary_data"]
    return {
        "name": c.metadata.name,
        "keys": len(keys),
        "bytes": sum(k["bytes"] for k in keys),
        "immutable": bool(c.immutable),
        "created": timestamp(c.metadata.creation_timestamp),
    }


list_configmaps = namespaced_list(
    "configmaps",
    "List ConfigMaps in a namespace with their number of keys and total size (never their values).",
    method=lambda kube: kube.core.list_namespaced_config_map,
    rows=each(_row),
)


async def describe_configmap(
    kube: Kube, configmap_name: ConfigMapName, namespace: Namespace = "default"
) -> dict[str, Any]:
    """Describe a ConfigMap: its keys and their sizes in bytes (never the values), owner, events."""
    c = await kube.call(kube.core.read_namespaced_config_map, name=configmap_name, namespace=namespace)
    return await described(
        kube, c, _row(c), kind="ConfigMap", namespace=namespace, owner=owners(c.metadata), **_sizes(c)
    )
