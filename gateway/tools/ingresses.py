"""Ingress tools: list and describe. TLS secrets are shown by name only; they are never read."""

from typing import TYPE_CHECKING, Annotated, Any

from pydantic import Field

from gateway.kube import Kube
from gateway.tools.events import described
from gateway.tools.listing import each, namespaced_list
from gateway.tools.shape import timestamp
from gateway.validation import Namespace, ObjectName

if TYPE_CHECKING:
    from kubernetes.client import V1Ingress, V1IngressBackend

LEGACY_CLASS = "kubernetes.io/ingress.class"

IngressName = Annotated[ObjectName, Field(description="Ingress name (DNS-1123 subdomain).")]


def _backend(backend: "V1IngressBackend | None") -> str | None:
    """`service:port` or `Kind/name` of a backend."""
    if backend is None:
        return None
    if backend.service is not None:
        port = backend.service.port
        return f"{backend.service.name}:{(port.number or port.name) if port else ''}"
    if backend.resource is not None:
        return f"{backend.resource.kind}/{backend.resource.name}"
    return None


def _row(i: "V1Ingress") -> dict[str, Any]:
    balancer = i.status.load_balancer.ingress or [] if i.status and i.status.load_balancer else []
    return {
        "name": i.metadata.name,
        "class": i.spec.ingress_class_name or (i.metadata.annotations or {}).get(LEGACY_CLASS),
        "hosts": [rule.host or "*" for rule in i.spec.rules or []],
        "addresses": [b.ip or b.hostname for b in balancer],
        "tls": bool(i.spec.tls),
        "created": timestamp(i.metadata.creation_timestamp),
    }


list_ingresses = namespaced_list(
    "ingresses",
    "List Ingresses in a namespace with class, hosts, load-balancer addresses and whether they serve TLS.",
    method=lambda kube: kube.networking.list_namespaced_ingress,
    rows=each(_row),
)


async def describe_ingress(kube: Kube, ingress_name: IngressName, namespace: Namespace = "default") -> dict[str, Any]:
    """Describe an Ingress: rules (host, path, backend service and port), default backend, TLS, events."""
    i = await kube.call(kube.networking.read_namespaced_ingress, name=ingress_name, namespace=namespace)
    return await described(
        kube,
        i,
        _row(i),
        kind="Ingress",
        namespace=namespace,
        default_backend=_backend(i.spec.default_backend),
        rules=[
            {
                "host": rule.host or "*",
                "paths": [
                    {"path": p.path or "/", "type": p.path_type, "backend": _backend(p.backend)}
                    for p in (rule.http.paths if rule.http else [])
                ],
            }
            for rule in i.spec.rules or []
        ],
        tls=[{"hosts": t.hosts or [], "secret": t.secret_name} for t in i.spec.tls or []],
    )
