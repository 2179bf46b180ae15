"""A small, believable cluster state for the end-to-end suite and the demo.

The sandbox runs kube-apiserver and etcd only: no scheduler, no controllers, no kubelet. So
nothing here is created by a controller; every object, and every `status`, is written directly
(statuses through their `status` subresources, as a kubelet or controller would). What the
seed contains, and why:

- namespaces `default`, `staging`, `prod`, `kube-system` (plus a `default` ServiceAccount in each,
  which the ServiceAccount admission plugin requires before it admits a pod);
- deployments `staging/web` (3 ready), `staging/api` (2, one crash-looping), `prod/web` (2),
  `kube-system/coredns` (2), each with its pods (label `app=<deployment>`, `spec.nodeName`, images,
  container statuses);
- `staging/api-*` pods take `DATABASE_PASSWORD` from the Secret `staging/api-db-credentials`, whose
  value is `SECRET_VALUE`: tests grep every gateway answer for it to prove secrets never leak;
- nodes `node-1` (Ready) and `node-2` (NotReady, cordoned), both pointing their kubelet endpoint
  at the fake kubelet (`k8s_mcp_sandbox.kubelet`) so `pods/log` works;
- events in `staging` for the crash-looping pod (`Normal Scheduled`, `Normal Pulled`,
  `Warning BackOff`);
- a ReplicaSet (revision 1) under each deployment, owning its pods, so Pod -> ReplicaSet ->
  Deployment can be walked;
- a broken rollout in `staging`: deployment `checkout` (strategy Recreate) at revision 2, whose
  ReplicaSet's pod is stuck in `Init:CrashLoopBackOff` (init container `migrate`, exit code 1),
  revision 1 scaled to 0, the progress deadline exceeded, events on all three, and the Service
  `checkout` without endpoints;
- the rest of the application in `staging` (`k8s_mcp_sandbox.application`): Services with their
  EndpointSlices, an Ingress, an HPA, a StatefulSet with a claim bound to a PersistentVolume, a
  DaemonSet, a CronJob with its finished Job, a failed Job, and a ConfigMap holding
  `CONFIGMAP_VALUE`, which like `SECRET_VALUE` no gateway answer may contain.

`seed()` is idempotent: it creates what is missing and resets specs and statuses to the values
below, so a test that scaled or restarted a deployment can re-seed. Pods and Jobs keep the spec
they were created with (it is immutable), and a Job keeps its first status (its start and
completion times may not change once set). `pod_logs()` is the canned log source for the fake
kubelet; its lines are deterministic.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from kubernetes.client import ApiClient

from k8s_mcp_sandbox import objects
from k8s_mcp_sandbox.application import Backend, application_events, seed_application
from k8s_mcp_sandbox.kubelet import LogRequest
from k8s_mcp_sandbox.objects import Manifest

NAMESPACES = ("default", "staging", "prod", "kube-system")
SECRET_NAME = "api-db-credentials"
SECRET_KEY = "password"
SECRET_VALUE = "s3cr3t-sandbox-db-password-do-not-leak"
"""The one secret value in the sandbox; no gateway output may ever contain it."""

KUBELET_VERSION = "v1.37.2"
NODE_IP = "127.0.0.1"
"""Every node's InternalIP: the apiserver reaches the fake kubelet on loopback."""

CRASHLOOP_POD = ("staging", "api-6c8b9d7f4-p7r3s")
CRASHLOOP_RESTARTS = 5

REVISION = "deployment.kubernetes.io/revision"

BROKEN_ROLLOUT = ("staging", "checkout")
"""A deployment whose revision 2 never became ready; its Service has no endpoints."""
BROKEN_REPLICASET = "checkout-5b7f9c6d8"
PREVIOUS_REPLICASET = "checkout-7c9d8e6f5"
INIT_CRASH_POD = f"{BROKEN_REPLICASET}-x7k2p"
INIT_CONTAINER = "migrate"
INIT_RESTARTS = 4


@dataclass(frozen=True, slots=True)
class PodSeed:
    """One pod of a seeded deployment and the state its status should show."""

    name: str
    node: str
    ip: str
    crashloop: bool = False


@dataclass(frozen=True, slots=True)
class DeploymentSeed:
    """One deployment, its single container, and the pods that pretend to be its replicas."""

    namespace: str
    name: str
    image: str
    pods: tuple[PodSeed, ...]
    port: int = 8080
    env_from_secret: bool = False
    priority_class: str | None = None

    @property
    def replicas(self) -> int:
        return len(self.pods)

    @property
    def ready(self) -> int:
        return sum(not p.crashloop for p in self.pods)


DEPLOYMENTS: tuple[DeploymentSeed, ...] = (
    DeploymentSeed(
        namespace="staging",
        name="web",
        image="nginx:1.27.3",
        port=80,
        pods=(
            PodSeed("web-7d9c6b8f5-4kq2x", "node-1", "10.244.1.11"),
            PodSeed("web-7d9c6b8f5-9zt7m", "node-1", "10.244.1.12"),
            PodSeed("web-7d9c6b8f5-mx8wd", "node-1", "10.244.1.13"),
        ),
    ),
    DeploymentSeed(
        namespace="staging",
        name="api",
        image="ghcr.io/example/shop-api:2.3.1",
        env_from_secret=True,
        pods=(
            PodSeed("api-6c8b9d7f4-h2v5n", "node-1", "10.244.1.21"),
            PodSeed(CRASHLOOP_POD[1], "node-1", "10.244.1.22", crashloop=True),
        ),
    ),
    DeploymentSeed(
        namespace="prod",
        name="web",
        image="nginx:1.27.3",
        port=80,
        pods=(
            PodSeed("web-5f6d7c8b9-b8n4q", "node-1", "10.244.1.31"),
            PodSeed("web-5f6d7c8b9-r2d7k", "node-1", "10.244.1.32"),
        ),
    ),
    DeploymentSeed(
        namespace="kube-system",
        name="coredns",
        image="registry.k8s.io/coredns/coredns:v1.12.1",
        port=53,
        priority_class="system-cluster-critical",
        pods=(
            PodSeed("coredns-5d78c9869d-6xw2p", "node-1", "10.244.1.2"),
            PodSeed("coredns-5d78c9869d-q8hzt", "node-1", "10.244.1.3"),
        ),
    ),
)


@dataclass(frozen=True, slots=True)
class NodeSeed:
    name: str
    ready: bool
    cordoned: bool


NODES = (NodeSeed("node-1", ready=True, cordoned=False), NodeSeed("node-2", ready=False, cordoned=True))


def seed(api_client: ApiClient, *, kubelet_port: int = 10250, now: datetime | None = None) -> None:
    """Create or reset the seeded state (needs an admin client).

    `kubelet_port` is the fake kubelet's port that the nodes advertise; without a running fake
    kubelet everything but `pods/log` still works. `now` anchors timestamps (start times, event
    times), so ages look recent; it defaults to the current time.
    """
    at = now or datetime.now(UTC)
    for namespace in NAMESPACES:
        _seed_namespace(api_client, namespace)
    for node in NODES:
        _seed_node(api_client, node, kubelet_port=kubelet_port, at=at)
    objects.apply(api_client, _secret())
    for deployment in DEPLOYMENTS:
        stored = _seed_deployment(api_client, deployment)
        owner = objects.apply(
            api_client,
            _replica_set_of(deployment, stored),
            status=_rs_status(deployment),
            observed=True,
        )
        for index, pod in enumerate(deployment.pods):
            _seed_pod(api_client, deployment, pod, owner=owner, started=at - timedelta(hours=2, minutes=index))
    _seed_broken_rollout(api_client, at)
    seed_application(api_client, at, backends=_backends())
    for event in [*_events(at), *_rollout_events(at), *application_events(at)]:
        objects.apply(api_client, event)


def _backends() -> dict[str, list[Backend]]:
    """The pods of the staging deployments, by app: what the application's Services select."""
    return {
        d.name: [Backend(name=p.name, ip=p.ip, node=p.node, ready=not p.crashloop) for p in d.pods]
        for d in DEPLOYMENTS
        if d.namespace == "staging"
    }


def pod_logs(request: LogRequest) -> Sequence[str] | None:
    """Canned, deterministic log lines for every seeded container (the fake kubelet's source).

    `previous` exists only for the crash-looping containers, as on a real kubelet.
    """
    if (request.namespace, request.pod, request.container) == (BROKEN_ROLLOUT[0], INIT_CRASH_POD, INIT_CONTAINER):
        return _migration_lines(attempt=INIT_RESTARTS if request.previous else INIT_RESTARTS + 1)
    for deployment in DEPLOYMENTS:
        if deployment.namespace != request.namespace or deployment.name != request.container:
            continue
        for pod in deployment.pods:
            if pod.name != request.pod:
                continue
            if request.previous:
                return _crash_lines(pod.name, attempt=CRASHLOOP_RESTARTS) if pod.crashloop else None
            if pod.crashloop:
                return _crash_lines(pod.name, attempt=CRASHLOOP_RESTARTS + 1)
            return _LOG_WRITERS[deployment.name](deployment, pod)
    return None


# --- object builders -------------------------------------------------------------------------


def _namespace(name: str) -> Manifest:
    labels = {"kubernetes.io/metadata.name": name}
    if name in {"staging", "prod"}:
        labels["environment"] = name
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


def _service_account(name: str, namespace: str) -> Manifest:
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": namespace}}


def _secret() -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {"name": SECRET_NAME, "namespace": "staging", "labels": {"app": "api"}},
        "data": {SECRET_KEY: base64.b64encode(SECRET_VALUE.encode()).decode()},
    }


def _container(deployment: DeploymentSeed) -> Manifest:
    container: Manifest = {
        "name": deployment.name,
        "image": deployment.image,
        "ports": [{"containerPort": deployment.port, "protocol": "UDP" if deployment.port == 53 else "TCP"}],
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}},
    }
    if deployment.env_from_secret:
        container["env"] = [
            {"name": "DATABASE_HOST", "value": "postgres.staging.svc.cluster.local"},
            {
                "name": "DATABASE_PASSWORD",
                "valueFrom": {"secretKeyRef": {"name": SECRET_NAME, "key": SECRET_KEY}},
            },
        ]
    return container


def _pod_template_spec(deployment: DeploymentSeed) -> Manifest:
    spec: Manifest = {
        "containers": [_container(deployment)],
        # Deterministic specs: no generated kube-api-access-xxxxx token volume.
        "automountServiceAccountToken": False,
    }
    if deployment.priority_class:
        spec["priorityClassName"] = deployment.priority_class
    return spec


def _template_hash(deployment: DeploymentSeed) -> str:
    return deployment.pods[0].name.rsplit("-", 2)[1]


def _deployment_manifest(namespace: str, name: str, *, replicas: int, spec: Manifest, revision: int) -> Manifest:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": dict(labels),
            "annotations": {REVISION: str(revision)},
        },
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": dict(labels)},
            "template": {"metadata": {"labels": dict(labels)}, "spec": spec},
        },
    }


def _deployment(deployment: DeploymentSeed) -> Manifest:
    return _deployment_manifest(
        deployment.namespace,
        deployment.name,
        replicas=deployment.replicas,
        spec=_pod_template_spec(deployment),
        revision=1,
    )


def _replica_set(
    namespace: str, app: str, template_hash: str, *, replicas: int, spec: Manifest, revision: int, owner: Any
) -> Manifest:
    """A Deployment's ReplicaSet: its pod template hash in the name, labels and selector."""
    labels = {"app": app, "pod-template-hash": template_hash}
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": f"{app}-{template_hash}",
            "namespace": namespace,
            "labels": dict(labels),
            "annotations": {
                REVISION: str(revision),
                "deployment.kubernetes.io/desired-replicas": str(owner.spec.replicas),
                "deployment.kubernetes.io/max-replicas": str(owner.spec.replicas + 1),
            },
            "ownerReferences": [objects.owner(owner, "Deployment")],
        },
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": dict(labels)},
            "template": {"metadata": {"labels": dict(labels)}, "spec": spec},
        },
    }


def _replica_set_of(deployment: DeploymentSeed, owner: Any) -> Manifest:
    return _replica_set(
        deployment.namespace,
        deployment.name,
        _template_hash(deployment),
        replicas=deployment.replicas,
        spec=_pod_template_spec(deployment),
        revision=1,
        owner=owner,
    )


def _rs_status(deployment: DeploymentSeed) -> Manifest:
    return {
        "replicas": deployment.replicas,
        "fullyLabeledReplicas": deployment.replicas,
        "readyReplicas": deployment.ready,
        "availableReplicas": deployment.ready,
    }


def _deployment_status(deployment: DeploymentSeed) -> Manifest:
    available = deployment.ready == deployment.replicas
    status: Manifest = {
        "replicas": deployment.replicas,
        "updatedReplicas": deployment.replicas,
        "readyReplicas": deployment.ready,
        "availableReplicas": deployment.ready,
        "conditions": [
            {
                "type": "Available",
                "status": "True" if available else "False",
                "reason": "MinimumReplicasAvailable" if available else "MinimumReplicasUnavailable",
                "message": "Deployment has minimum availability."
                if available
                else "Deployment does not have minimum availability.",
            },
            {
                "type": "Progressing",
                "status": "True",
                "reason": "NewReplicaSetAvailable",
                "message": f'ReplicaSet "{deployment.name}-{_template_hash(deployment)}" has successfully progressed.',
            },
        ],
    }
    if deployment.replicas > deployment.ready:
        status["unavailableReplicas"] = deployment.replicas - deployment.ready
    return status


def _pod(deployment: DeploymentSeed, pod: PodSeed, owner: Any) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": pod.name,
            "namespace": deployment.namespace,
            "labels": {"app": deployment.name, "pod-template-hash": _template_hash(deployment)},
            "ownerReferences": [objects.owner(owner, "ReplicaSet")],
        },
        "spec": {**_pod_template_spec(deployment), "nodeName": pod.node},
    }


def _pod_status(deployment: DeploymentSeed, pod: PodSeed, started: datetime) -> Manifest:
    started_at = objects.rfc3339(started)
    digest = hashlib.sha256(deployment.image.encode()).hexdigest()
    container_id = "containerd://" + hashlib.sha256(pod.name.encode()).hexdigest()
    container: Manifest = {
        "name": deployment.name,
        "image": deployment.image,
        "imageID": f"{deployment.image.split(':')[0]}@sha256:{digest}",
        "containerID": container_id,
        "ready": not pod.crashloop,
        "started": not pod.crashloop,
        "restartCount": CRASHLOOP_RESTARTS if pod.crashloop else 0,
    }
    if pod.crashloop:
        last_start = started + timedelta(minutes=110)
        container["state"] = {
            "waiting": {
                "reason": "CrashLoopBackOff",
                "message": f"back-off 2m40s restarting failed container={deployment.name} "
                f"pod={pod.name}_{deployment.namespace}",
            }
        }
        container["lastState"] = {
            "terminated": {
                "exitCode": 1,
                "reason": "Error",
                "startedAt": objects.rfc3339(last_start),
                "finishedAt": objects.rfc3339(last_start + timedelta(seconds=3)),
                "containerID": container_id,
            }
        }
    else:
        container["state"] = {"running": {"startedAt": started_at}}
        container["lastState"] = {}
    ready = "False" if pod.crashloop else "True"
    not_ready: Manifest = (
        {"reason": "ContainersNotReady", "message": f"containers with unready status: [{deployment.name}]"}
        if pod.crashloop
        else {}
    )
    return {
        "phase": "Running",
        "qosClass": "Burstable",
        "hostIP": NODE_IP,
        "hostIPs": [{"ip": NODE_IP}],
        "podIP": pod.ip,
        "podIPs": [{"ip": pod.ip}],
        "startTime": started_at,
        "conditions": [
            {"type": "PodReadyToStartContainers", "status": "True", "lastTransitionTime": started_at},
            {"type": "Initialized", "status": "True", "lastTransitionTime": started_at},
            {"type": "Ready", "status": ready, "lastTransitionTime": started_at, **not_ready},
            {"type": "ContainersReady", "status": ready, "lastTransitionTime": started_at, **not_ready},
            {"type": "PodScheduled", "status": "True", "lastTransitionTime": started_at},
        ],
        "containerStatuses": [container],
    }


def _node(node: NodeSeed) -> Manifest:
    taints: list[Manifest] = []
    if node.cordoned:
        taints.append({"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"})
    if not node.ready:
        taints.append({"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"})
    spec: Manifest = {"podCIDR": f"10.244.{node.name.rsplit('-', 1)[1]}.0/24"}
    if node.cordoned:
        spec["unschedulable"] = True
    if taints:
        spec["taints"] = taints
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": node.name,
            "labels": {
                "kubernetes.io/hostname": node.name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "node.kubernetes.io/instance-type": "sandbox",
            },
        },
        "spec": spec,
    }


def _node_status(node: NodeSeed, *, kubelet_port: int, at: datetime) -> Manifest:
    booted = objects.rfc3339(at - timedelta(days=3))
    heartbeat = objects.rfc3339(at if node.ready else at - timedelta(minutes=7))

    def condition(kind: str, healthy_status: str, reason: str, message: str) -> Manifest:
        return {
            "type": kind,
            "status": healthy_status,
            "reason": reason,
            "message": message,
            "lastHeartbeatTime": heartbeat,
            "lastTransitionTime": booted,
        }

    ready = (
        condition("Ready", "True", "KubeletReady", "kubelet is posting ready status")
        if node.ready
        else condition(
            "Ready",
            "False",
            "KubeletNotReady",
            "container runtime network not ready: NetworkReady=false "
            "reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not initialized",
        )
    )
    if not node.ready:
        ready["lastTransitionTime"] = heartbeat
    machine = hashlib.sha256(node.name.encode()).hexdigest()
    return {
        "capacity": {"cpu": "4", "memory": "16393232Ki", "pods": "110", "ephemeral-storage": "102625208Ki"},
        "allocatable": {"cpu": "3800m", "memory": "15242256Ki", "pods": "110", "ephemeral-storage": "94580335255"},
        "conditions": [
            condition(
                "MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"
            ),
            condition("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
            condition("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
            ready,
        ],
        "addresses": [{"type": "InternalIP", "address": NODE_IP}, {"type": "Hostname", "address": node.name}],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": kubelet_port}},
        "nodeInfo": {
            "machineID": machine[:32],
            "systemUUID": f"{machine[:8]}-{machine[8:12]}-{machine[12:16]}-{machine[16:20]}-{machine[20:32]}",
            "bootID": machine[32:64],
            "kernelVersion": "6.8.0-88-generic",
            "osImage": "Ubuntu 24.04.3 LTS",
            "containerRuntimeVersion": "containerd://2.1.4",
            "kubeletVersion": KUBELET_VERSION,
            "kubeProxyVersion": "",
            "operatingSystem": "linux",
            "architecture": "amd64",
        },
    }


# --- the broken rollout: staging/checkout ----------------------------------------------------


def _checkout_spec(version: str) -> Manifest:
    """The checkout pod template of one version: a migration init container, then the server."""
    image = "ghcr.io/example/checkout"
    return {
        "initContainers": [
            {
                "name": INIT_CONTAINER,
                "image": f"{image}-migrate:{version}",
                "env": [{"name": "DATABASE_HOST", "value": "postgres.staging.svc.cluster.local"}],
            }
        ],
        "containers": [
            {
                "name": "checkout",
                "image": f"{image}:{version}",
                "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
                "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}},
                "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 5},
            }
        ],
        "automountServiceAccountToken": False,
    }


_CHECKOUT_VERSIONS = {PREVIOUS_REPLICASET: (1, "1.4.2", 0), BROKEN_REPLICASET: (2, "1.5.0", 1)}
"""ReplicaSet -> (revision, version, replicas): Recreate scaled revision 1 to 0 before revision 2."""


def _checkout_status() -> Manifest:
    return {
        "replicas": 1,
        "updatedReplicas": 1,
        "readyReplicas": 0,
        "availableReplicas": 0,
        "unavailableReplicas": 1,
        "conditions": [
            {
                "type": "Available",
                "status": "False",
                "reason": "MinimumReplicasUnavailable",
                "message": "Deployment does not have minimum availability.",
            },
            {
                "type": "Progressing",
                "status": "False",
                "reason": "ProgressDeadlineExceeded",
                "message": f'ReplicaSet "{BROKEN_REPLICASET}" has timed out progressing.',
            },
        ],
    }


def _init_crash_pod(owner: Any) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": INIT_CRASH_POD,
            "namespace": BROKEN_ROLLOUT[0],
            "labels": {"app": "checkout", "pod-template-hash": BROKEN_REPLICASET.rsplit("-", 1)[1]},
            "ownerReferences": [objects.owner(owner, "ReplicaSet")],
        },
        "spec": {**_checkout_spec("1.5.0"), "nodeName": "node-1"},
    }


def _init_crash_status(started: datetime) -> Manifest:
    started_at, last_start = objects.rfc3339(started), started + timedelta(minutes=9)
    container_id = "containerd://" + hashlib.sha256(INIT_CRASH_POD.encode()).hexdigest()
    waiting_for = {
        "reason": "ContainersNotInitialized",
        "message": f"containers with incomplete status: [{INIT_CONTAINER}]",
    }
    not_ready = {"reason": "ContainersNotReady", "message": "containers with unready status: [checkout]"}
    return {
        "phase": "Pending",
        "qosClass": "Burstable",
        "hostIP": NODE_IP,
        "hostIPs": [{"ip": NODE_IP}],
        "podIP": "10.244.1.41",
        "podIPs": [{"ip": "10.244.1.41"}],
        "startTime": started_at,
        "conditions": [
            {"type": "PodReadyToStartContainers", "status": "True", "lastTransitionTime": started_at},
            {"type": "Initialized", "status": "False", "lastTransitionTime": started_at, **waiting_for},
            {"type": "Ready", "status": "False", "lastTransitionTime": started_at, **not_ready},
            {"type": "ContainersReady", "status": "False", "lastTransitionTime": started_at, **not_ready},
            {"type": "PodScheduled", "status": "True", "lastTransitionTime": started_at},
        ],
        "initContainerStatuses": [
            {
                "name": INIT_CONTAINER,
                "image": "ghcr.io/example/checkout-migrate:1.5.0",
                "imageID": "ghcr.io/example/checkout-migrate@sha256:" + hashlib.sha256(b"migrate").hexdigest(),
                "containerID": container_id,
                "ready": False,
                "started": False,
                "restartCount": INIT_RESTARTS,
                "state": {
                    "waiting": {
                        "reason": "CrashLoopBackOff",
                        "message": f"back-off 1m20s restarting failed container={INIT_CONTAINER} "
                        f"pod={INIT_CRASH_POD}_{BROKEN_ROLLOUT[0]}",
                    }
                },
                "lastState": {
                    "terminated": {
                        "exitCode": 1,
                        "reason": "Error",
                        "startedAt": objects.rfc3339(last_start),
                        "finishedAt": objects.rfc3339(last_start + timedelta(seconds=2)),
                        "containerID": container_id,
                    }
                },
            }
        ],
        "containerStatuses": [
            {
                "name": "checkout",
                "image": "ghcr.io/example/checkout:1.5.0",
                "imageID": "",
                "ready": False,
                "started": False,
                "restartCount": 0,
                "state": {"waiting": {"reason": "PodInitializing"}},
            }
        ],
    }


def _seed_broken_rollout(api_client: ApiClient, at: datetime) -> None:
    namespace, name = BROKEN_ROLLOUT
    deployment = _deployment_manifest(namespace, name, replicas=1, spec=_checkout_spec("1.5.0"), revision=2)
    deployment["spec"]["strategy"] = {"type": "Recreate"}
    stored = objects.apply(api_client, deployment, status=_checkout_status(), observed=True)
    sets = {}
    for replica_set, (revision, version, replicas) in _CHECKOUT_VERSIONS.items():
        manifest = _replica_set(
            namespace,
            name,
            replica_set.rsplit("-", 1)[1],
            replicas=replicas,
            spec=_checkout_spec(version),
            revision=revision,
            owner=stored,
        )
        status = {"replicas": replicas, "fullyLabeledReplicas": replicas, "readyReplicas": 0, "availableReplicas": 0}
        sets[replica_set] = objects.apply(api_client, manifest, status=status, observed=True)
    objects.apply(
        api_client,
        _init_crash_pod(sets[BROKEN_REPLICASET]),
        status=_init_crash_status(at - timedelta(minutes=12)),
        immutable=True,
    )


def _rollout_events(at: datetime) -> list[Manifest]:
    """What the deployment and ReplicaSet controllers, the scheduler and the kubelet recorded
    about the broken rollout."""
    namespace, name = BROKEN_ROLLOUT
    rolled = at - timedelta(minutes=12)
    pod = objects.involved("Pod", namespace, INIT_CRASH_POD)
    init = objects.involved("Pod", namespace, INIT_CRASH_POD, field_path=f"spec.initContainers{{{INIT_CONTAINER}}}")
    replica_set = objects.involved("ReplicaSet", namespace, BROKEN_REPLICASET, api_version="apps/v1")
    deployment = objects.involved("Deployment", namespace, name, api_version="apps/v1")
    return [
        objects.event(
            deployment,
            "scaled-down",
            "Normal",
            "ScalingReplicaSet",
            f"Scaled down replica set {PREVIOUS_REPLICASET} from 1 to 0",
            component="deployment-controller",
            first=rolled - timedelta(seconds=5),
            count=1,
            at=at,
        ),
        objects.event(
            deployment,
            "scaled-up",
            "Normal",
            "ScalingReplicaSet",
            f"Scaled up replica set {BROKEN_REPLICASET} from 0 to 1",
            component="deployment-controller",
            first=rolled - timedelta(seconds=1),
            count=1,
            at=at,
        ),
        objects.event(
            replica_set,
            "created",
            "Normal",
            "SuccessfulCreate",
            f"Created pod: {INIT_CRASH_POD}",
            component="replicaset-controller",
            first=rolled,
            count=1,
            at=at,
        ),
        objects.event(
            pod,
            "scheduled",
            "Normal",
            "Scheduled",
            f"Successfully assigned {namespace}/{INIT_CRASH_POD} to node-1",
            component="default-scheduler",
            first=rolled,
            count=1,
            at=at,
        ),
        objects.event(
            init,
            "backoff",
            "Warning",
            "BackOff",
            f"Back-off restarting failed container {INIT_CONTAINER} in pod {INIT_CRASH_POD}_{namespace}",
            component="kubelet",
            count=INIT_RESTARTS,
            first=rolled + timedelta(seconds=20),
            at=at,
        ),
    ]


def _events(at: datetime) -> list[Manifest]:
    namespace, pod = CRASHLOOP_POD
    on_pod = objects.involved("Pod", namespace, pod)
    on_container = objects.involved("Pod", namespace, pod, field_path="spec.containers{api}")
    started = at - timedelta(hours=2, minutes=1)
    return [
        objects.event(
            on_pod,
            "scheduled",
            "Normal",
            "Scheduled",
            f"Successfully assigned {namespace}/{pod} to node-1",
            component="default-scheduler",
            count=1,
            first=started,
            at=at,
        ),
        objects.event(
            on_container,
            "pulled",
            "Normal",
            "Pulled",
            'Container image "ghcr.io/example/shop-api:2.3.1" already present on machine',
            component="kubelet",
            count=CRASHLOOP_RESTARTS + 1,
            first=started + timedelta(seconds=2),
            at=at,
        ),
        objects.event(
            on_container,
            "backoff",
            "Warning",
            "BackOff",
            f"Back-off restarting failed container api in pod {pod}_{namespace}",
            component="kubelet",
            count=CRASHLOOP_RESTARTS,
            first=started + timedelta(seconds=30),
            at=at,
        ),
    ]


# --- canned logs -----------------------------------------------------------------------------


def _nginx_lines(deployment: DeploymentSeed, pod: PodSeed) -> list[str]:
    lines = [
        "/docker-entrypoint.sh: Configuration complete; ready for start up",
        "2026/01/01 09:00:00 [notice] 1#1: nginx/1.27.3",
        "2026/01/01 09:00:00 [notice] 1#1: start worker processes",
    ]
    paths = ("/", "/healthz", "/api/products", "/static/app.js", "/healthz")
    for i in range(40):
        path = paths[i % len(paths)]
        status = 404 if i % 13 == 0 and path != "/healthz" else 200
        agent = "kube-probe/1.37" if path == "/healthz" else "Mozilla/5.0"
        lines.append(
            f"10.244.0.{(i * 7) % 250 + 1} - - [01/Jan/2026:09:{i // 60:02d}:{i % 60:02d} +0000] "
            f'"GET {path} HTTP/1.1" {status} {512 + i} "-" "{agent}" pod={pod.name}'
        )
    return lines


def _api_lines(deployment: DeploymentSeed, pod: PodSeed) -> list[str]:
    lines = [
        'level=info msg="starting shop-api" version=2.3.1',
        'level=info msg="connected to database" host=postgres.staging.svc.cluster.local:5432',
        'level=info msg="listening" addr=:8080',
    ]
    for i in range(30):
        lines.append(
            f'level=info msg="request" method=GET path=/v1/orders/{1000 + i} status=200 '
            f"duration_ms={3 + i % 9} pod={pod.name}"
        )
    return lines


def _crash_lines(pod: str, *, attempt: int) -> list[str]:
    return [
        f'level=info msg="starting shop-api" version=2.3.1 attempt={attempt}',
        'level=warn msg="database not reachable, retrying" host=postgres.staging.svc.cluster.local:5432 retry=1',
        'level=warn msg="database not reachable, retrying" host=postgres.staging.svc.cluster.local:5432 retry=2',
        'level=error msg="could not connect to database" host=postgres.staging.svc.cluster.local:5432 '
        'error="dial tcp 10.96.12.7:5432: connect: connection refused"',
        f'level=fatal msg="exiting" code=1 pod={pod} attempt={attempt}',
    ]


def _migration_lines(*, attempt: int) -> list[str]:
    return [
        f'level=info msg="applying migrations" from=41 to=42 attempt={attempt}',
        'level=info msg="migration 42: add column orders.discount_code"',
        'level=error msg="migration 42 failed" '
        'error="pq: column \\"discount_code\\" of relation \\"orders\\" already exists"',
        'level=fatal msg="migrations did not complete" exit_code=1',
    ]


def _coredns_lines(deployment: DeploymentSeed, pod: PodSeed) -> list[str]:
    return [
        ".:53",
        "[INFO] plugin/reload: Running configuration SHA512 = 591cf328cccc12bc490481273e738df5",
        "CoreDNS-1.12.1",
        "linux/amd64, go1.24.1, 707c7c1",
        *(
            f'[INFO] 10.244.1.{11 + i % 3}:{40000 + i} - {i} "A IN api.staging.svc.cluster.local. udp 47 false 512" '
            f"NOERROR qr,aa,rd 98 0.0001{i % 10}s"
            for i in range(12)
        ),
    ]


_LOG_WRITERS: dict[str, Callable[[DeploymentSeed, PodSeed], list[str]]] = {
    "web": _nginx_lines,
    "api": _api_lines,
    "coredns": _coredns_lines,
}


# --- idempotence helpers ---------------------------------------------------------------------


def ensure_namespace(api_client: ApiClient, namespace: str) -> None:
    """Apply `namespace` as `seed()` does (for RBAC bound before seeding)."""
    _seed_namespace(api_client, namespace)


def _seed_namespace(api_client: ApiClient, namespace: str) -> None:
    """The namespace and its `default` ServiceAccount (no controller-manager makes it here)."""
    objects.apply(api_client, _namespace(namespace))
    objects.apply(api_client, _service_account("default", namespace))


def _seed_node(api_client: ApiClient, node: NodeSeed, *, kubelet_port: int, at: datetime) -> None:
    objects.apply(
        api_client,
        _node(node),
        status=_node_status(node, kubelet_port=kubelet_port, at=at),
    )


def _seed_deployment(api_client: ApiClient, deployment: DeploymentSeed) -> Any:
    return objects.apply(api_client, _deployment(deployment), status=_deployment_status(deployment), observed=True)


def _seed_pod(
    api_client: ApiClient, deployment: DeploymentSeed, pod: PodSeed, *, owner: Any, started: datetime
) -> None:
    objects.apply(
        api_client,
        _pod(deployment, pod, owner),
        status=_pod_status(deployment, pod, started),
        immutable=True,
    )
