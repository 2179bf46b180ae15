"""The catalog: the one table that says what each tool does to Kubernetes.

For every tool it names the Kubernetes action in the vocabulary of RBAC and admission review
(verb, group, resource, subresource, namespace, name), the other API calls its handler makes, and
the MCP annotations clients show; the approval tools act on the gateway's own `approvals`, named
the same way in their own API group. The guard reads it to build the policy input; the server
reads it to register the tools; `gateway.rbac` reads it to generate the gateway's RBAC. Tool modules
know Kubernetes, the guard knows OPA, and this table is the only place that knows both.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from mcp_types import ToolAnnotations
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from gateway.approvals import tools as approvals
from gateway.approvals.outputs import ApprovalList, ApprovalPending, ApprovalView
from gateway.approvals.tools import GATEWAY_GROUP
from gateway.contexts import list_contexts
from gateway.discovery import Discovery
from gateway.errors import GatewayError
from gateway.guidance import my_permissions
from gateway.preview import PreviewFunction
from gateway.tools import (
    autoscalers,
    configmaps,
    cronjobs,
    daemonsets,
    deployments,
    events,
    ingresses,
    jobs,
    namespaces,
    nodes,
    persistentvolumeclaims,
    persistentvolumes,
    pods,
    replicasets,
    resources,
    services,
    statefulsets,
)
from gateway.tools import outputs as out
from gateway.tools.resources import resolved
from gateway.validation import arguments_model


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionTemplate:
    """What a tool does, before the arguments say to which object."""

    verb: str
    resource: str
    group: str = ""
    subresource: str = ""
    cluster_scoped: bool = False
    write: bool = False
    name_arg: str | None = None
    discovered: bool = False
    """The group, resource and scope are the kind the arguments name, resolved at call time
    (`Catalog.action`); `resource` is then `*`, for the `tools/list` query only."""

    def template(self) -> dict[str, Any]:
        """The action with no object named yet, for the `tools/list` query."""
        return {**self.bind({}), "verb": self.verb}

    def bind(self, arguments: Mapping[str, Any]) -> dict[str, Any]:
        """The action document for one call. A `get` without a name is a `list`, as in RBAC."""
        name = arguments.get(self.name_arg) if self.name_arg else None
        return {
            "verb": "list" if self.verb == "get" and name is None else self.verb,
            "group": self.group,
            "resource": self.resource,
            "subresource": self.subresource,
            "namespace": None if self.cluster_scoped else arguments.get("namespace"),
            "name": name,
            "cluster_scoped": self.cluster_scoped,
            "write": self.write,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiCall:
    """A Kubernetes request a handler (or its preview) makes besides its action.

    The policy decides on the action alone; the gateway's RBAC (`gateway.rbac`) must grant these
    too, or the tool fails with a 403 after the policy allowed it.
    """

    verb: str
    resource: str
    group: str = ""
    namespace: str | None = None
    """Where the call goes: None is the action's namespace; a name is that one namespace, always."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Entry:
    """One tool: its handler, its action, what it answers, the other API calls it makes and its MCP
    behaviour hints."""

    handler: Callable[..., Any]
    action: ActionTemplate
    output: type[BaseModel]
    """The model of the handler's answer: the tool's `outputSchema` (`gateway.tools.outputs`)."""
    extra_calls: tuple[ApiCall, ...] = ()
    destructive: bool = False
    idempotent: bool = True
    preview: PreviewFunction | None = None
    """For a write: the object now and after the tool's own call as a dry run (`gateway.preview`)."""
    uses: Literal["kube", "approvals", "discovery", "decided", "contexts"] = "kube"
    """What the handler's first parameter is: the Kubernetes client, the approval service, the
    discovery cache (`gateway.discovery`) the catalog resolves its action with, or
    `gateway.guidance.decided` (the caller and the hints of the call's decision)."""
    arguments: type[BaseModel] = field(init=False)
    tool_document: dict[str, Any] = field(init=False)
    """`input.tool`, built once: every call of this tool sends the same one."""

    @property
    def per_context(self) -> bool:
        """Whether a call chooses its context (`gateway.contexts`): the Kubernetes tools run against
        it, and `my_permissions` asks the policy about it."""
        return self.uses in ("kube", "discovery", "decided")

    def __post_init__(self) -> None:
        object.__setattr__(self, "arguments", arguments_model(self.handler))
        object.__setattr__(
            self,
            "tool_document",
            {
                "name": self.name,
                "read_only": self.read_only,
                "destructive": self.destructive,
                "idempotent": self.idempotent,
            },
        )

    @property
    def name(self) -> str:
        return self.handler.__name__

    @property
    def read_only(self) -> bool:
        return not self.action.write

    def output_schema(self, *, approvals: bool) -> dict[str, Any]:
        """The tool's `outputSchema`. With `approvals`, a write may instead answer that it waits for an
        approval (`ApprovalPending`), so its schema is either; the root stays an object, as MCP requires."""
        if not (self.action.write and approvals):
            return self.output.model_json_schema(mode="serialization")
        refs, defs = models_json_schema([(self.output, "serialization"), (ApprovalPending, "serialization")])
        return {"type": "object", "anyOf": list(refs.values()), **defs}

    def annotations(self) -> ToolAnnotations:
        return ToolAnnotations(
            read_only_hint=self.read_only,
            destructive_hint=self.destructive,
            idempotent_hint=self.idempotent,
            open_world_hint=False,
        )


RECENT_EVENTS = ApiCall(verb="list", resource="events")
"""The describe tools end with the object's recent events (`gateway.tools.events.described`)."""
CLUSTER_EVENTS = replace(RECENT_EVENTS, namespace=events.CLUSTER_EVENTS_NAMESPACE)
"""A cluster-scoped object's events, which Kubernetes records in `default`."""
ENDPOINT_SLICES = ApiCall(verb="list", resource="endpointslices", group="discovery.k8s.io")
"""The service tools show the endpoints behind each Service (`gateway.tools.services`)."""
OWNED_REPLICA_SETS = ApiCall(verb="list", resource="replicasets", group="apps")
"""`rollout_history` lists the ReplicaSets a deployment owns, one per revision."""
CURRENT_DEPLOYMENT = ApiCall(verb="get", resource="deployments", group="apps")
"""The write previews read the deployment as it is now (`gateway.preview`)."""
CURRENT_POD = ApiCall(verb="get", resource="pods")
"""`delete_pod`'s preview reads the pod it would delete."""
CURRENT_NODE = ApiCall(verb="get", resource="nodes")
"""The node writes' previews read the node as it is now."""


def _reads(
    listing: Callable[..., Any],
    describing: Callable[..., Any],
    resource: str,
    name_arg: str,
    outputs: tuple[type[BaseModel], type[BaseModel]],
    *,
    cluster: bool = False,
    extra_calls: tuple[ApiCall, ...] = (),
) -> tuple[Entry, Entry]:
    """The `list_*` and `describe_*` tools of one `group/resource`: a list, and a get of one named
    object that also reads the object's events; `outputs` are their answers' models and
    `extra_calls` the other calls both make."""
    group, _, plural = resource.rpartition("/")
    listed = ActionTemplate(verb="list", resource=plural, group=group, cluster_scoped=cluster)
    recent_events = CLUSTER_EVENTS if cluster else RECENT_EVENTS
    listed_output, described_output = outputs
    return (
        Entry(handler=listing, action=listed, output=listed_output, extra_calls=extra_calls),
        Entry(
            handler=describing,
            action=replace(listed, verb="get", name_arg=name_arg),
            output=described_output,
            extra_calls=(*extra_calls, recent_events),
        ),
    )


def _node_write(handler: Callable[..., Any], preview: PreviewFunction) -> Entry:
    """Cordon or uncordon: a patch of one node, a cluster-scoped write that marks it and removes
    nothing, so neither destructive nor different when repeated."""
    return Entry(
        handler=handler,
        action=ActionTemplate(verb="patch", resource="nodes", cluster_scoped=True, write=True, name_arg="node_name"),
        idempotent=True,
        extra_calls=(CURRENT_NODE,),
        output=out.NodeMarked,
        preview=preview,
    )


ENTRIES: tuple[Entry, ...] = (
    Entry(
        handler=namespaces.list_namespaces,
        action=ActionTemplate(verb="list", resource="namespaces", cluster_scoped=True),
        output=out.NamespaceList,
    ),
    Entry(handler=pods.list_pods, action=ActionTemplate(verb="list", resource="pods"), output=out.PodList),
    Entry(
        handler=pods.get_pod_logs,
        action=ActionTemplate(verb="get", resource="pods", subresource="log", name_arg="pod_name"),
        output=out.PodLog,
    ),
    Entry(
        handler=pods.describe_pod,
        action=ActionTemplate(verb="get", resource="pods", name_arg="pod_name"),
        output=out.PodDescription,
        extra_calls=(RECENT_EVENTS,),
    ),
    Entry(
        handler=deployments.list_deployments,
        action=ActionTemplate(verb="list", resource="deployments", group="apps"),
        output=out.DeploymentList,
    ),
    Entry(
        handler=deployments.describe_deployment,
        action=ActionTemplate(verb="get", resource="deployments", group="apps", name_arg="deployment_name"),
        output=out.DeploymentDescription,
        extra_calls=(RECENT_EVENTS,),
    ),
    Entry(
        handler=nodes.get_node_status,
        action=ActionTemplate(verb="get", resource="nodes", cluster_scoped=True, name_arg="node_name"),
        output=out.NodeStatus,
    ),
    Entry(handler=events.list_events, action=ActionTemplate(verb="list", resource="events"), output=out.EventList),
    *_reads(
        statefulsets.list_statefulsets,
        statefulsets.describe_statefulset,
        "apps/statefulsets",
        "statefulset_name",
        (out.StatefulSetList, out.StatefulSetDescription),
    ),
    *_reads(
        daemonsets.list_daemonsets,
        daemonsets.describe_daemonset,
        "apps/daemonsets",
        "daemonset_name",
        (out.DaemonSetList, out.DaemonSetDescription),
    ),
    *_reads(
        replicasets.list_replicasets,
        replicasets.describe_replicaset,
        "apps/replicasets",
        "replicaset_name",
        (out.ReplicaSetList, out.ReplicaSetDescription),
    ),
    *_reads(jobs.list_jobs, jobs.describe_job, "batch/jobs", "job_name", (out.JobList, out.JobDescription)),
    *_reads(
        cronjobs.list_cronjobs,
        cronjobs.describe_cronjob,
        "batch/cronjobs",
        "cronjob_name",
        (out.CronJobList, out.CronJobDescription),
    ),
    *_reads(
        services.list_services,
        services.describe_service,
        "services",
        "service_name",
        (out.ServiceList, out.ServiceDescription),
        extra_calls=(ENDPOINT_SLICES,),
    ),
    *_reads(
        ingresses.list_ingresses,
        ingresses.describe_ingress,
        "networking.k8s.io/ingresses",
        "ingress_name",
        (out.IngressList, out.IngressDescription),
    ),
    *_reads(
        autoscalers.list_hpas,
        autoscalers.describe_hpa,
        "autoscaling/horizontalpodautoscalers",
        "hpa_name",
        (out.HpaList, out.HpaDescription),
    ),
    *_reads(
        persistentvolumeclaims.list_pvcs,
        persistentvolumeclaims.describe_pvc,
        "persistentvolumeclaims",
        "pvc_name",
        (out.PvcList, out.PvcDescription),
    ),
    *_reads(
        persistentvolumes.list_pvs,
        persistentvolumes.describe_pv,
        "persistentvolumes",
        "pv_name",
        (out.PvList, out.PvDescription),
        cluster=True,
    ),
    *_reads(
        configmaps.list_configmaps,
        configmaps.describe_configmap,
        "configmaps",
        "configmap_name",
        (out.ConfigMapList, out.ConfigMapDescription),
    ),
    Entry(
        handler=deployments.rollout_status,
        action=ActionTemplate(verb="get", resource="deployments", group="apps", name_arg="deployment_name"),
        output=out.RolloutStatus,
    ),
    Entry(
        handler=deployments.rollout_history,
        action=ActionTemplate(verb="get", resource="deployments", group="apps", name_arg="deployment_name"),
        output=out.RolloutHistory,
        extra_calls=(OWNED_REPLICA_SETS,),
    ),
    Entry(
        handler=deployments.restart_deployment,
        action=ActionTemplate(
            verb="patch", group="apps", resource="deployments", write=True, name_arg="deployment_name"
        ),
        output=out.Restarted,
        destructive=True,
        idempotent=False,
        extra_calls=(CURRENT_DEPLOYMENT,),
        preview=deployments.preview_restart,
    ),
    Entry(
        handler=deployments.scale_deployment,
        action=ActionTemplate(
            verb="patch",
            group="apps",
            resource="deployments",
            subresource="scale",
            write=True,
            name_arg="deployment_name",
        ),
        output=out.Scaled,
        destructive=True,
        idempotent=True,
        extra_calls=(CURRENT_DEPLOYMENT,),
        preview=deployments.preview_scale,
    ),
    Entry(
        handler=deployments.rollout_undo,
        action=ActionTemplate(
            verb="patch", group="apps", resource="deployments", write=True, name_arg="deployment_name"
        ),
        destructive=True,
        # Without to_revision, each undo goes back from where the last one left the deployment.
        idempotent=False,
        extra_calls=(CURRENT_DEPLOYMENT, OWNED_REPLICA_SETS),
        output=out.RolledBack,
        preview=deployments.preview_rollout_undo,
    ),
    Entry(
        handler=pods.delete_pod,
        action=ActionTemplate(verb="delete", resource="pods", write=True, name_arg="pod_name"),
        destructive=True,
        # A StatefulSet's replacement pod has the same name: deleting again deletes it too.
        idempotent=False,
        extra_calls=(CURRENT_POD,),
        output=out.PodDeleted,
        preview=pods.preview_delete_pod,
    ),
    _node_write(nodes.cordon_node, nodes.preview_cordon),
    _node_write(nodes.uncordon_node, nodes.preview_uncordon),
    Entry(
        handler=resources.list_resources,
        action=ActionTemplate(verb="list", group="*", resource="*", discovered=True),
        output=out.ResourceList,
        uses="discovery",
    ),
    Entry(
        handler=resources.get_resource,
        action=ActionTemplate(verb="get", group="*", resource="*", name_arg="name", discovered=True),
        output=out.ResourceObject,
        uses="discovery",
    ),
    Entry(
        handler=approvals.get_approval,
        action=ActionTemplate(
            verb="get", group=GATEWAY_GROUP, resource="approvals", cluster_scoped=True, name_arg="approval_id"
        ),
        output=ApprovalView,
        uses="approvals",
    ),
    Entry(
        handler=approvals.list_my_approvals,
        action=ActionTemplate(verb="list", group=GATEWAY_GROUP, resource="approvals", cluster_scoped=True),
        output=ApprovalList,
        uses="approvals",
    ),
    Entry(
        handler=my_permissions,
        action=ActionTemplate(verb="get", group=GATEWAY_GROUP, resource="permissions", cluster_scoped=True),
        output=out.MyPermissions,
        uses="decided",
    ),
    Entry(
        handler=list_contexts,
        action=ActionTemplate(verb="list", group=GATEWAY_GROUP, resource="contexts", cluster_scoped=True),
        output=out.ContextList,
        uses="contexts",
    ),
)


class Catalog:
    """The entries by tool name, plus the listing document OPA filters `tools/list` with.

    `discovery` resolves the action of the entries whose action is `discovered`; a catalog
    without it (RBAC generation, offline policy commands) cannot say what those tools reach.
    """

    def __init__(self, entries: tuple[Entry, ...] = ENTRIES, *, discovery: Discovery | None = None) -> None:
        self.discovery = discovery
        self._by_name = {entry.name: entry for entry in entries}
        self.listing: list[dict[str, Any]] = [
            {"tool": entry.tool_document, "action": entry.action.template()} for entry in entries
        ]

    def get(self, name: str) -> Entry | None:
        return self._by_name.get(name)

    def __iter__(self) -> Iterator[Entry]:
        return iter(self._by_name.values())

    async def action(
        self, entry: Entry, arguments: Mapping[str, Any], *, discovery: Discovery | None = None
    ) -> dict[str, Any]:
        """The action document of a call of a `discovered` entry: the kind its arguments name, as the
        API server serves it (group, plural, scope), asked of `discovery` (the chosen cluster's; default
        the catalog's). Raises `GatewayDenied` for Secrets, and `InvalidArguments` for a kind the API
        server does not serve or a namespace that does not fit it."""
        discovery = discovery or self.discovery
        if discovery is None:
            raise GatewayError(f"internal error: no discovery to resolve the kind {entry.name} names")
        resource, namespace = await resolved(
            discovery,
            arguments["group"],
            arguments["version"],
            arguments["kind"],
            arguments.get("namespace"),
            "list" if entry.action.name_arg is None or arguments.get(entry.action.name_arg) is None else "get",
        )
        action = entry.action.bind({**arguments, "namespace": namespace})
        return {
            **action,
            "group": resource.group,
            "resource": resource.plural,
            "cluster_scoped": not resource.namespaced,
        }
