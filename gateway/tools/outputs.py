"""What each Kubernetes tool answers, as pydantic models of its rows: the tools' `outputSchema`.

A client that validates structured content (the `mcp` SDK's client session does) trusts these
schemas, so they say exactly what the tools send. Every key a tool writes is required; its value
is nullable where Kubernetes may leave the field out (`str | None`). A shape the gateway builds
itself is closed (`additionalProperties: false`); a map that Kubernetes fills (labels, capacity,
requests) is a map of strings. A set of values is an enum only when it is closed: one the gateway
computes (a Job's state, a container state), or one the API defines as closed (a pod's phase, a
condition's status); an open one (an event's type, a reason) is a string with a description.

The tool modules build plain dicts; these models only describe them (the catalog attaches each to
its tool), so a row can be built any way as long as its shape holds, and the tests check that it
does against every tool's real output.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field


class Shape(BaseModel):
    """A closed JSON object: no key beyond those declared."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


Time = Annotated[str | None, Field(description="RFC 3339 UTC time; null when Kubernetes has not set it.")]
Created = Annotated[str | None, Field(description="When the object was created (RFC 3339 UTC).")]
Count = Annotated[int, Field(ge=0, description="A status counter; 0 when Kubernetes leaves it out.")]
Labels = Annotated[dict[str, str], Field(description="The object's labels.")]
Quantities = dict[str, str]
"""Resource name -> Kubernetes quantity, e.g. `{"cpu": "250m", "memory": "1Gi"}`."""
Owners = Annotated[list[str], Field(description="`Kind/name` of each owner, e.g. `ReplicaSet/web-7d9c6b8f5`.")]
Images = Annotated[list[str | None], Field(description="The image of each container of the pod template.")]
ConditionStatus = Literal["True", "False", "Unknown"]


# --------------------------------------------------------------------------------------------
# Parts shared by many answers
# --------------------------------------------------------------------------------------------


class Page(Shape):
    """The paging facts of a list answer."""

    continue_: str | None = Field(
        alias="continue", description="Pass as `continue_token` to get the next page; null on the last page."
    )
    remaining: int | None = Field(description="How many objects remain after this page, when the API says.")


class Condition(Shape):
    type: str = Field(description="The condition, e.g. `Available`, `Ready`, `Progressing`.")
    status: ConditionStatus
    reason: str | None
    message: str | None
    since: Time


class Event(Shape):
    """One event about an object, newest first in a list."""

    time: Time
    type: str | None = Field(description="`Normal` or `Warning`; Kubernetes may add types.")
    reason: str | None
    object: str = Field(description="`Kind/name` of the object the event is about.")
    message: str | None
    count: int = Field(ge=1, description="How many times it happened.")


class EnvValue(Shape):
    """An environment variable with a literal value."""

    name: str
    value: str | None


class EnvReference(Shape):
    """An environment variable taken from elsewhere: only its source is shown, never a Secret's value."""

    name: str
    from_: str = Field(alias="from", description="e.g. `secret db-creds key password`, `field metadata.name`.")


ProbeKind = Literal["liveness", "readiness", "startup"]


class TemplateContainer(Shape):
    """A container as a pod template declares it: the recipe, with no state."""

    name: str
    image: str | None
    ports: list[str] = Field(description="`name:port/protocol` of each declared port.")
    requests: Quantities
    limits: Quantities
    probes: dict[ProbeKind, str] = Field(description="Each probe the container has, on one line.")
    env: list[EnvValue | EnvReference]
    env_from: list[str] = Field(description="`secret NAME` or `configmap NAME` of each bulk source.")


class InitTemplateContainer(TemplateContainer):
    sidecar: bool = Field(description="An init container that restarts always: it runs beside the others.")


class Running(Shape):
    state: Literal["running"]
    since: Time


class Waiting(Shape):
    state: Literal["waiting"]
    reason: str | None = Field(description="e.g. `CrashLoopBackOff`, `ImagePullBackOff`.")
    message: str | None


class Terminated(Shape):
    state: Literal["terminated"]
    reason: str | None = Field(description="e.g. `Error`, `OOMKilled`, `Completed`.")
    exit_code: int
    finished: Time


ContainerState = Running | Waiting | Terminated


class Container(TemplateContainer):
    """A pod's container: the recipe, plus its readiness, restarts, and current and last state."""

    ready: bool
    restarts: Count
    state: ContainerState | None
    last_state: ContainerState | None = Field(description="The last termination of a restarted container.")


class InitContainer(Container):
    sidecar: bool = Field(description="An init container that restarts always: it runs beside the others.")


class EphemeralContainer(Container):
    target: str | None = Field(description="The container a debug container was started to look at.")


class Described(Shape):
    """What every describe answer adds to the object's row."""

    namespace: str
    labels: Labels
    events: list[Event] = Field(description="The object's latest events, newest first.")


class PodTemplate(Shape):
    containers: list[TemplateContainer]
    init_containers: list[InitTemplateContainer]


class Workload(PodTemplate):
    """What every controller of pods shows."""

    selector: str = Field(description="The label selector, as `label_selector` arguments take it.")
    owner: Owners
    conditions: list[Condition]


class ClaimRequest(Shape):
    requested: str | None = Field(description="The storage asked for, e.g. `10Gi`.")
    access_modes: list[str]
    storage_class: str | None
    volume_mode: str | None


# --------------------------------------------------------------------------------------------
# Namespaces, pods, nodes, events
# --------------------------------------------------------------------------------------------


class NamespaceRow(Shape):
    name: str
    phase: str | None = Field(description="`Active` or `Terminating`.")
    created: Created
    allowed: bool = Field(description="Whether the policy lets you use this namespace.")


class NamespaceList(Shape):
    namespaces: list[NamespaceRow]


class PodRow(Shape):
    """One line of a pod listing, like `kubectl get pods`."""

    name: str
    status: str = Field(description="The word `kubectl get pods` shows: `Running`, `CrashLoopBackOff`, `Init:0/2`...")
    phase: Literal["Pending", "Running", "Succeeded", "Failed", "Unknown"] | None
    ready: str = Field(pattern=r"^[0-9]+/[0-9]+$", description="Ready containers out of all, e.g. `1/2`.")
    restarts: Count
    waiting: list[str] = Field(description="Why containers wait, e.g. `CrashLoopBackOff`.")
    node: str | None
    ip: str | None
    created: Created


class PodList(Page):
    namespace: str
    pods: list[PodRow]


class PodLog(Shape):
    pod: str
    namespace: str
    container: str | None
    previous: bool
    lines: int = Field(ge=0)
    log: str


class PodDescription(PodRow, Described):
    owner: Owners
    reason: str | None
    message: str | None
    qos: Literal["Guaranteed", "Burstable", "BestEffort"] | None
    started: Time
    conditions: list[Condition]
    containers: list[Container]
    init_containers: list[InitContainer]
    ephemeral_containers: list[EphemeralContainer]


class NodeProblem(Shape):
    type: str
    reason: str | None
    message: str | None


class Node(Shape):
    name: str
    ready: ConditionStatus
    ready_reason: str | None
    schedulable: bool
    problems: list[NodeProblem] = Field(description="Ready when not True, every other condition when True.")
    kubelet_version: str | None
    capacity: Quantities
    allocatable: Quantities
    addresses: list[str] = Field(description="`Type=address`, e.g. `InternalIP=10.0.0.4`.")


class NodeStatus(Shape):
    nodes: list[Node]


class EventList(Shape):
    namespace: str
    events: list[Event]


# --------------------------------------------------------------------------------------------
# Deployments: list, describe, rollout, writes
# --------------------------------------------------------------------------------------------


class DeploymentRow(Shape):
    name: str
    replicas: int | None = Field(description="Desired replicas.")
    ready: Count
    updated: Count
    available: Count
    images: Images
    created: Created


class DeploymentList(Page):
    namespace: str
    deployments: list[DeploymentRow]


class DeploymentDescription(DeploymentRow, Described, Workload):
    revision: int | None
    strategy: str | None = Field(description="`RollingUpdate` or `Recreate`.")
    paused: bool


class RolloutStatus(Shape):
    deployment: str
    namespace: str
    revision: int | None
    state: Literal["complete", "progressing", "failed"]
    message: str
    paused: bool
    replicas: int | None
    updated: Count
    ready: Count
    available: Count
    unavailable: Count


class Revision(Shape):
    revision: int | None
    current: bool
    replicaset: str
    change_cause: str | None
    images: Images
    replicas: int | None
    ready: Count
    created: Created


class RolloutHistory(Shape):
    deployment: str
    namespace: str
    revision: int | None = Field(description="The deployment's current revision.")
    revisions: list[Revision] = Field(description="Oldest first.")


class Restarted(Shape):
    deployment: str
    namespace: str
    restarted_at: str
    dry_run: bool


class Scaled(Shape):
    deployment: str
    namespace: str
    replicas: int | None = Field(description="The count the API answered; it leaves out 0.")
    dry_run: bool


class RolledBack(Shape):
    deployment: str
    namespace: str
    to_revision: int = Field(description="The revision whose pod template the deployment now has.")
    images: Images
    dry_run: bool


class PodDeleted(Shape):
    pod: str
    namespace: str
    deleted: bool
    grace_period_seconds: int | None = Field(description="The grace period asked for; null: the pod's own.")
    dry_run: bool


class NodeMarked(Shape):
    node: str
    schedulable: bool = Field(description="False once cordoned: no new pod is placed on the node.")
    dry_run: bool


# --------------------------------------------------------------------------------------------
# Other workloads
# --------------------------------------------------------------------------------------------


class StatefulSetRow(Shape):
    name: str
    replicas: int | None
    ready: Count
    current: Count
    updated: Count
    images: Images
    created: Created


class StatefulSetList(Page):
    namespace: str
    statefulsets: list[StatefulSetRow]


class VolumeClaimTemplate(ClaimRequest):
    name: str | None


class StatefulSetDescription(StatefulSetRow, Described, Workload):
    service: str | None
    pod_management: str | None
    update_strategy: str | None
    current_revision: str | None
    update_revision: str | None
    volume_claims: list[VolumeClaimTemplate]


class DaemonSetRow(Shape):
    name: str
    desired: Count
    current: Count
    ready: Count
    updated: Count
    available: Count
    misscheduled: Count
    node_selector: dict[str, str]
    images: Images
    created: Created


class DaemonSetList(Page):
    namespace: str
    daemonsets: list[DaemonSetRow]


class DaemonSetDescription(DaemonSetRow, Described, Workload):
    update_strategy: str | None
    max_unavailable: str | None
    tolerations: list[str] = Field(description="`key=value:effect`, `*` for any.")


class ReplicaSetRow(Shape):
    name: str
    replicas: int | None
    current: Count
    ready: Count
    available: Count
    revision: int | None
    owner: Owners
    images: Images
    created: Created


class ReplicaSetList(Page):
    namespace: str
    replicasets: list[ReplicaSetRow]


class ReplicaSetDescription(ReplicaSetRow, Described, Workload):
    pass


class JobRow(Shape):
    name: str
    state: Literal["Complete", "Failed", "Suspended", "Running", "Pending"]
    completions: int | None
    active: Count
    succeeded: Count
    failed: Count
    started: Time
    finished: Time
    owner: Owners
    created: Created


class JobList(Page):
    namespace: str
    jobs: list[JobRow]


class JobDescription(JobRow, Described, Workload):
    parallelism: int | None
    backoff_limit: int | None
    active_deadline_seconds: int | None
    suspend: bool


class CronJobRow(Shape):
    name: str
    schedule: str
    time_zone: str | None
    suspend: bool
    active: Count
    last_schedule: Time
    last_success: Time
    created: Created


class CronJobList(Page):
    namespace: str
    cronjobs: list[CronJobRow]


class HistoryLimits(Shape):
    successful: int | None
    failed: int | None


class CronJobDescription(CronJobRow, Described, PodTemplate):
    concurrency_policy: str | None
    starting_deadline_seconds: int | None
    history_limits: HistoryLimits
    active_jobs: list[str]


# --------------------------------------------------------------------------------------------
# Networking
# --------------------------------------------------------------------------------------------


class EndpointCounts(Shape):
    ready: Count
    not_ready: Count


class ServiceRow(Shape):
    name: str
    type: str | None = Field(description="`ClusterIP`, `NodePort`, `LoadBalancer` or `ExternalName`.")
    cluster_ip: str | None
    external: list[str | None] = Field(description="Load-balancer and external IPs or host names.")
    ports: list[str]
    selector: str
    endpoints: EndpointCounts
    created: Created


class ServiceList(Page):
    namespace: str
    services: list[ServiceRow]


class Endpoint(Shape):
    addresses: list[str]
    ready: bool
    target: str | None
    node: str | None


class EndpointSlice(Shape):
    name: str
    address_type: str
    ports: list[str]
    endpoints: list[Endpoint]
    truncated: bool = Field(description="More endpoints than shown; the counts cover them all.")


class ServiceDescription(ServiceRow, Described):
    external_name: str | None
    session_affinity: str | None
    slices: list[EndpointSlice]


class IngressFields(Shape):
    name: str
    class_: str | None = Field(alias="class")
    hosts: list[str] = Field(description="`*` for a rule without a host.")
    addresses: list[str | None]
    created: Created


class IngressRow(IngressFields):
    tls: bool


class IngressList(Page):
    namespace: str
    ingresses: list[IngressRow]


class IngressPath(Shape):
    path: str
    type: str | None
    backend: str | None = Field(description="`service:port` or `Kind/name`.")


class IngressRule(Shape):
    host: str
    paths: list[IngressPath]


class IngressTls(Shape):
    hosts: list[str]
    secret: str | None = Field(description="The TLS Secret's name; it is never read.")


class IngressDescription(IngressFields, Described):
    default_backend: str | None
    rules: list[IngressRule]
    tls: list[IngressTls]


class HpaRow(Shape):
    name: str
    target: str = Field(description="`Kind/name` of what it scales.")
    min: int | None
    max: int
    replicas: Count = Field(description="The current number of replicas.")
    desired: Count
    metrics: list[str] = Field(description="`metric: current/target`; current is `<unknown>` until measured.")
    created: Created


class HpaList(Page):
    namespace: str
    hpas: list[HpaRow]


class HpaDescription(HpaRow, Described):
    last_scale: Time
    conditions: list[Condition]


# --------------------------------------------------------------------------------------------
# Storage and configuration
# --------------------------------------------------------------------------------------------


class PvcRow(ClaimRequest):
    name: str
    status: str | None = Field(description="`Pending`, `Bound` or `Lost`.")
    volume: str | None
    capacity: str | None
    created: Created


class PvcList(Page):
    namespace: str
    pvcs: list[PvcRow]


class PvcDescription(PvcRow, Described):
    owner: Owners
    conditions: list[Condition]


class PvRow(Shape):
    name: str
    status: str | None = Field(description="`Available`, `Bound`, `Released`, `Failed`...")
    capacity: str | None
    access_modes: list[str]
    reclaim_policy: str | None
    storage_class: str | None
    claim: str | None = Field(description="`namespace/name` of the claim it is bound to.")
    created: Created


class PvList(Page):
    pvs: list[PvRow]


class PvDescription(PvRow):
    labels: Labels
    reason: str | None
    message: str | None
    source: str
    volume_mode: str | None
    mount_options: list[str]
    events: list[Event] = Field(description="The volume's latest events, newest first.")


class ConfigMapRow(Shape):
    name: str
    keys: int = Field(ge=0)
    bytes: int = Field(ge=0, description="The size of all values; the values themselves are never shown.")
    immutable: bool
    created: Created


class ConfigMapList(Page):
    namespace: str
    configmaps: list[ConfigMapRow]


class KeySize(Shape):
    key: str
    bytes: int = Field(ge=0)


class ConfigMapDescription(ConfigMapRow, Described):
    owner: Owners
    data: list[KeySize] = Field(description="Each key of `data` and its size in bytes (never its value).")
    binary_data: list[KeySize]


# --------------------------------------------------------------------------------------------
# The generic read pair
# --------------------------------------------------------------------------------------------


class ResolvedKind(Shape):
    """The kind as discovery resolved it: what the policy judged and the API server was asked."""

    group: str = Field(description="The API group; '' for the core group.")
    version: str
    kind: str
    resource: str = Field(description="The plural resource name, as RBAC and the policy name it.")


class ResourceRow(Shape):
    """A concise row of any object: never its spec or data."""

    name: str
    namespace: str | None = Field(description="Null for a cluster-scoped object.")
    created: Created
    age: str | None = Field(description="How long ago it was created, as `kubectl get` prints it: `45s`, `5h`, `3d`.")
    labels: Labels
    owner: Owners
    phase: str | None = Field(description="`status.phase`, for the kinds that have one.")
    conditions: list[str] = Field(
        description="`Type=Status` of its Ready, Available, Progressing, Complete and Failed conditions."
    )
    replicas: int | None = Field(description="`spec.replicas`, for the kinds that have one.")
    ready_replicas: int | None = Field(description="`status.readyReplicas`, for the kinds that have one.")


class ResourceList(ResolvedKind, Page):
    namespace: str | None = Field(description="The namespace listed; null for a cluster-scoped kind.")
    items: list[ResourceRow]


class ResourceObject(ResolvedKind, ResourceRow):
    pass


# --------------------------------------------------------------------------------------------
# The caller
# --------------------------------------------------------------------------------------------


class Caller(Shape):
    sub: str
    groups: list[str]
    authenticated: bool
    transport: str = Field(description="`stdio` or `http`.")


class GrantedWrite(Shape):
    tool: str
    namespace: str = Field(description="`*`: any namespace the allowlists admit.")
    approval: dict[str, bool | int | list[str]] = Field(description="The approval such a write needs.")


class Permissions(Shape):
    mode: str = Field(description="`readonly` or `readwrite`: the stricter of the policy's and the gateway's.")
    namespaces: list[str] = Field(description="Where reads may go; `*`: any.")
    cluster_reads: list[str]
    writes: list[GrantedWrite]
    truncated: bool


class KubeContext(Shape):
    name: str = Field(description="The kubeconfig context; the value of a Kubernetes tool's `context`.")
    server: str = Field(description="The API server's host and port.")
    default: bool = Field(description="Whether a call without `context` runs here.")


class ContextList(Shape):
    contexts: list[KubeContext]


class MyPermissions(Shape):
    caller: Caller
    cluster: str = Field(description="The kubeconfig context (cluster) the policy was asked about.")
    permissions: Permissions | None = Field(description="What the policy sums up for you; null when it gave none.")
