"""Test doubles and helpers shared by the unit and integration suites.

Fixtures live in `conftest.py`; this module holds what they are built from, so that tests can
also import the types for annotations:

- `CountingKube`: a real `gateway.kube.Kube` whose `call` records every Kubernetes API call and
  answers with canned kubernetes model objects (or a canned error) instead of touching a cluster.
- `OpaStub`: respx routes standing in for OPA's Data API, recording every input document.
- `Harness`: one open gateway, its in-memory MCP client, its fake kube and its audit file.
- `StubHttpServer`: a real loopback HTTP server with a programmable handler, for what respx cannot
  fake (real timeouts, the urllib3 stack of the kubernetes client).
- `serve_stdio`, `serve_http`: the real `k8s-mcp-gateway serve` process; `serve_in_process`: the
  gateway's own HTTP app under uvicorn in the test's event loop, in front of a fake kube.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import hashlib
import io
import json
import os
import shutil
import sys
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import mcp_types
import respx
import uvicorn
import yaml
from fastmcp import Client
from fastmcp.client.client import CallToolResult
from fastmcp.client.transports import StdioTransport
from kubernetes.client import (
    ApiClient,
    Configuration,
    CoreV1Event,
    CoreV1EventList,
    V1ConfigMap,
    V1ConfigMapList,
    V1Container,
    V1ContainerState,
    V1ContainerStateRunning,
    V1ContainerStateWaiting,
    V1ContainerStatus,
    V1CronJob,
    V1CronJobList,
    V1DaemonSet,
    V1DaemonSetList,
    V1Deployment,
    V1DeploymentCondition,
    V1DeploymentList,
    V1DeploymentSpec,
    V1DeploymentStatus,
    V1EndpointSliceList,
    V1EnvFromSource,
    V1EnvVar,
    V1EnvVarSource,
    V1Ingress,
    V1IngressList,
    V1Job,
    V1JobList,
    V1LabelSelector,
    V1Namespace,
    V1NamespaceList,
    V1NamespaceStatus,
    V1Node,
    V1NodeCondition,
    V1NodeList,
    V1NodeStatus,
    V1ObjectMeta,
    V1ObjectReference,
    V1PersistentVolume,
    V1PersistentVolumeClaim,
    V1PersistentVolumeClaimList,
    V1PersistentVolumeList,
    V1Pod,
    V1PodList,
    V1PodSpec,
    V1PodStatus,
    V1PodTemplateSpec,
    V1ReplicaSet,
    V1ReplicaSetList,
    V1Scale,
    V1ScaleSpec,
    V1SecretEnvSource,
    V1SecretKeySelector,
    V1Service,
    V1ServiceList,
    V1StatefulSet,
    V1StatefulSetList,
    V2HorizontalPodAutoscaler,
    V2HorizontalPodAutoscalerList,
    VersionInfo,
)
from starlette.types import ASGIApp

from gateway import cli
from gateway.auth import issue_token
from gateway.kube import Kube, load_api_client
from gateway.opa_token import TOKEN_FILE, write_token
from gateway.server import Gateway
from gateway.settings import Settings
from k8s_mcp_sandbox.opa import OpaServer
from k8s_mcp_sandbox.process import ManagedProcess, free_port
from k8s_mcp_sandbox.project import POLICY_DIR

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
WRITE_TOOLS = ("restart_deployment", "scale_deployment")
# Reads of the gateway's own approval requests: no Kubernetes call, no namespace.
APPROVAL_TOOLS = ("get_approval", "list_my_approvals")
READ_TOOLS = KUBE_READ_TOOLS + APPROVAL_TOOLS
ALL_TOOLS = KUBE_READ_TOOLS + WRITE_TOOLS + APPROVAL_TOOLS
PV_TOOLS = ("list_pvs", "describe_pv")
"""Cluster-scoped reads that the shipped policy data does not list in `cluster_reads`."""
CLUSTER_SCOPED_TOOLS = ("list_namespaces", "get_node_status", *PV_TOOLS)
SHIPPED_CLUSTER_READS = ("list_namespaces", "get_node_status")
SHIPPED_READS = tuple(name for name in READ_TOOLS if name not in PV_TOOLS)
"""The read tools the shipped policy shows and allows (in an allowed namespace)."""
NAMESPACED_TOOLS = tuple(name for name in ALL_TOOLS if name not in CLUSTER_SCOPED_TOOLS + APPROVAL_TOOLS)
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
    "get_approval": {"approval_id": "x" * 32},
    "list_my_approvals": {},
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
}
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
}
"""The argument that names the object, per tool that has one."""


def arguments_for(tool: str, **overrides: Any) -> dict[str, Any]:
    """Valid arguments of `tool` with `overrides` applied."""
    return {**VALID_ARGUMENTS[tool], **overrides}


# Writes under the shipped approval rules: with writes on, scaling default/web needs one review by
# group:sre-leads, scaling staging/web one by group:sre (or the user's own confirmation).
READWRITE: dict[str, Any] = {"mode": "readwrite"}
SCALE = {"deployment_name": "web", "namespace": "default", "replicas": 5}
IN_STAGING = {**SCALE, "namespace": "staging"}
USED = "the approval was already used: an approval runs one call, once"


# --------------------------------------------------------------------------------------------
# The fake Kubernetes layer
# --------------------------------------------------------------------------------------------

Manifest = dict[str, Any]

SECRET_SENTINEL = "s3cr3t-SENTINEL-value"
LOG_TEXT = "line 1\nline 2\nline 3\n"
_T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def _pod() -> V1Pod:
    return V1Pod(
        metadata=V1ObjectMeta(
            name="web-1",
            namespace="default",
            labels={"app": "web"},
            creation_timestamp=_T0,
            # A place where a careless shaper could leak a Secret: the last applied manifest.
            annotations={"kubectl.kubernetes.io/last-applied-configuration": f'{{"password": "{SECRET_SENTINEL}"}}'},
        ),
        spec=V1PodSpec(
            node_name="node-a",
            containers=[
                V1Container(
                    name="app",
                    image="registry.example/web:1.2",
                    env=[
                        V1EnvVar(name="MODE", value="production"),
                        V1EnvVar(
                            name="DB_PASSWORD",
                            value_from=V1EnvVarSource(
                                secret_key_ref=V1SecretKeySelector(name="db-creds", key="password")
                            ),
                        ),
                    ],
                    env_from=[V1EnvFromSource(secret_ref=V1SecretEnvSource(name="api-keys"))],
                )
            ],
        ),
        status=V1PodStatus(
            phase="Running",
            pod_ip="10.0.0.7",
            container_statuses=[
                V1ContainerStatus(
                    name="app",
                    image="registry.example/web:1.2",
                    image_id="sha256:abc",
                    ready=True,
                    restart_count=3,
                    state=V1ContainerState(running=V1ContainerStateRunning(started_at=_T0)),
                    last_state=V1ContainerState(waiting=V1ContainerStateWaiting(reason="CrashLoopBackOff")),
                )
            ],
        ),
    )


def _deployment() -> V1Deployment:
    template = V1PodTemplateSpec(
        metadata=V1ObjectMeta(
            annotations={"kubectl.kubernetes.io/last-applied-configuration": f'{{"token": "{SECRET_SENTINEL}"}}'}
        ),
        spec=_pod().spec,
    )
    return V1Deployment(
        metadata=V1ObjectMeta(
            name="web",
            namespace="default",
            uid=WEB_UID,
            generation=4,
            labels={"app": "web"},
            annotations={"deployment.kubernetes.io/revision": "2"},
            creation_timestamp=_T0,
        ),
        spec=V1DeploymentSpec(replicas=2, selector=V1LabelSelector(match_labels={"app": "web"}), template=template),
        status=V1DeploymentStatus(
            observed_generation=4,
            replicas=2,
            ready_replicas=2,
            updated_replicas=2,
            available_replicas=2,
            conditions=[V1DeploymentCondition(type="Available", status="True", reason="MinimumReplicasAvailable")],
        ),
    )


def _node() -> V1Node:
    return V1Node(
        metadata=V1ObjectMeta(name="node-a"),
        status=V1NodeStatus(
            conditions=[
                V1NodeCondition(type="Ready", status="True", reason="KubeletReady"),
                V1NodeCondition(type="MemoryPressure", status="True", reason="KubeletHasInsufficientMemory"),
            ],
            capacity={"cpu": "4", "memory": "8Gi"},
        ),
    )


def _event() -> CoreV1Event:
    return CoreV1Event(
        metadata=V1ObjectMeta(name="web-1.1"),
        involved_object=V1ObjectReference(kind="Pod", name="web-1"),
        type="Warning",
        reason="BackOff",
        message="Back-off restarting failed container",
        last_timestamp=_T0,
        count=4,
    )


# The new kinds are written as manifests, the form people read Kubernetes objects in; the
# client's models take them as the API sends them (`from_dict`).
T0 = "2026-01-02T03:04:05Z"
WEB_UID = "6f1c2d3e-0000-4000-8000-00000000a11e"
"""The uid of the canned deployment `web`, which owns the canned ReplicaSets."""
PAGE_TOKEN = "eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6NDIsInN0YXJ0Ijoid2ViLTIifQ"
"""The `continue` token every canned list answer carries."""
LAST_APPLIED = {"kubectl.kubernetes.io/last-applied-configuration": f'{{"password": "{SECRET_SENTINEL}"}}'}

_TEMPLATE: Manifest = {
    "metadata": {"labels": {"app": "db"}},
    "spec": {
        "initContainers": [{"name": "migrate", "image": "registry.example/migrate:3"}],
        "containers": [
            {
                "name": "db",
                "image": "registry.example/db:16",
                "ports": [{"name": "sql", "containerPort": 5432}],
                "resources": {"requests": {"cpu": "250m"}, "limits": {"memory": "1Gi"}},
                "readinessProbe": {"tcpSocket": {"port": 5432}, "periodSeconds": 5},
                "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080}, "initialDelaySeconds": 10},
            }
        ],
    },
}


def _meta(name: str, **extra: Any) -> Manifest:
    return {"name": name, "namespace": "default", "creationTimestamp": T0, "annotations": LAST_APPLIED, **extra}


def _owned_by(kind: str, name: str, uid: str) -> list[Manifest]:
    return [{"apiVersion": "apps/v1", "kind": kind, "name": name, "uid": uid, "controller": True}]


def _replicaset(name: str, revision: int, replicas: int, owner_uid: str = WEB_UID) -> Manifest:
    annotations = {**LAST_APPLIED, "deployment.kubernetes.io/revision": str(revision)}
    return {
        "metadata": {
            **_meta(name),
            "annotations": annotations,
            "ownerReferences": _owned_by("Deployment", "web", owner_uid),
        },
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}}, "template": _TEMPLATE},
        "status": {"replicas": replicas, "readyReplicas": replicas, "availableReplicas": replicas},
    }


CANNED_MANIFESTS: dict[str, tuple[Any, Manifest]] = {
    # read method: (model, manifest); the list method answers with a page holding it
    "read_namespaced_stateful_set": (
        V1StatefulSet,
        {
            "metadata": _meta("db"),
            "spec": {
                "replicas": 3,
                "serviceName": "db",
                "selector": {"matchLabels": {"app": "db"}},
                "template": _TEMPLATE,
                "volumeClaimTemplates": [
                    {
                        "metadata": {"name": "data"},
                        "spec": {
                            "accessModes": ["ReadWriteOnce"],
                            "resources": {"requests": {"storage": "10Gi"}},
                            "storageClassName": "fast",
                        },
                    }
                ],
            },
            "status": {"replicas": 3, "readyReplicas": 2, "currentReplicas": 3, "updatedReplicas": 1},
        },
    ),
    "read_namespaced_daemon_set": (
        V1DaemonSet,
        {
            "metadata": _meta("agent"),
            "spec": {
                "selector": {"matchLabels": {"app": "db"}},
                "template": {**_TEMPLATE, "spec": {**_TEMPLATE["spec"], "tolerations": [{"operator": "Exists"}]}},
            },
            "status": {
                "desiredNumberScheduled": 2,
                "currentNumberScheduled": 2,
                "numberReady": 1,
                "numberAvailable": 1,
                "updatedNumberScheduled": 2,
                "numberMisscheduled": 0,
            },
        },
    ),
    "read_namespaced_replica_set": (V1ReplicaSet, _replicaset("web-7d9c6b8f5", revision=2, replicas=2)),
    "read_namespaced_job": (
        V1Job,
        {
            "metadata": {**_meta("export"), "ownerReferences": _owned_by("CronJob", "nightly", "uid-nightly")},
            "spec": {
                "backoffLimit": 2,
                "completions": 1,
                "selector": {"matchLabels": {"job": "export"}},
                "template": _TEMPLATE,
            },
            "status": {
                "failed": 3,
                "startTime": T0,
                "conditions": [
                    {"type": "FailureTarget", "status": "True", "reason": "BackoffLimitExceeded"},
                    {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "backoff limit"},
                ],
            },
        },
    ),
    "read_namespaced_cron_job": (
        V1CronJob,
        {
            "metadata": _meta("nightly"),
            "spec": {
                "schedule": "0 3 * * *",
                "concurrencyPolicy": "Forbid",
                "jobTemplate": {"spec": {"template": _TEMPLATE}},
            },
            "status": {"lastScheduleTime": T0, "active": [{"kind": "Job", "name": "nightly-29000000"}]},
        },
    ),
    "read_namespaced_service": (
        V1Service,
        {
            "metadata": _meta("web"),
            "spec": {
                "type": "ClusterIP",
                "clusterIP": "10.96.0.10",
                "selector": {"app": "web"},
                "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}],
            },
        },
    ),
    "read_namespaced_ingress": (
        V1Ingress,
        {
            "metadata": _meta("shop"),
            "spec": {
                "ingressClassName": "nginx",
                "rules": [
                    {
                        "host": "shop.example.com",
                        "http": {
                            "paths": [
                                {
                                    "path": "/",
                                    "pathType": "Prefix",
                                    "backend": {"service": {"name": "web", "port": {"number": 80}}},
                                }
                            ]
                        },
                    }
                ],
                "tls": [{"hosts": ["shop.example.com"], "secretName": "shop-tls"}],
            },
            "status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.10"}]}},
        },
    ),
    "read_namespaced_horizontal_pod_autoscaler": (
        V2HorizontalPodAutoscaler,
        {
            "metadata": _meta("web"),
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                "minReplicas": 2,
                "maxReplicas": 6,
                "metrics": [
                    {
                        "type": "Resource",
                        "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}},
                    },
                    {
                        "type": "Pods",
                        "pods": {
                            "metric": {"name": "requests_per_second"},
                            "target": {"type": "AverageValue", "averageValue": "100"},
                        },
                    },
                ],
            },
            "status": {
                "currentReplicas": 3,
                "desiredReplicas": 4,
                "currentMetrics": [
                    {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 91}}}
                ],
                "conditions": [{"type": "ScalingLimited", "status": "False", "reason": "DesiredWithinRange"}],
            },
        },
    ),
    "read_namespaced_persistent_volume_claim": (
        V1PersistentVolumeClaim,
        {
            "metadata": _meta("data"),
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "10Gi"}},
                "storageClassName": "fast",
                "volumeName": "pv-data",
                "volumeMode": "Filesystem",
            },
            "status": {"phase": "Bound", "capacity": {"storage": "10Gi"}, "accessModes": ["ReadWriteOnce"]},
        },
    ),
    "read_persistent_volume": (
        V1PersistentVolume,
        {
            "metadata": {"name": "pv-data", "creationTimestamp": T0, "annotations": LAST_APPLIED},
            "spec": {
                "capacity": {"storage": "10Gi"},
                "accessModes": ["ReadWriteOnce"],
                "persistentVolumeReclaimPolicy": "Retain",
                "storageClassName": "fast",
                "claimRef": {"kind": "PersistentVolumeClaim", "namespace": "default", "name": "data"},
                "csi": {"driver": "pd.csi.storage.gke.io", "volumeHandle": "projects/p/disks/d"},
            },
            "status": {"phase": "Bound"},
        },
    ),
    "read_namespaced_config_map": (
        V1ConfigMap,
        {
            "metadata": _meta("settings"),
            "data": {"app.properties": f"password={SECRET_SENTINEL}\n", "empty": ""},
            "binaryData": {"logo.png": base64.b64encode(b"\x89PNG").decode()},
        },
    ),
}
LISTED_BY = {
    "list_namespaced_stateful_set": (V1StatefulSetList, "read_namespaced_stateful_set"),
    "list_namespaced_daemon_set": (V1DaemonSetList, "read_namespaced_daemon_set"),
    "list_namespaced_job": (V1JobList, "read_namespaced_job"),
    "list_namespaced_cron_job": (V1CronJobList, "read_namespaced_cron_job"),
    "list_namespaced_service": (V1ServiceList, "read_namespaced_service"),
    "list_namespaced_ingress": (V1IngressList, "read_namespaced_ingress"),
    "list_namespaced_horizontal_pod_autoscaler": (
        V2HorizontalPodAutoscalerList,
        "read_namespaced_horizontal_pod_autoscaler",
    ),
    "list_namespaced_persistent_volume_claim": (
        V1PersistentVolumeClaimList,
        "read_namespaced_persistent_volume_claim",
    ),
    "list_persistent_volume": (V1PersistentVolumeList, "read_persistent_volume"),
    "list_namespaced_config_map": (V1ConfigMapList, "read_namespaced_config_map"),
}
ENDPOINT_SLICES: list[Manifest] = [
    {
        "metadata": {"name": "web-x1", "labels": {"kubernetes.io/service-name": "web"}},
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
        "endpoints": [
            {
                "addresses": ["10.0.0.7"],
                "conditions": {"ready": True},
                "targetRef": {"kind": "Pod", "name": "web-1"},
                "nodeName": "node-a",
            },
            {"addresses": ["10.0.0.8"], "conditions": {"ready": False}, "targetRef": {"kind": "Pod", "name": "web-2"}},
            {"addresses": ["10.0.0.9"], "targetRef": {"kind": "Pod", "name": "web-3"}},
        ],
    },
    {"metadata": {"name": "api-x1", "labels": {"kubernetes.io/service-name": "api"}}, "addressType": "IPv4"},
]


def canned_page(model: Any, items: list[Manifest]) -> Any:
    """A list answer holding `items`, with a `continue` token as a paged API answer has."""
    return model.from_dict({"metadata": {"continue": PAGE_TOKEN, "remainingItemCount": 7}, "items": items})


def _new_kinds() -> dict[str, Any]:
    answers = {method: model.from_dict(manifest) for method, (model, manifest) in CANNED_MANIFESTS.items()}
    for method, (model, read) in LISTED_BY.items():
        answers[method] = canned_page(model, [CANNED_MANIFESTS[read][1]])
    replica_sets = [
        _replicaset("web-5c4b3a2f1", revision=1, replicas=0),
        _replicaset("web-7d9c6b8f5", revision=2, replicas=2),
        _replicaset("other-6b5a4c3d2", revision=9, replicas=1, owner_uid="uid-of-another-deployment"),
    ]
    answers["list_namespaced_replica_set"] = canned_page(V1ReplicaSetList, replica_sets)
    answers["list_namespaced_endpoint_slice"] = canned_page(V1EndpointSliceList, ENDPOINT_SLICES)
    return answers


def canned_responses() -> dict[str, Any]:
    """A fresh answer for every Kubernetes API method the tools use."""
    return {
        "list_namespace": V1NamespaceList(
            items=[V1Namespace(metadata=V1ObjectMeta(name="default"), status=V1NamespaceStatus(phase="Active"))]
        ),
        "list_namespaced_pod": V1PodList(items=[_pod()]),
        "read_namespaced_pod": _pod(),
        "read_namespaced_pod_log": LOG_TEXT,
        "list_namespaced_event": CoreV1EventList(items=[_event()]),
        "list_namespaced_deployment": V1DeploymentList(items=[_deployment()]),
        "read_namespaced_deployment": _deployment(),
        "patch_namespaced_deployment": _deployment(),
        "list_node": V1NodeList(items=[_node()]),
        "read_node": _node(),
        "patch_namespaced_deployment_scale": V1Scale(spec=V1ScaleSpec(replicas=2)),
        **_new_kinds(),
        # /readyz asks the API server's /version.
        "get_code": VersionInfo(
            major="1",
            minor="37",
            git_version="v1.37.0",
            git_commit="0" * 40,
            git_tree_state="clean",
            build_date="2026-01-01T00:00:00Z",
            go_version="go1.26",
            compiler="gc",
            platform="linux/amd64",
        ),
        "read_namespaced_deployment_scale": V1Scale(spec=V1ScaleSpec(replicas=2)),
    }


KubeCall = tuple[str, dict[str, Any]]


class CountingKube(Kube):
    """A real `Kube` that records every API call and, by default, never reaches a cluster.

    `call` records `(method name, kwargs)` and returns the canned answer for that method, or
    raises it when it is an exception. `before_call`, when set, runs first: a test can look at
    (or change) the world, such as the audit file, as it is when Kubernetes would be touched.
    `hold`, when set, is an event each call waits for once recorded: a Kubernetes that has the
    request and has not answered yet.

    With `passthrough=True` it records and then calls the API for real through `Kube.call` (for
    tests of the kube layer's own error translation against a stub API server).
    """

    def __init__(
        self,
        *,
        api_client: ApiClient | None = None,
        cluster: str = CLUSTER,
        timeout: float = 1,
        passthrough: bool = False,
    ) -> None:
        super().__init__(
            api_client=api_client or ApiClient(Configuration()), cluster=cluster, timeout=timeout, workers=1
        )
        self.passthrough = passthrough
        self.calls: list[KubeCall] = []
        self.responses: dict[str, Any] = canned_responses()
        self.before_call: Callable[[str, dict[str, Any]], None] | None = None
        self.hold: asyncio.Event | None = None

    async def call(self, method: Callable[..., Any], /, **kwargs: Any) -> Any:
        name = method.__name__
        if self.before_call is not None:
            self.before_call(name, kwargs)
        self.calls.append((name, kwargs))
        if self.hold is not None:
            await self.hold.wait()
        if self.passthrough:
            return await super().call(method, **kwargs)
        answer = self.responses[name]
        if isinstance(answer, BaseException):
            raise answer
        return answer

    def reset(self) -> None:
        """Forget the calls and the per-test answers (for a gateway shared between tests)."""
        self.calls.clear()
        self.responses = canned_responses()
        self.before_call = None
        self.hold = None

    def fail(self, method: str, error: BaseException) -> None:
        """Make every call of `method` raise `error`."""
        self.responses[method] = error

    @property
    def methods(self) -> list[str]:
        return [name for name, _ in self.calls]

    @property
    def writes(self) -> list[KubeCall]:
        """The calls that would change the cluster: patches not sent as server-side dry runs."""
        return [(name, kw) for name, kw in self.calls if name.startswith("patch_") and kw["dry_run"] is None]


def passthrough_kube(kubeconfig: Path, *, timeout: float = 1.0) -> CountingKube:
    """A recording kube that calls the API server of `kubeconfig` for real.

    Its timeout leaves a loaded machine room to answer a quick reply, and is still well under
    the stub's slow replies (2 s).
    """
    api_client, cluster = load_api_client(kubeconfig=str(kubeconfig), context=None)
    return CountingKube(api_client=api_client, cluster=cluster, timeout=timeout, passthrough=True)


# --------------------------------------------------------------------------------------------
# OPA stand-ins
# --------------------------------------------------------------------------------------------

NO_APPROVAL: dict[str, Any] = {"required": False, "approvers": [], "count": 0, "ttl_seconds": 0, "kinds": []}


def decision(
    *,
    allow: bool,
    reasons: list[str] | None = None,
    approval: Mapping[str, Any] | None = None,
    obligations: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A well-formed decision document (the README's policy contract)."""
    return {
        "allow": allow,
        "reasons": list(reasons or []),
        "approval": dict(approval or NO_APPROVAL),
        "obligations": dict(obligations or {"max_log_lines": 500, "dry_run": False}),
    }


ALLOW = decision(allow=True)


def policy_input(action: Mapping[str, Any], *, gateway_mode: str = "readonly") -> dict[str, Any]:
    """The least decision input the policy decides on: a verified caller, `action` (core group, no
    subresource, no name, namespaced unless given) and the gateway's state, as a raw OPA client sends it."""
    return {
        "version": 1,
        "principal": {"sub": "alice", "groups": [], "authenticated": True},
        "action": {"group": "", "subresource": "", "name": None, "cluster_scoped": False, **action},
        "gateway": {"mode": gateway_mode, "dry_run": False, "namespaces": None},
    }


# A raw answer for a stubbed route: a response as sent, or the httpx error the request fails with.
Answer = httpx.Response | type[httpx.HTTPError]


def opa_answer(result: Any, *, decision_id: str = "stub-decision-1") -> httpx.Response:
    """OPA's Data API envelope around `result`."""
    return httpx.Response(200, json={"result": result, "decision_id": decision_id})


class OpaStub:
    """respx routes for the decision and visibility rules; every posted input is kept."""

    url = STUB_OPA_URL

    def __init__(self, router: respx.MockRouter) -> None:
        self.router = router
        self.decision_route = router.post(DECISION_PATH, name="decision")
        self.visibility_route = router.post(VISIBILITY_PATH, name="visible_tools")
        self.decide(ALLOW)
        self.show(list(ALL_TOOLS))

    def decide(self, result: Any) -> None:
        """Answer every decision query with `result` (wrapped in OPA's envelope)."""
        self.decision_route.mock(return_value=opa_answer(result))

    def show(self, names: Any) -> None:
        """Answer every visibility query with `names` (wrapped in OPA's envelope)."""
        self.visibility_route.mock(return_value=opa_answer(names))

    @staticmethod
    def break_route(route: respx.Route, answer: Answer) -> None:
        """Make `route` answer with a raw response (no envelope) or fail with an httpx error."""
        if isinstance(answer, httpx.Response):
            route.mock(return_value=answer)
        else:
            route.mock(side_effect=answer)

    @property
    def decision_inputs(self) -> list[dict[str, Any]]:
        return [json.loads(call.request.content)["input"] for call in self.decision_route.calls]

    @property
    def listing_inputs(self) -> list[dict[str, Any]]:
        return [json.loads(call.request.content)["input"] for call in self.visibility_route.calls]


def policy_copy(target: Path, config_patch: Mapping[str, Any]) -> Path:
    """Copy policies/ to `target` with `config_patch` deep-merged into data.mcp.config."""
    shutil.copytree(POLICY_DIR, target, dirs_exist_ok=True)
    data = json.loads((POLICY_DIR / "data.json").read_text())
    data["mcp"]["config"] = deep_merge(data["mcp"]["config"], config_patch)
    (target / "data.json").write_text(json.dumps(data, indent=2))
    return target


def deep_merge(base: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(dict(base))
    for key, value in patch.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


# --------------------------------------------------------------------------------------------
# The gateway under test
# --------------------------------------------------------------------------------------------


def read_audit(path: Path) -> list[dict[str, Any]]:
    """Every record of a JSON Lines audit file (a missing file has none)."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@dataclass(kw_only=True)
class Harness:
    """One open gateway with its in-memory MCP client, fake kube and audit file.

    A harness is `reset` when it opens (so `audit` starts after the gateway's own `audit_open`
    record) and, when shared between tests, before each: the fake kube forgets its calls and
    `audit` shows only the records written since.
    """

    gateway: Gateway
    client: Client[Any]
    kube: CountingKube
    audit_path: Path
    audit_start: int = 0

    def reset(self) -> Harness:
        self.kube.reset()
        self.audit_start = len(read_audit(self.audit_path))
        return self

    async def call(self, tool: str, arguments: Mapping[str, Any] | None = None) -> CallToolResult:
        return await self.client.call_tool(tool, dict(arguments or {}), raise_on_error=False)

    async def error(self, tool: str, arguments: Mapping[str, Any] | None = None) -> str:
        """Call `tool`, which must fail, and return the message the agent sees."""
        return error_text(await self.call(tool, arguments))

    async def ok(self, tool: str, arguments: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Call `tool`, which must succeed, and return its structured result."""
        result = await self.call(tool, arguments)
        assert not result.is_error, result.content
        assert isinstance(result.structured_content, dict)
        return result.structured_content

    async def tool_names(self) -> set[str]:
        return {tool.name for tool in await self.client.list_tools()}

    def audit(self) -> list[dict[str, Any]]:
        return read_audit(self.audit_path)[self.audit_start :]

    def tool_calls(self) -> list[dict[str, Any]]:
        return [record for record in self.audit() if record["event"] == "tool_call"]

    def events(self, approval_id: str) -> list[str]:
        """The approval steps the audit trail records for `approval_id`, oldest first."""
        return [r["event"] for r in self.audit() if r.get("approval_id") == approval_id and r["event"] != "tool_call"]

    async def approvals(self, *argv: str, principal: str = "bob", groups: str = "sre-leads") -> CliRun:
        """`k8s-mcp-gateway approvals ARGV` on this gateway's store and audit file, as `principal`."""
        store = ["--approvals-path", str(self.gateway.approvals.path), "--audit-path", str(self.audit_path)]
        return await run_cli("approvals", *argv, "--principal", principal, "--principal-groups", groups, *store)

    def last_call(self) -> dict[str, Any]:
        records = self.tool_calls()
        assert records, "no tool_call audit record"
        return records[-1]


@contextlib.asynccontextmanager
async def open_harness(settings: Settings, *, kube: CountingKube | None = None) -> AsyncIterator[Harness]:
    """Open a gateway on `settings` in front of a fake kube, connect a client, close both after."""
    kube = kube if kube is not None else CountingKube()
    gateway = Gateway.open(settings, kube=kube)
    try:
        async with Client(gateway.server) as client:
            yield Harness(gateway=gateway, client=client, kube=kube, audit_path=settings.audit_path).reset()
    finally:
        await gateway.aclose()


@dataclass(frozen=True, kw_only=True)
class HttpHarness:
    """A gateway served over real HTTP in this process (`serve_in_process`), with its fake kube."""

    harness: Harness
    base_url: str

    @property
    def url(self) -> str:
        """The MCP endpoint."""
        return self.base_url + self.harness.gateway.settings.http_path

    @property
    def kube(self) -> CountingKube:
        return self.harness.kube

    def client(self, token: str | None = None) -> Client[Any]:
        """An MCP client over streamable HTTP, presenting `token` as its bearer token."""
        return Client(self.url, auth=token, timeout=STARTUP_TIMEOUT)

    def records(self) -> list[dict[str, Any]]:
        return read_audit(self.harness.audit_path)


async def wait_until(condition: Callable[[], object], *, seconds: float = 10.0) -> None:
    """Poll `condition` on the event loop until it holds; fail after `seconds`."""
    async with asyncio.timeout(seconds):
        while True:
            if condition():
                return
            await asyncio.sleep(0.01)


@dataclass(frozen=True, kw_only=True)
class CliRun:
    """How one command line ended: its exit status and what it wrote."""

    code: int
    out: str
    err: str


async def run_cli(*argv: str) -> CliRun:
    """`k8s-mcp-gateway ARGV` run by `gateway.cli.main` in a worker thread (it runs its own event loop)."""

    def run() -> CliRun:
        out, err = io.StringIO(), io.StringIO()
        code: int = 0
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                cli.main(list(argv))
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
                if isinstance(exc.code, str):
                    err.write(exc.code)
        return CliRun(code=code, out=out.getvalue(), err=err.getvalue())

    return await asyncio.to_thread(run)


def error_text(result: CallToolResult) -> str:
    assert result.is_error, f"expected an error, got {result.structured_content!r}"
    content = result.content[0]
    assert isinstance(content, mcp_types.TextContent)
    return content.text


# What a traceback or a leaked exception would look like in a message to the agent.
TRACEBACK_MARKERS = ("Traceback", 'File "', "Error calling tool", "ApiException", "urllib3")


# --------------------------------------------------------------------------------------------
# Digest, time and kubeconfig helpers computed independently of the gateway
# --------------------------------------------------------------------------------------------


def expected_digest(tool: str, arguments: Mapping[str, Any], cluster: str = CLUSTER) -> str:
    canonical = json.dumps(
        {"tool": tool, "arguments": dict(arguments), "cluster": cluster},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def write_kubeconfig(
    path: Path, *, server: str, context: str = "test-context", token: str = "not-a-real-token"
) -> Path:
    """A kubeconfig with one cluster, one token user and one current context."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "test", "cluster": {"server": server, "insecure-skip-tls-verify": True}}],
        "users": [{"name": "agent", "user": {"token": token}}],
        "contexts": [{"name": context, "context": {"cluster": "test", "user": "agent"}}],
        "current-context": context,
    }
    path.write_text(yaml.safe_dump(config))
    return path


# --------------------------------------------------------------------------------------------
# A real loopback HTTP server with a programmable answer
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Reply:
    status: int = 200
    body: Any = None
    delay: float = 0.0
    trickle: float = 0.0
    """Seconds between the body's bytes: sent one at a time, each in time for a per-read timeout."""


@dataclass
class StubHttpServer:
    """Answers every request with `reply(method, path)`; records the paths it saw.

    A delayed or trickled reply waits on an event that `stop` sets, so no handler thread outlives
    a test.
    """

    reply: Callable[[str, str], Reply]
    requests: list[tuple[str, str]] = field(default_factory=list)
    _release: threading.Event = field(default_factory=threading.Event)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_port}"

    def start(self) -> StubHttpServer:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                stub.requests.append((self.command, self.path))
                reply = stub.reply(self.command, self.path)
                if reply.delay:
                    stub._release.wait(reply.delay)
                payload = json.dumps(reply.body).encode()
                with contextlib.suppress(ConnectionError):  # the client may have given up
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    if not reply.trickle:
                        self.wfile.write(payload)
                    for index in range(len(payload) if reply.trickle else 0):
                        self.wfile.write(payload[index : index + 1])
                        if stub._release.wait(reply.trickle):
                            break

            do_GET = do_POST = do_PATCH = _answer

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name="stub-http", daemon=True
        ).start()
        return self

    def stop(self) -> None:
        self._release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


# --------------------------------------------------------------------------------------------
# The real `k8s-mcp-gateway serve` process, over stdio or streamable HTTP
# --------------------------------------------------------------------------------------------

GATEWAY_BIN = Path(sys.executable).with_name("k8s-mcp-gateway")
STARTUP_TIMEOUT = 30.0


@dataclass(frozen=True, kw_only=True)
class Served:
    """How to reach one gateway process, who its clients are, and where it writes its audit trail.

    `token` is the bearer token `client()` presents (HTTP with a token file); `authenticated`
    says whether the gateway verified who the principal is.
    """

    transport: str
    target: StdioTransport | str
    audit_path: Path
    principal: str
    authenticated: bool = False
    token: str | None = None

    def client(self) -> Client[Any]:
        return Client(self.target, timeout=STARTUP_TIMEOUT, auth=self.token)

    def records(self) -> list[dict[str, Any]]:
        return read_audit(self.audit_path)

    def last_record(self) -> dict[str, Any]:
        return self.records()[-1]


def served_env(directory: Path, *, opa: OpaServer | str, kubeconfig: Path) -> dict[str, str]:
    """A clean environment for a gateway process of `opa`: nothing of the developer's shell leaks in.

    `opa` is a running OPA, or the URL of one that is not there (with a token of its own), for
    tests of a gateway that cannot get a decision.
    """
    directory.mkdir(parents=True, exist_ok=True)
    if isinstance(opa, str):
        write_token(directory / "opa-token")
        opa_environment = {"K8S_MCP_OPA_URL": opa, "K8S_MCP_OPA_TOKEN_FILE": str(directory / "opa-token" / TOKEN_FILE)}
    else:
        opa_environment = opa.environment()
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(directory),
        **opa_environment,
        "K8S_MCP_AUDIT_PATH": str(directory / "audit.jsonl"),
        "K8S_MCP_KUBECONFIG": str(kubeconfig),
        "K8S_MCP_LOG_LEVEL": "DEBUG",
    }


@contextlib.asynccontextmanager
async def serve_stdio(env: Mapping[str, str], directory: Path, *, principal: str) -> AsyncIterator[Served]:
    """A stdio gateway the client spawns, kept alive across connections, closed on exit."""
    transport = StdioTransport(
        command=str(GATEWAY_BIN),
        args=["serve", "--transport", "stdio"],
        env=dict(env),
        keep_alive=True,
        log_file=directory / "stderr.log",
    )
    try:
        audit_path = Path(env["K8S_MCP_AUDIT_PATH"])
        yield Served(transport="stdio", target=transport, audit_path=audit_path, principal=principal)
    finally:
        await transport.close()


@contextlib.contextmanager
def serve_http(env: Mapping[str, str], directory: Path, *, anonymous: bool = False) -> Iterator[Served]:
    """An HTTP gateway on a free loopback port, ready when `/healthz` answers, stopped on exit.

    Its callers authenticate with a bearer token from a token file, as the principal `env`
    configures for stdio (`K8S_MCP_PRINCIPAL`, `K8S_MCP_PRINCIPAL_GROUPS`), so both transports
    call as the same person. `anonymous=True` runs it with `K8S_MCP_AUTH=none` instead.
    """
    port = free_port()
    env = dict(env)
    if anonymous:
        principal, token = "system:anonymous", None
        env["K8S_MCP_AUTH"] = "none"
    else:
        principal = env.get("K8S_MCP_PRINCIPAL", "alice")
        groups = [group for group in env.get("K8S_MCP_PRINCIPAL_GROUPS", "").split(",") if group]
        token_file = directory / "tokens.json"
        token = issue_token(token_file, sub=principal, groups=groups)
        env.update(K8S_MCP_AUTH="tokens", K8S_MCP_AUTH_TOKEN_FILE=str(token_file))
    process = ManagedProcess(name="k8s-mcp-gateway", log_path=directory / "gateway.log")
    process.start([GATEWAY_BIN, "serve", "--transport", "http", "--host", "127.0.0.1", "--port", str(port)], env=env)
    try:
        process.wait_http_ready(f"http://127.0.0.1:{port}/healthz", timeout=STARTUP_TIMEOUT)
        yield Served(
            transport="http",
            target=f"http://127.0.0.1:{port}/mcp",
            audit_path=Path(env["K8S_MCP_AUDIT_PATH"]),
            principal=principal,
            authenticated=not anonymous,
            token=token,
        )
    finally:
        process.stop()


@contextlib.asynccontextmanager
async def serve_in_process(app: ASGIApp) -> AsyncIterator[str]:
    """Run `app` under uvicorn on a free loopback port in this event loop; yield its base URL.

    For tests that need the gateway's HTTP transport and, in the same process, its fake kube.
    """
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="on", ws="none", log_config=None)
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(STARTUP_TIMEOUT):
            while not server.started:
                assert not serving.done(), "uvicorn stopped before it started"
                await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await serving


RAW_PROTOCOL_VERSION = "2025-06-18"


@dataclass
class RawStdio:
    """A `k8s-mcp-gateway serve` process spoken to in raw newline-delimited JSON-RPC.

    For what no MCP client sends: malformed requests, and a look at every byte on stdout
    (`lines` keeps each line read).
    """

    process: asyncio.subprocess.Process
    lines: list[bytes] = field(default_factory=list)

    async def send(self, message: Mapping[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps({"jsonrpc": "2.0", **message}).encode() + b"\n")
        await self.process.stdin.drain()

    async def response_to(self, request_id: int) -> dict[str, Any]:
        assert self.process.stdout is not None
        while True:
            line = await asyncio.wait_for(self.process.stdout.readline(), STARTUP_TIMEOUT)
            assert line, "the gateway closed stdout"
            self.lines.append(line)
            message = json.loads(line)
            if message.get("id") == request_id:
                return dict(message)

    async def initialize(self, *, request_id: int = 1) -> dict[str, Any]:
        """The MCP handshake as a client named `raw-client` makes it; returns the `initialize` answer."""
        await self.send(
            {
                "id": request_id,
                "method": "initialize",
                "params": {
                    "protocolVersion": RAW_PROTOCOL_VERSION,
                    "capabilities": {},
                    "clientInfo": {"name": "raw-client", "version": "1.0"},
                },
            }
        )
        answer = await self.response_to(request_id)
        await self.send({"method": "notifications/initialized"})
        return answer

    async def close(self) -> int:
        """End the input (the gateway shuts down), keep what is left on stdout, return the exit code."""
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.close()
        rest = await asyncio.wait_for(self.process.stdout.read(), STARTUP_TIMEOUT)
        self.lines.extend(rest.splitlines())
        return await asyncio.wait_for(self.process.wait(), STARTUP_TIMEOUT)


@contextlib.asynccontextmanager
async def raw_stdio(env: Mapping[str, str], directory: Path) -> AsyncIterator[RawStdio]:
    """A stdio gateway process with raw pipes; killed on exit if it is still running."""
    with (directory / "stderr.log").open("wb") as stderr:
        process = await asyncio.create_subprocess_exec(
            str(GATEWAY_BIN),
            "serve",
            "--transport",
            "stdio",
            env=dict(env),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=stderr,
        )
    try:
        yield RawStdio(process)
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()
