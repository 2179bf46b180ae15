"""Turning Kubernetes objects into the small JSON an LLM reads well.

Only what an SRE looks at first: names, states, counts, reasons, times. Secret values never
appear: environment taken from a Secret is shown as a reference to it, never resolved, and no
shape copies annotations wholesale (`last-applied-configuration` holds whole manifests).

Two kinds of container are kept apart: a *template* container (in a Deployment, StatefulSet,
Job...) is a recipe and has an image, ports, resources and probes but no state; a *running*
container (in a Pod) has all of that plus its readiness, restarts, current and last state.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kubernetes.client import (
        V1Container,
        V1ContainerState,
        V1ContainerStatus,
        V1EnvVar,
        V1LabelSelector,
        V1ObjectMeta,
        V1Pod,
        V1PodTemplateSpec,
        V1Probe,
    )

REVISION = "deployment.kubernetes.io/revision"
CHANGE_CAUSE = "kubernetes.io/change-cause"


Json = Mapping[str, Any]
"""An object as the API's JSON answers it (camelCase keys), for the shapes that never build models."""


def timestamp(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def rfc3339(value: str | None) -> str | None:
    """A timestamp of the API's JSON as `timestamp` writes a model's: UTC as `Z`."""
    return value.replace("+00:00", "Z") if value else None


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


def probe(p: V1Probe) -> str:
    """A probe on one line, as `kubectl describe` prints it. An exec probe's command is not shown."""
    if p.http_get is not None:
        get = p.http_get
        check = f"http-get {(get.scheme or 'HTTP').lower()}://:{get.port}{get.path or '/'}"
    elif p.tcp_socket is not None:
        check = f"tcp-socket :{p.tcp_socket.port}"
    elif p.grpc is not None:
        check = f"grpc :{p.grpc.port}"
    elif p._exec is not None:
        check = "exec"
    else:
        check = "unknown"
    delay, timeout, period = p.initial_delay_seconds or 0, p.timeout_seconds or 1, p.period_seconds or 10
    return f"{check} delay={delay}s timeout={timeout}s period={period}s failure={p.failure_threshold or 3}"


def template_container(spec: V1Container) -> dict[str, Any]:
    """A container as a workload's pod template declares it: the recipe, with no state."""
    resources = spec.resources
    probes = {"liveness": spec.liveness_probe, "readiness": spec.readiness_probe, "startup": spec.startup_probe}
    return {
        "name": spec.name,
        "image": spec.image,
        "ports": [_port(p) for p in spec.ports or []],
        "requests": dict(resources.requests or {}) if resources else {},
        "limits": dict(resources.limits or {}) if resources else {},
        "probes": {kind: probe(p) for kind, p in probes.items() if p is not None},
        "env": [env_entry(v) for v in spec.env or []],
        "env_from": [_env_from(e) for e in spec.env_from or []],
    }


def container(spec: V1Container, status: V1ContainerStatus | None) -> dict[str, Any]:
    """A pod's container: the recipe plus readiness, restarts, and its current and last state.

    `last_state` holds the last termination (reason, exit code) of a restarted container.
    """
    return {
        **template_container(spec),
        "ready": bool(status and status.ready),
        "restarts": status.restart_count if status else 0,
        "state": container_state(status.state) if status else None,
        "last_state": container_state(status.last_state) if status else None,
    }


def _sidecar(spec: Any) -> dict[str, bool]:
    """Init containers that restart always are sidecars: they keep running beside the others."""
    return {"sidecar": spec.restart_policy == "Always"}


def pod_template(template: V1PodTemplateSpec) -> dict[str, Any]:
    """The containers and init containers of a workload's pod template."""
    spec = template.spec
    return {
        "containers": [template_container(c) for c in spec.containers],
        "init_containers": [{**template_container(c), **_sidecar(c)} for c in spec.init_containers or []],
    }


def workload(obj: Any) -> dict[str, Any]:
    """What every controller of pods shows: selector, owner, conditions and pod template."""
    status = obj.status
    return {
        "selector": selector_text(obj.spec.selector),
        "owner": owners(obj.metadata),
        "conditions": conditions(status.conditions if status else None),
        **pod_template(obj.spec.template),
    }


def counts(status: Any, **fields: str) -> dict[str, int]:
    """Status counters under the names a row shows them (`ready="ready_replicas"`); missing ones are 0.

    `status` is a model, or the API's JSON of one, whose fields are then named as the API names
    them (`ready="readyReplicas"`).
    """
    if isinstance(status, Mapping):
        return {name: int(status.get(field) or 0) for name, field in fields.items()}
    return {name: int(getattr(status, field, None) or 0) for name, field in fields.items()}


def claim_request(spec: Any) -> dict[str, Any]:
    """What a PersistentVolumeClaim (or a StatefulSet's claim template) asks for."""
    requests = spec.resources.requests or {} if spec.resources else {}
    return {
        "requested": requests.get("storage"),
        "access_modes": spec.access_modes or [],
        "storage_class": spec.storage_class_name,
        "volume_mode": spec.volume_mode,
    }


def images(template: V1PodTemplateSpec | Json) -> list[str]:
    """The image of each container of a pod template, a model or the API's JSON of one."""
    if isinstance(template, Mapping):
        return [c.get("image") for c in template["spec"]["containers"]]
    return [c.image for c in template.spec.containers]


def pod_containers(pod: V1Pod) -> dict[str, Any]:
    """Every container of a pod with its status: regular, init (in order) and ephemeral (debug)."""
    spec, status = pod.spec, pod.status

    def by_name(statuses: list[V1ContainerStatus] | None) -> dict[str, V1ContainerStatus]:
        return {s.name: s for s in statuses or []}

    regular = by_name(status.container_statuses if status else None)
    init = by_name(status.init_container_statuses if status else None)
    ephemeral = by_name(status.ephemeral_container_statuses if status else None)
    return {
        "containers": [container(c, regular.get(c.name)) for c in spec.containers],
        "init_containers": [{**container(c, init.get(c.name)), **_sidecar(c)} for c in spec.init_containers or []],
        "ephemeral_containers": [
            {**container(c, ephemeral.get(c.name)), "target": c.target_container_name}
            for c in spec.ephemeral_containers or []
        ],
    }


def _port(port: Any) -> str:
    number = f"{port.container_port}/{port.protocol or 'TCP'}"
    return f"{port.name}:{number}" if port.name else number


def _env_from(source: Any) -> str:
    if source.secret_ref is not None:
        return f"secret {source.secret_ref.name}"
    if source.config_map_ref is not None:
        return f"configmap {source.config_map_ref.name}"
    return "unknown source"


def conditions(items: Iterable[Any] | None) -> list[dict[str, Any]]:
    """Status conditions of any kind: type, status, reason, message and since when."""
    return [
        {
            "type": c.type,
            "status": c.status,
            "reason": c.reason,
            "message": c.message,
            "since": timestamp(getattr(c, "last_transition_time", None)),
        }
        for c in items or []
    ]


def revision(metadata: V1ObjectMeta | Json) -> int | None:
    """The rollout revision the deployment controller wrote on a Deployment or ReplicaSet (its
    metadata as a model, or as the API's JSON)."""
    annotations = metadata.get("annotations") if isinstance(metadata, Mapping) else metadata.annotations
    value = (annotations or {}).get(REVISION)
    return int(value) if value and value.isdigit() else None


def owners(metadata: V1ObjectMeta | Json) -> list[str]:
    """`Kind/name` of each owner, so an agent can walk Pod -> ReplicaSet -> Deployment (its metadata
    as a model, or as the API's JSON)."""
    if isinstance(metadata, Mapping):
        return [f"{o.get('kind')}/{o.get('name')}" for o in metadata.get("ownerReferences") or []]
    return [f"{o.kind}/{o.name}" for o in metadata.owner_references or []]


def selector_text(selector: V1LabelSelector | Mapping[str, str] | None) -> str:
    """A selector as the text `label_selector` arguments take, e.g. `app=web,tier in (a,b)`.

    Takes a workload's `LabelSelector` or a plain label map (a Service's selector).
    """
    if selector is None:
        return ""
    if isinstance(selector, Mapping):
        return ",".join(f"{key}={value}" for key, value in sorted(selector.items()))
    parts = [selector_text(selector.match_labels or {})] if selector.match_labels else []
    for e in selector.match_expressions or []:
        values = ",".join(e.values or [])
        operators = {"In": f"{e.key} in ({values})", "NotIn": f"{e.key} notin ({values})", "DoesNotExist": f"!{e.key}"}
        parts.append(operators.get(e.operator, e.key))
    return ",".join(parts)


def page(result: Any) -> dict[str, Any]:
    """The paging facts of a list answer: the token for the next page and, when known, how many remain.

    `result` is a list model, or the API's JSON of one (a kind whose rows read raw JSON).
    """
    if isinstance(result, Mapping):
        raw = result.get("metadata") or {}
        return {"continue": raw.get("continue") or None, "remaining": raw.get("remainingItemCount")}
    meta = result.metadata
    return {
        "continue": (meta._continue or None) if meta else None,
        "remaining": meta.remaining_item_count if meta else None,
    }


def pod_status(pod: Json) -> str:
    """The one word `kubectl get pods` shows: `Running`, `CrashLoopBackOff`, `Init:Error`, `Init:0/2`..."""
    if pod["metadata"].get("deletionTimestamp") is not None:
        return "Terminating"
    status = pod.get("status")
    if status is None:
        return "Unknown"
    init = _init_status(pod.get("spec") or {}, status)
    if init is not None:
        return init
    states = [s.get("state") or {} for s in status.get("containerStatuses") or []]
    for state in states:
        reason = (state.get("waiting") or {}).get("reason")
        if reason:
            return str(reason)
    for state in states:
        t = state.get("terminated")
        if t is not None:
            return str(t.get("reason") or f"ExitCode:{t.get('exitCode')}")
    return str(status.get("reason") or status.get("phase") or "Unknown")


def _init_status(spec: Json, status: Json) -> str | None:
    """`Init:<reason>` or `Init:<done>/<all>` while an init container has not finished, else None."""
    specs = spec.get("initContainers") or []
    statuses = {s["name"]: s for s in status.get("initContainerStatuses") or []}
    for done, init in enumerate(specs):
        s = statuses.get(init["name"])
        state = (s.get("state") if s else None) or {}
        terminated, waiting = state.get("terminated"), state.get("waiting") or {}
        if terminated is not None and terminated.get("exitCode") == 0:
            continue
        if init.get("restartPolicy") == "Always" and s is not None and s.get("started"):
            continue
        if terminated is not None:
            return "Init:" + str(terminated.get("reason") or f"ExitCode:{terminated.get('exitCode')}")
        if waiting.get("reason") and waiting["reason"] != "PodInitializing":
            return f"Init:{waiting['reason']}"
        return f"Init:{done}/{len(specs)}"
    return None


def pod_row(pod: Json) -> dict[str, Any]:
    """One line of a pod listing, like `kubectl get pods` in JSON (restarts count init containers too).

    It reads the pod as the API's JSON (camelCase keys): a listing never builds model objects.
    """
    metadata, spec, status = pod["metadata"], pod.get("spec") or {}, pod.get("status") or {}
    statuses = status.get("containerStatuses") or []
    init_statuses = status.get("initContainerStatuses") or []
    waiting = (((s.get("state") or {}).get("waiting") or {}).get("reason") for s in statuses)
    return {
        "name": metadata["name"],
        "status": pod_status(pod),
        "phase": status.get("phase"),
        "ready": f"{sum(1 for s in statuses if s.get('ready'))}/{len(spec.get('containers') or [])}",
        "restarts": sum(s.get("restartCount") or 0 for s in [*statuses, *init_statuses]),
        "waiting": sorted({reason for reason in waiting if reason}),
        "node": spec.get("nodeName"),
        "ip": status.get("podIP"),
        "created": rfc3339(metadata.get("creationTimestamp")),
    }
