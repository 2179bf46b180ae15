"""Turning Kubernetes objects into the small JSON an LLM reads well.

Only what an SRE looks at first: names, states, counts, reasons, times. Secret values never
appear: environment taken from a Secret is shown as a reference to it, never resolved.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kubernetes.client import V1Container, V1ContainerState, V1ContainerStatus, V1EnvVar, V1Pod


def timestamp(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def env_entry(var: V1EnvVar) -> dict[str, Any]:
    """An environment variable; a value from a Secret or ConfigMap is shown only as its source."""
    source = var.value_from
    if source is None:
        return {"name": var.name, "value": var.value}
    if source.secret_key_ref is not None:
        ref = source.secret_key_ref
        return {"name": var.name, "from": f"secret {ref.name} key {ref.key}"}
    if source.config_map_key_ref is not None:
        ref = source.config_map_key_ref
        return {"name": var.name, "from": f"configmap {ref.name} key {ref.key}"}
    if source.field_ref is not None:
        return {"name": var.name, "from": f"field {source.field_ref.field_path}"}
    if source.resource_field_ref is not None:
        return {"name": var.name, "from": f"resource {source.resource_field_ref.resource}"}
    return {"name": var.name, "from": "unknown source"}


def container_state(state: V1ContainerState | None) -> dict[str, Any] | None:
    if state is None:
        return None
    if state.running is not None:
        return {"state": "running", "since": timestamp(state.running.started_at)}
    if state.waiting is not None:
        return {"state": "waiting", "reason": state.waiting.reason, "message": state.waiting.message}
    if state.terminated is not None:
        t = state.terminated
        return {
            "state": "terminated",
            "reason": t.reason,
            "exit_code": t.exit_code,
            "finished": timestamp(t.finished_at),
        }
    return None


def container(spec: V1Container, status: V1ContainerStatus | None) -> dict[str, Any]:
    resources = spec.resources
    return {
        "name": spec.name,
        "image": spec.image,
        "ready": bool(status and status.ready),
        "restarts": status.restart_count if status else 0,
        "state": container_state(status.state) if status else None,
        "last_state": container_state(status.last_state) if status else None,
        "env": [env_entry(v) for v in spec.env or []],
        "env_from": [_env_from(e) for e in spec.env_from or []],
        "requests": dict(resources.requests or {}) if resources else {},
        "limits": dict(resources.limits or {}) if resources else {},
    }


def _env_from(source: Any) -> str:
    if source.secret_ref is not None:
        return f"secret {source.secret_ref.name}"
    if source.config_map_ref is not None:
        return f"configmap {source.config_map_ref.name}"
    return "unknown source"


def pod_row(pod: V1Pod) -> dict[str, Any]:
    """One line of a pod listing, like `kubectl get pods` in JSON."""
    statuses = pod.status.container_statuses or [] if pod.status else []
    specs = pod.spec.containers if pod.spec else []
    return {
        "name": pod.metadata.name,
        "phase": pod.status.phase if pod.status else None,
        "ready": f"{sum(1 for s in statuses if s.ready)}/{len(specs)}",
        "restarts": sum(s.restart_count or 0 for s in statuses),
        "waiting": sorted(
            {s.state.waiting.reason for s in statuses if s.state and s.state.waiting and s.state.waiting.reason}
        ),
        "node": pod.spec.node_name if pod.spec else None,
        "ip": pod.status.pod_ip if pod.status else None,
        "created": timestamp(pod.metadata.creation_timestamp),
    }
