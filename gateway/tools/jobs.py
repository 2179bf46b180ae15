"""Job tools: list and describe. A Job is finished when it is Complete or Failed."""

from typing import TYPE_CHECKING, Annotated, Any

from pydantic import Field

from gateway.kube import Kube
from gateway.tools.events import described
from gateway.tools.listing import each, namespaced_list
from gateway.tools.shape import counts, owners, timestamp, workload
from gateway.validation import Namespace, ObjectName

if TYPE_CHECKING:
    from kubernetes.client import V1Job

JobName = Annotated[ObjectName, Field(description="Job name (DNS-1123 subdomain).")]

_TERMINAL = ("Complete", "Failed", "Suspended")


def job_state(job: "V1Job") -> str:
    """`Complete`, `Failed` or `Suspended` from the Job's conditions, else `Running` or `Pending`."""
    status = job.status
    true = {c.type for c in (status.conditions or [] if status else []) if c.status == "True"}
    terminal = next((kind for kind in _TERMINAL if kind in true), None)
    if terminal is not None:
        return terminal
    return "Running" if status and status.active else "Pending"


def _row(j: "V1Job") -> dict[str, Any]:
    status = j.status
    return {
        "name": j.metadata.name,
        "state": job_state(j),
        "completions": j.spec.completions,
        **counts(status, active="active", succeeded="succeeded", failed="failed"),
        "started": timestamp(status.start_time) if status else None,
        "finished": timestamp(status.completion_time) if status else None,
        "owner": owners(j.metadata),
        "created": timestamp(j.metadata.creation_timestamp),
    }


list_jobs = namespaced_list(
    "jobs",
    "List Jobs in a namespace with state (Complete, Failed, Running...), succeeded and failed pods, owner.",
    method=lambda kube: kube.batch.list_namespaced_job,
    rows=each(_row),
)


async def describe_job(kube: Kube, job_name: JobName, namespace: Namespace = "default") -> dict[str, Any]:
    """Describe a Job: state, pod counts, limits (backoff, deadline), conditions with reasons, pod template, events."""
    j = await kube.call(kube.batch.read_namespaced_job, name=job_name, namespace=namespace)
    return await described(
        kube,
        j,
        _row(j),
        kind="Job",
        namespace=namespace,
        parallelism=j.spec.parallelism,
        backoff_limit=j.spec.backoff_limit,
        active_deadline_seconds=j.spec.active_deadline_seconds,
        suspend=bool(j.spec.suspend),
        **workload(j),
    )
