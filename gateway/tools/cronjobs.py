"""CronJob tools: list and describe."""

from typing import Annotated, Any

from pydantic import Field

from gateway.kube import Kube
from gateway.tools.events import described
from gateway.tools.listing import each, namespaced_list
from gateway.tools.shape import Json, pod_template, rfc3339
from gateway.validation import Namespace, ObjectName

CronJobName = Annotated[ObjectName, Field(description="CronJob name (DNS-1123 subdomain).")]


def _row(c: Json) -> dict[str, Any]:
    """One line of a CronJob listing, read from the API's JSON (a listing builds no models)."""
    metadata, spec, status = c["metadata"], c.get("spec") or {}, c.get("status") or {}
    return {
        "name": metadata["name"],
        "schedule": spec.get("schedule"),
        "time_zone": spec.get("timeZone"),
        "suspend": bool(spec.get("suspend")),
        "active": len(status.get("active") or []),
        "last_schedule": rfc3339(status.get("lastScheduleTime")),
        "last_success": rfc3339(status.get("lastSuccessfulTime")),
        "created": rfc3339(metadata.get("creationTimestamp")),
    }


list_cronjobs = namespaced_list(
    "cronjobs",
    "List CronJobs in a namespace with schedule, suspension, active jobs, last schedule and last success.",
    method=lambda kube: kube.json_list(
        "/apis/batch/v1/namespaces/{namespace}/cronjobs", name="list_namespaced_cron_job"
    ),
    rows=each(_row),
)


async def describe_cronjob(kube: Kube, cronjob_name: CronJobName, namespace: Namespace = "default") -> dict[str, Any]:
    """Describe a CronJob: schedule, concurrency policy, history limits, active Jobs, job template, events."""
    c = await kube.call(kube.batch.read_namespaced_cron_job, name=cronjob_name, namespace=namespace)
    spec = c.spec
    return await described(
        kube,
        c,
        _row(kube.api_client.sanitize_for_serialization(c)),
        kind="CronJob",
        namespace=namespace,
        concurrency_policy=spec.concurrency_policy,
        starting_deadline_seconds=spec.starting_deadline_seconds,
        history_limits={"successful": spec.successful_jobs_history_limit, "failed": spec.failed_jobs_history_limit},
        active_jobs=[ref.name for ref in (c.status.active or [] if c.status else [])],
        **pod_template(spec.job_template.spec.template),
    )
