"""The tool catalog as the tests see it: tool groups, valid arguments, the API method each
tool calls first, and the action digest computed independently of the gateway."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# --------------------------------------------------------------------------------------------
# The catalog, as the tests see it
# --------------------------------------------------------------------------------------------

CLUSTER = "test-cluster"
STUB_OPA_URL = "http://opa.test:8181"
DECISION_PATH = "/v1/data/mcp/authz/decision"
VISIBILITY_PATH = "/v1/data/mcp/authz/visible_tools"


@dataclass(frozen=True)
class ResourceReads:
    """A `list_*` / `describe_*` pair: its tools, the describe tool's name argument, the API
    method each calls first, and the name of the object the canned answers hold."""

    listing: str
    describing: str
    name_argument: str
    list_method: str
    read_method: str
    name: str


RESOURCE_READS = (
    ResourceReads(
        "list_statefulsets",
        "describe_statefulset",
        "statefulset_name",
        "list_namespaced_stateful_set",
        "read_namespaced_stateful_set",
        "db",
    ),
    ResourceReads(
        "list_daemonsets",
        "describe_daemonset",
        "daemonset_name",
        "list_namespaced_daemon_set",
        "read_namespaced_daemon_set",
        "agent",
    ),
    ResourceReads(
        "list_replicasets",
        "describe_replicaset",
        "replicaset_name",
        "list_namespaced_replica_set",
        "read_namespaced_replica_set",
        "web-7d9c6b8f5",
    ),
    ResourceReads("list_jobs", "describe_job", "job_name", "list_namespaced_job", "read_namespaced_job", "export"),
    ResourceReads(
        "list_cronjobs",
        "describe_cronjob",
        "cronjob_name",
        "list_namespaced_cron_job",
        "read_namespaced_cron_job",
        "nightly",
    ),
    ResourceReads(
        "list_services", "describe_service", "service_name", "list_namespaced_service", "read_namespaced_service", "web"
    ),
    ResourceReads(
        "list_ingresses",
        "describe_ingress",
        "ingress_name",
        "list_namespaced_ingress",
        "read_namespaced_ingress",
        "shop",
    ),
    ResourceReads(
        "list_hpas",
        "describe_hpa",
        "hpa_name",
        "list_namespaced_horizontal_pod_autoscaler",
        "read_namespaced_horizontal_pod_autoscaler",
        "web",
    ),
    ResourceReads(
        "list_pvcs",
        "describe_pvc",
        "pvc_name",
        "list_namespaced_persistent_volume_claim",
        "read_namespaced_persistent_volume_claim",
        "data",
    ),
    ResourceReads("list_pvs", "describe_pv", "pv_name", "list_persistent_volume", "read_persistent_volume", "pv-data"),
    ResourceReads(
        "list_configmaps",
        "describe_configmap",
        "configmap_name",
        "list_namespaced_config_map",
        "read_namespaced_config_map",
        "settings",
    ),
)
RESOURCE_TOOLS = tuple(tool for r in RESOURCE_READS for tool in (r.listing, r.describing))
ROLLOUT_TOOLS = ("rollout_status", "rollout_history")

KUBE_READ_TOOLS = (
    "list_namespaces",
    "list_pods",
    "get_pod_logs",
    "describe_pod",
    "list_deployments",
    "describe_deployment",
    "get_node_status",
    "list_events",
    *RESOURCE_TOOLS,
    *ROLLOUT_TOOLS,
)
WRITE_TOOLS = ("restart_deployment", "scale_deployment", "rollout_undo", "delete_pod", "cordon_node", "uncordon_node")
NODE_WRITES = ("cordon_node", "uncordon_node")
"""The cluster-scoped writes: no namespace, allowed only where the policy data lists nodes in `cluster_writes`."""
# Reads of the gateway's own approval requests: no Kubernetes call, no namespace.
GENERIC_TOOLS = ("list_resources", "get_resource")
"""The generic reads: any kind discovery resolves, namespaced or not (so in no scope's tuple)."""
APPROVAL_TOOLS = ("get_approval", "list_my_approvals", "my_permissions", "list_contexts")
"""The tools on the gateway's own resources (its approvals, the caller's permissions), not on Kubernetes."""
READ_TOOLS = KUBE_READ_TOOLS + GENERIC_TOOLS + APPROVAL_TOOLS
ALL_TOOLS = KUBE_READ_TOOLS + WRITE_TOOLS + GENERIC_TOOLS + APPROVAL_TOOLS
PV_TOOLS = ("list_pvs", "describe_pv")
"""Cluster-scoped reads that the shipped policy data does not list in `cluster_reads`."""
CLUSTER_SCOPED_TOOLS = ("list_namespaces", "get_node_status", *PV_TOOLS)
"""The cluster-scoped reads."""
SHIPPED_CLUSTER_READS = ("list_namespaces", "get_node_status")
SHIPPED_READS = tuple(name for name in READ_TOOLS if name not in PV_TOOLS)
"""The read tools the shipped policy shows and allows (in an allowed namespace)."""
NAMESPACED_TOOLS = tuple(
    name for name in ALL_TOOLS if name not in CLUSTER_SCOPED_TOOLS + NODE_WRITES + APPROVAL_TOOLS + GENERIC_TOOLS
)
NAMESPACED_WRITES = tuple(name for name in WRITE_TOOLS if name not in NODE_WRITES)
LIST_TOOLS = ("list_pods", "list_deployments", *(r.listing for r in RESOURCE_READS))
"""The paged lists: `limit` and `continue_token` in, `continue` out."""

# The smallest valid arguments of each tool (namespace left to its default).
VALID_ARGUMENTS: dict[str, dict[str, Any]] = {
    "list_namespaces": {},
    "list_pods": {},
    "get_pod_logs": {"pod_name": "web-1"},
    "describe_pod": {"pod_name": "web-1"},
    "list_deployments": {},
    "describe_deployment": {"deployment_name": "web"},
    "get_node_status": {},
    "list_events": {},
    **{r.listing: {} for r in RESOURCE_READS},
    **{r.describing: {r.name_argument: r.name} for r in RESOURCE_READS},
    "rollout_status": {"deployment_name": "web"},
    "rollout_history": {"deployment_name": "web"},
    "restart_deployment": {"deployment_name": "web"},
    "scale_deployment": {"deployment_name": "web", "replicas": 2},
    "rollout_undo": {"deployment_name": "web"},
    "delete_pod": {"pod_name": "web-1"},
    "cordon_node": {"node_name": "node-1"},
    "uncordon_node": {"node_name": "node-1"},
    "list_resources": {"group": "policy", "version": "v1", "kind": "PodDisruptionBudget"},
    "get_resource": {"group": "policy", "version": "v1", "kind": "PodDisruptionBudget", "name": "web"},
    "get_approval": {"approval_id": "x" * 32},
    "list_my_approvals": {},
    "my_permissions": {},
    "list_contexts": {},
}

# The Kubernetes API method each tool calls first.
KUBE_METHOD = {
    "list_namespaces": "list_namespace",
    "list_pods": "list_namespaced_pod",
    "get_pod_logs": "read_namespaced_pod_log",
    "describe_pod": "read_namespaced_pod",
    "list_deployments": "list_namespaced_deployment",
    "describe_deployment": "read_namespaced_deployment",
    "get_node_status": "list_node",
    "list_events": "list_namespaced_event",
    **{r.listing: r.list_method for r in RESOURCE_READS},
    **{r.describing: r.read_method for r in RESOURCE_READS},
    "rollout_status": "read_namespaced_deployment",
    "rollout_history": "read_namespaced_deployment",
    "restart_deployment": "patch_namespaced_deployment",
    "scale_deployment": "patch_namespaced_deployment_scale",
    "rollout_undo": "read_namespaced_deployment",
    "delete_pod": "delete_namespaced_pod",
    "cordon_node": "patch_node",
    "uncordon_node": "patch_node",
    # Discovery, when not cached yet, then the object: both raw GETs.
    "list_resources": "get_json",
    "get_resource": "get_json",
}
WRITE_METHOD = {
    "restart_deployment": "patch_namespaced_deployment",
    "scale_deployment": "patch_namespaced_deployment_scale",
    "rollout_undo": "patch_namespaced_deployment",
    "delete_pod": "delete_namespaced_pod",
    "cordon_node": "patch_node",
    "uncordon_node": "patch_node",
}
"""The Kubernetes API method each write tool changes the cluster with."""
NAME_ARGUMENT = {
    "get_pod_logs": "pod_name",
    "describe_pod": "pod_name",
    "describe_deployment": "deployment_name",
    "get_node_status": "node_name",
    **{r.describing: r.name_argument for r in RESOURCE_READS},
    "rollout_status": "deployment_name",
    "rollout_history": "deployment_name",
    "restart_deployment": "deployment_name",
    "scale_deployment": "deployment_name",
    "rollout_undo": "deployment_name",
    "delete_pod": "pod_name",
    "cordon_node": "node_name",
    "uncordon_node": "node_name",
    "get_resource": "name",
}
"""The argument that names the object, per tool that has one."""


def arguments_for(tool: str, **overrides: Any) -> dict[str, Any]:
    """Valid arguments of `tool` with `overrides` applied."""
    return {**VALID_ARGUMENTS[tool], **overrides}


# Writes under the shipped approval rules: with writes on, scaling default/web needs one review by
# group:sre-leads, scaling staging/web one by group:sre (or the user's own confirmation).
OPEN_GRANT = {"who": "*", "tools": ["*"], "namespaces": ["*"]}
"""A write grant for every caller, tool and namespace: tests of other rules than the shipped grants."""
READWRITE: dict[str, Any] = {"mode": "readwrite", "grants": [OPEN_GRANT]}
SCALE = {"deployment_name": "web", "namespace": "default", "replicas": 5}
IN_STAGING = {**SCALE, "namespace": "staging"}
USED = "the approval was already used: an approval runs one call, once"


def expected_digest(tool: str, arguments: Mapping[str, Any], cluster: str = CLUSTER) -> str:
    canonical = json.dumps(
        {"tool": tool, "arguments": dict(arguments), "cluster": cluster},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()
