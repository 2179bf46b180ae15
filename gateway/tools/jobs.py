"""Job tools: list and describe. A Job is finished when it is Complete or Failed."""

from typing import Annotated, Any

from pydantic import Field

from gateway.kube import Kube
from gateway.tools.events import described
from gateway.tools.listing import each, namespaced_list
from gateway.tools.shape import Json, counts, owners, rfc3339, workload
from gateway.validation import Namespace, ObjectName

JobName = Annotated[ObjectName, Field(description="Job name (DNS-1123 subdomain).")]

_TERMINAL = ("Complete", "Failed", "Suspended")


def _state(status: Json) -> str:
    """`Complete`, `Failed` or `Suspended` from the Job's conditions, else `Running` or `Pending`."""
    true = {c.get("type") for c in status.get("conditions") or [] if c.get("status") == "True"}
    terminal = next((kind for kind in _TERMINAL if kind in true), None)
    if terminal is not None:
        return terminal
    return "Running" if status.get("active") else "Pending"


def _row(j: Json) -> dict[str, Any]:
    """One line of a Job listing, read from the API's JSON (a listing builds no models)."""
    metadata, status = j["metadata"], j.get("status") or {}
    return {
        "name": metadata["name"],
        "state": _state(status),
        "completions": (j.get("spec") or {}).get("completions"),
        **counts(status, active="active", succeeded="succeeded", failed="failed"),
        "started": rfc3339(status.get("startTime")),
        "finished": rfc3339(status.get("completionTime")),
        "owner": owners(metadata),
        "created": rfc3339(metadata.get("creationTimestamp")),
    }


list_jobs = namespaced_list(
    "jobs",
    "List Jobs in a namespace with state (Complete, Failed, Running...), succeeded and failed pods, owner.",
    method=lambda kube: kube.json_list("/apis/batch/v1/namespaces/{namespace}/jobs", name="list_namespaced_job"),
    rows=each(_row),
)


async def describe_job(kube: Kube, job_name: JobName, namespace: Namespace = "default") -> dict[str, Any]:
    """Describe a Job: state, pod counts, limits (backoff, deadline), conditions with reasons, pod template, events."""
    j = await kube.call(kube.batch.read_namespaced_job, name=job_name, namespace=namespace)
    return await described(
        kube,
        j,
        _row(kube.api_client.sanitize_for_serialization(j)),
        kind="Job",
        namespace=namespace,
        parallelism=j.spec.parallelism,
        backoff_limit=j.spec.backoff_limit,
        active_deadline_seconds=j.spec.active_deadline_seconds,
        suspend=bool(j.spec.suspend),
        **workload(j),
    )
