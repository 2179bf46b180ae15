"""Service tools: list and describe, each Service with the endpoints of its EndpointSlices.

A Service whose selector matches no ready pod has no ready endpoints; that is the first thing
to see when traffic fails, so every row carries its ready and not-ready endpoint counts. The
EndpointSlices are read in the same namespace, by their `kubernetes.io/service-name` label.
"""

from collections import Counter
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import Field

from gateway.kube import Kube
from gateway.tools.events import described
from gateway.tools.listing import namespaced_list
from gateway.tools.shape import selector_text, timestamp
from gateway.validation import Namespace, ObjectName

if TYPE_CHECKING:
    from kubernetes.client import V1EndpointSlice, V1Service

SERVICE_NAME = "kubernetes.io/service-name"
MAX_ENDPOINTS = 50
"""Endpoints shown per slice in `describe_service`; the counts always cover all of them."""

ServiceName = Annotated[ObjectName, Field(description="Service name (DNS-1123 subdomain).")]


def _ready(endpoint: Any) -> bool:
    """An endpoint whose readiness is unknown counts as ready, as the EndpointSlice API says."""
    return endpoint.conditions is None or endpoint.conditions.ready is not False


def _endpoint_counts(slices: list["V1EndpointSlice"]) -> dict[str, int]:
    tally = Counter(_ready(e) for s in slices for e in s.endpoints or [])
    return {"ready": tally[True], "not_ready": tally[False]}


def _port(port: Any) -> str:
    text = f"{port.port}/{port.protocol or 'TCP'}"
    if port.target_port is not None and str(port.target_port) != str(port.port):
        text += f"->{port.target_port}"
    if port.node_port:
        text += f" (node {port.node_port})"
    return f"{port.name}:{text}" if port.name else text


def _row(service: "V1Service", slices: list["V1EndpointSlice"]) -> dict[str, Any]:
    spec, status = service.spec, service.status
    balancer = status.load_balancer.ingress or [] if status and status.load_balancer else []
    return {
        "name": service.metadata.name,
        "type": spec.type,
        "cluster_ip": spec.cluster_ip,
        "external": [i.ip or i.hostname for i in balancer] + list(spec.external_ips or []),
        "ports": [_port(p) for p in spec.ports or []],
        "selector": selector_text(spec.selector),
        "endpoints": _endpoint_counts(slices),
        "created": timestamp(service.metadata.creation_timestamp),
    }


async def _slices(kube: Kube, namespace: str, selector: str) -> list["V1EndpointSlice"]:
    result = await kube.call(
        kube.discovery.list_namespaced_endpoint_slice, namespace=namespace, label_selector=selector
    )
    return list(result.items)


async def _rows(kube: Kube, namespace: str | None, services: list["V1Service"]) -> list[dict[str, Any]]:
    """Rows of one page, with one EndpointSlice read for the whole page."""
    names = [s.metadata.name for s in services]
    if not names or namespace is None:
        return [_row(s, []) for s in services]
    slices = await _slices(kube, namespace, f"{SERVICE_NAME} in ({','.join(names)})")
    return [
        _row(s, [sl for sl in slices if (sl.metadata.labels or {}).get(SERVICE_NAME) == s.metadata.name])
        for s in services
    ]


list_services = namespaced_list(
    "services",
    "List Services in a namespace with type, IPs, ports, selector and ready/not-ready endpoint counts.",
    method=lambda kube: kube.core.list_namespaced_service,
    rows=_rows,
)


def _endpoint(endpoint: Any) -> dict[str, Any]:
    target = endpoint.target_ref
    return {
        "addresses": list(endpoint.addresses or []),
        "ready": _ready(endpoint),
        "target": f"{target.kind}/{target.name}" if target else None,
        "node": endpoint.node_name,
    }


def _slice(s: "V1EndpointSlice") -> dict[str, Any]:
    endpoints = s.endpoints or []
    return {
        "name": s.metadata.name,
        "address_type": s.address_type,
        "ports": [f"{p.name + ':' if p.name else ''}{p.port}/{p.protocol or 'TCP'}" for p in s.ports or []],
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
        _row(service, slices),
        kind="Service",
        namespace=namespace,
        external_name=service.spec.external_name,
        session_affinity=service.spec.session_affinity,
        slices=[_slice(s) for s in slices],
    )
