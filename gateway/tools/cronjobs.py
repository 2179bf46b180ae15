"""CronJob tools: list and describe."""

from typing import TYPE_CHECKING, Annotated, Any

from pydantic import Field

from gateway.kube import Kube
from gateway.tools.events import described
from gateway.tools.listing import each, namespaced_list
from gateway.tools.shape import pod_template, timestamp
from gateway.validation import Namespace, ObjectName

if TYPE_CHECKING:
    from kubernetes.client import V1CronJob

CronJobName = Annotated[ObjectName, Field(description="CronJob name (DNS-1123 subdomain).")]


def _row(c: "V1CronJob") -> dict[str, Any]:
    status = c.status
    return {
        "name": c.metadata.name,
        "schedule": c.spec.schedule,
        "time_zone": c.spec.time_zone,
        "suspend": bool(c.spec.suspend),
        "active": len(status.active or []) if status else 0,
        "last_schedule": timestamp(status.last_schedule_time) if status else None,
        "last_success": timestamp(status.last_successful_time) if status else None,
        "created": timestamp(c.metadata.creation_timestamp),
    }


list_cronjobs = namespaced_list(
    "cronjobs",
    "List CronJobs in a namespace with schedule, suspension, active jobs, last schedule and last success.",
    method=lambda kube: kube.batch.list_namespaced_cron_job,
    rows=each(_row),
)


async def describe_cronjob(kube: Kube, cronjob_name: CronJobName, namespace: Namespace = "default") -> dict[str, Any]:
    """Describe a CronJob: schedule, concurrency policy, history limits, active Jobs, job template, events."""
    c = await kube.call(kube.batch.read_namespaced_cron_job, name=cronjob_name, namespace=namespace)
    spec = c.spec
    return await described(
        kube,
        c,
        _row(c),
        kind="CronJob",
        namespace=namespace,
        concurrency_policy=spec.concurrency_policy,
        starting_deadline_seconds=spec.starting_deadline_seconds,
        history_limits={"successful": spec.successful_jobs_history_limit, "failed": spec.failed_jobs_history_limit},
        active_jobs=[ref.name for ref in (c.status.active or [] if c.status else [])],
        **pod_template(spec.job_template.spec.template),
    )
