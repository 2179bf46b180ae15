"""The fake Kubernetes layer: `CountingKube`, a real `gateway.kube.Kube` whose `call` records
every Kubernetes API call and answers with canned kubernetes model objects, or the API's JSON of
them for the lists read that way (or a canned error), instead of touching a cluster, the canned
objects themselves, and a kubeconfig writer."""

from __future__ import annotations

import asyncio
import base64
import copy
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
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
    V1DaemonSet,
    V1Deployment,
    V1DeploymentCondition,
    V1DeploymentList,
    V1DeploymentSpec,
    V1DeploymentStatus,
    V1EnvFromSource,
    V1EnvVar,
    V1EnvVarSource,
    V1Ingress,
    V1IngressList,
    V1Job,
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
    V1Scale,
    V1ScaleSpec,
    V1SecretEnvSource,
    V1SecretKeySelector,
    V1Service,
    V1StatefulSet,
    V2HorizontalPodAutoscaler,
    V2HorizontalPodAutoscalerList,
    VersionInfo,
)

from gateway.errors import KubeError
from gateway.kube import Kube, load_api_client
from tests.catalog import CLUSTER

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
    "list_namespaced_stateful_set": (dict, "read_namespaced_stateful_set"),
    "list_namespaced_daemon_set": (dict, "read_namespaced_daemon_set"),
    "list_namespaced_job": (dict, "read_namespaced_job"),
    "list_namespaced_cron_job": (dict, "read_namespaced_cron_job"),
    "list_namespaced_service": (dict, "read_namespaced_service"),
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


def _resource(name: str, kind: str, *, namespaced: bool = True) -> Manifest:
    return {"name": name, "kind": kind, "namespaced": namespaced, "verbs": ["get", "list", "watch"]}


API_RESOURCES: dict[str, Manifest] = {
    "/api/v1": {
        "resources": [
            _resource("pods", "Pod"),
            _resource("pods/log", "Pod"),
            _resource("configmaps", "ConfigMap"),
            _resource("secrets", "Secret"),
            _resource("namespaces", "Namespace", namespaced=False),
        ]
    },
    "/apis/policy/v1": {
        "resources": [_resource("poddisruptionbudgets", "PodDisruptionBudget"), _resource("pdb/status", "PDB")]
    },
    "/apis/storage.k8s.io/v1": {"resources": [_resource("storageclasses", "StorageClass", namespaced=False)]},
}
"""Discovery's resource list of each group/version the canned cluster serves."""
PDB: Manifest = {
    "metadata": {
        "name": "web",
        "namespace": "default",
        "creationTimestamp": T0,
        "labels": {"app": "web"},
        "annotations": LAST_APPLIED,
        "ownerReferences": _owned_by("Deployment", "web", WEB_UID),
    },
    "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "web"}}},
    "status": {"currentHealthy": 2, "conditions": [{"type": "DisruptionAllowed", "status": "True"}]},
}
RAW_OBJECTS: dict[str, Manifest] = {
    "/apis/policy/v1/namespaces/default/poddisruptionbudgets/web": PDB,
    "/api/v1/namespaces/default/configmaps/settings": CANNED_MANIFESTS["read_namespaced_config_map"][1],
    "/apis/storage.k8s.io/v1/storageclasses/fast": {"metadata": {"name": "fast", "creationTimestamp": T0}},
}
"""The objects the generic reads find, by REST path; a collection's path lists the objects under it."""


def raw_get(*, path: str, **_: Any) -> Any:
    """What the API server answers a raw GET of `path`: discovery, an object, or a collection (empty
    where no object is canned)."""
    resource_path = path
    if resource_path in API_RESOURCES:
        return copy.deepcopy(API_RESOURCES[resource_path])
    if resource_path in RAW_OBJECTS:
        return copy.deepcopy(RAW_OBJECTS[resource_path])
    items = [copy.deepcopy(obj) for path, obj in RAW_OBJECTS.items() if path.rpartition("/")[0] == resource_path]
    plurals = {resource["name"] for document in API_RESOURCES.values() for resource in document["resources"]}
    if not items and resource_path.rpartition("/")[2] not in plurals:
        raise KubeError(f"Kubernetes API not found (404): {resource_path}", status=404)
    return {"metadata": {"continue": PAGE_TOKEN, "remainingItemCount": 7}, "items": items}


def api_json(model: Any) -> Any:
    """A model object as the API server sends it: JSON, camelCase keys, no empty fields."""
    return ApiClient().sanitize_for_serialization(model)


def canned_page(model: Any, items: list[Manifest]) -> Any:
    """A list answer holding `items`, with a `continue` token as a paged API answer has.

    `model` is the list model, or `dict` for a kind the tools read as the API's JSON.
    """
    answer = {"metadata": {"continue": PAGE_TOKEN, "remainingItemCount": 7}, "items": items}
    return answer if model is dict else model.from_dict(answer)


def _new_kinds() -> dict[str, Any]:
    answers = {method: model.from_dict(manifest) for method, (model, manifest) in CANNED_MANIFESTS.items()}
    for method, (model, read) in LISTED_BY.items():
        answers[method] = canned_page(model, [CANNED_MANIFESTS[read][1]])
    replica_sets = [
        _replicaset("web-5c4b3a2f1", revision=1, replicas=0),
        _replicaset("web-7d9c6b8f5", revision=2, replicas=2),
        _replicaset("other-6b5a4c3d2", revision=9, replicas=1, owner_uid="uid-of-another-deployment"),
    ]
    answers["list_namespaced_replica_set"] = canned_page(dict, replica_sets)
    answers["list_namespaced_endpoint_slice"] = canned_page(dict, ENDPOINT_SLICES)
    return answers


def canned_responses() -> dict[str, Any]:
    """A fresh answer for every Kubernetes API method the tools use."""
    return {
        # The lists the tools read as the API's JSON (Kube.json_list), not as model objects.
        "list_namespace": api_json(
            V1NamespaceList(
                items=[V1Namespace(metadata=V1ObjectMeta(name="default"), status=V1NamespaceStatus(phase="Active"))]
            )
        ),
        "list_namespaced_pod": api_json(V1PodList(items=[_pod()])),
        "read_namespaced_pod": _pod(),
        "read_namespaced_pod_log": LOG_TEXT,
        "list_namespaced_event": api_json(CoreV1EventList(items=[_event()])),
        "list_namespaced_deployment": api_json(V1DeploymentList(items=[_deployment()])),
        "read_namespaced_deployment": _deployment(),
        "patch_namespaced_deployment": _deployment(),
        "list_node": api_json(V1NodeList(items=[_node()])),
        "read_node": _node(),
        "patch_node": _node(),
        "delete_namespaced_pod": _pod(),
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
        "get_json": raw_get,
    }


KubeCall = tuple[str, dict[str, Any]]


class CountingKube(Kube):
    """A real `Kube` that records every API call and, by default, never reaches a cluster.

    `call` records `(method name, kwargs)` and returns the canned answer for that method, or
    raises it when it is an exception, or calls it with the call's kwargs when it is a function.
    `before_call`, when set, runs first: a test can look at (or change) the world, such as the
    audit file, as it is when Kubernetes would be touched.
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
        return answer(**kwargs) if callable(answer) else answer

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
    def mutations(self) -> list[KubeCall]:
        """The patches and deletes, server-side dry runs included."""
        return [(name, kw) for name, kw in self.calls if name.startswith(("patch_", "delete_"))]

    @property
    def writes(self) -> list[KubeCall]:
        """The calls that would change the cluster: patches and deletes not sent as server-side dry runs."""
        return [(name, kw) for name, kw in self.mutations if kw["dry_run"] is None]


def passthrough_kube(kubeconfig: Path, *, timeout: float = 1.0) -> CountingKube:
    """A recording kube that calls the API server of `kubeconfig` for real.

    Its timeout leaves a loaded machine room to answer a quick reply, and is still well under
    the stub's slow replies (2 s).
    """
    api_client, cluster = load_api_client(kubeconfig=str(kubeconfig), context=None)
    return CountingKube(api_client=api_client, cluster=cluster, timeout=timeout, passthrough=True)


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
