"""Service tools: list and describe, each Service with the endpoints of its EndpointSlices.

A Service whose selector matches no ready pod has no ready endpoints; that is the first thing
to see when traffic fails, so every row carries its ready and not-ready endpoint counts. The
EndpointSlices are read in the same namespace, by their `kubernetes.io/service-name` label.
Both lists are read as the API's JSON: a listing builds no models.
"""

from collections import Counter
from typing import Annotated, Any

from pydantic import Field

from gateway.kube import Kube
from gateway.tools.events import described
from gateway.tools.listing import namespaced_list
from gateway.tools.shape import Json, rfc3339, selector_text
from gateway.validation import Namespace, ObjectName

SERVICE_NAME = "kubernetes.io/service-name"
MAX_ENDPOINTS = 50
"""Endpoints shown per slice in `describe_service`; the counts always cover all of them."""

ServiceName = Annotated[ObjectName, Field(description="Service name (DNS-1123 subdomain).")]


def _ready(endpoint: Json) -> bool:
    """An endpoint whose readiness is unknown counts as ready, as the EndpointSlice API says."""
    return (endpoint.get("conditions") or {}).get("ready") is not False


def _endpoint_counts(slices: list[Json]) -> dict[str, int]:
    tally = Counter(_ready(e) for s in slices for e in s.get("endpoints") or [])
    return {"ready": tally[True], "not_ready": tally[False]}


def _port(port: Json) -> str:
    number, target = port.get("port"), port.get("targetPort")
    text = f"{number}/{port.get('protocol') or 'TCP'}"
    if target is not None and str(target) != str(number):
        text += f"->{target}"
    if port.get("nodePort"):
        text += f" (node {port['nodePort']})"
    return f"{port['name']}:{text}" if port.get("name") else text


def _row(service: Json, slices: list[Json]) -> dict[str, Any]:
    """One line of a Service listing, read from the API's JSON, with its endpoint counts."""
    metadata, spec = service["metadata"], service.get("spec") or {}
    balancer = ((service.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    return {
        "name": metadata["name"],
        "type": spec.get("type"),
        "cluster_ip": spec.get("clusterIP"),
        "external": [i.get("ip") or i.get("hostname") for i in balancer] + list(spec.get("externalIPs") or []),
        "ports": [_port(p) for p in spec.get("ports") or []],
        "selector": selector_text(spec.get("selector")),
        "endpoints": _endpoint_counts(slices),
        "created": rfc3339(metadata.get("creationTimestamp")),
    }


async def _slices(kube: Kube, namespace: str, selector: str) -> list[Json]:
    read = kube.json_list(
        "/apis/discovery.k8s.io/v1/namespaces/{namespace}/endpointslices", name="list_namespaced_endpoint_slice"
    )
    result = await kube.call(read, namespace=namespace, label_selector=selector)
    return list(result["items"] or [])


def _service_of(endpoint_slice: Json) -> str | None:
    return (endpoint_slice["metadata"].get("labels") or {}).get(SERVICE_NAME)


async def _rows(kube: Kube, namespace: str | None, services: list[Json]) -> list[dict[str, Any]]:
    """Rows of one page, with one EndpointSlice read for the whole page."""
    names = [s["metadata"]["name"] for s in services]
    if not names or namespace is None:
        return [_row(s, []) for s in services]
    slices = await _slices(kube, namespace, f"{SERVICE_NAME} in ({','.join(names)})")
    return [_row(s, [sl for sl in slices if _service_of(sl) == s["metadata"]["name"]]) for s in services]


list_services = namespaced_list(
    "services",
    "List Services in a namespace with type, IPs, ports, selector and ready/not-ready endpoint counts.",
    method=lambda kube: kube.json_list("/api/v1/namespaces/{namespace}/services", name="list_namespaced_service"),
    rows=_rows,
)


def _endpoint(endpoint: Json) -> dict[str, Any]:
    target = endpoint.get("targetRef")
    return {
        "addresses": list(endpoint.get("addresses") or []),
        "ready": _ready(endpoint),
        "target": f"{target.get('kind')}/{target.get('name')}" if target else None,
        "node": endpoint.get("nodeName"),
    }


def _slice_port(port: Json) -> str:
    name = port.get("name")
    return f"{name + ':' if name else ''}{port.get('port')}/{port.get('protocol') or 'TCP'}"


def _slice(s: Json) -> dict[str, Any]:
    endpoints = s.get("endpoints") or []
    return {
        "name": s["metadata"]["name"],
        "address_type": s.get("addressType"),
        "ports": [_slice_port(p) for p in s.get("ports") or []],
        "endpoints": [_endpoint(e) for e in endpoints[:MAX_ENDPOINTS]],
        "truncated": len(endpoints) > MAX_ENDPOINTS,
    }


async def describe_service(kube: Kube, service_name: ServiceName, namespace: Namespace = "default") -> dict[str, Any]:
    """Describe a Service: ports, selector, its EndpointSlices with each endpoint's readiness and pod, events."""
    service = await kube.call(kube.core.read_namespaced_service, name=service_name, namespace=namespace)
    slices = await _slices(kube, namespace, f"{SERVICE_NAME}={service_name}")
    return await described(
        kube,
        service,
        _row(kube.api_client.sanitize_for_serialization(service), slices),
        kind="Service",
        namespace=namespace,
        external_name=service.spec.external_name,
        session_affinity=service.spec.session_affinity,
        slices=[_slice(s) for s in slices],
    )
