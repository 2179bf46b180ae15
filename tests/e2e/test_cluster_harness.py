"""The sandbox cluster itself: real etcd + kube-apiserver, seeded, with the gateway's real RBAC.

These tests pin what the rest of the end-to-end suite relies on: the seeded facts, that the
gateway's ServiceAccount can do exactly what deploy/rbac.yaml grants (and no more), that pod logs
flow through the apiserver from the fake kubelet, that the audit log counts requests, and that
stopping leaves no process and no bound port behind.

A missing binary is an error, not a skip: build them with `cluster/build.sh`.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from kubernetes.client import (
    ApiClient,
    AppsV1Api,
    AutoscalingV2Api,
    BatchV1Api,
    CoreV1Api,
    DiscoveryV1Api,
    NetworkingV1Api,
)
from kubernetes.client.exceptions import ApiException
from kubernetes.config import new_client_from_config

from k8s_mcp_sandbox import application
from k8s_mcp_sandbox import seed as seed_data
from k8s_mcp_sandbox.cluster import GATEWAY_USER, LocalCluster

pytestmark = pytest.mark.e2e

STAGING_PODS = 6
"""The five pods of staging's web and api deployments, and the checkout pod stuck initialising."""


# `cluster` and `admin` are the session's (tests/e2e/conftest.py).


@pytest.fixture(scope="module")
def gateway(cluster: LocalCluster) -> Iterator[ApiClient]:
    with cluster.gateway_client() as client:
        yield client


def test_seeded_namespaces_deployments_and_pods(admin: ApiClient) -> None:
    core, apps = CoreV1Api(admin), AppsV1Api(admin)
    namespaces = {ns.metadata.name for ns in core.list_namespace().items}
    assert {"default", "staging", "prod", "kube-system", "k8s-mcp-gateway"} <= namespaces

    web = apps.read_namespaced_deployment("web", "staging")
    assert (web.spec.replicas, web.status.ready_replicas, web.status.available_replicas) == (3, 3, 3)
    api = apps.read_namespaced_deployment("api", "staging")
    assert (api.spec.replicas, api.status.ready_replicas, api.status.unavailable_replicas) == (2, 1, 1)
    assert apps.read_namespaced_deployment("web", "prod").status.ready_replicas == 2
    assert apps.read_namespaced_deployment("coredns", "kube-system").status.updated_replicas == 2

    staging_web = core.list_namespaced_pod("staging", label_selector="app=web").items
    assert len(staging_web) == 3
    assert all(p.spec.node_name == "node-1" and p.status.phase == "Running" for p in staging_web)
    assert all(p.status.container_statuses[0].ready for p in staging_web)
    assert {p.status.container_statuses[0].image for p in staging_web} == {"nginx:1.27.3"}


def test_seeded_crashloop_pod_and_its_events(admin: ApiClient) -> None:
    core = CoreV1Api(admin)
    namespace, name = seed_data.CRASHLOOP_POD
    status = core.read_namespaced_pod(name, namespace).status.container_statuses[0]
    assert status.state.waiting.reason == "CrashLoopBackOff"
    assert status.restart_count == 5
    assert status.ready is False
    assert status.last_state.terminated.exit_code == 1

    events = core.list_namespaced_event(namespace, field_selector=f"involvedObject.name={name}").items
    by_reason = {e.reason: e for e in events}
    assert by_reason["BackOff"].type == "Warning"
    assert by_reason["BackOff"].count == 5
    assert by_reason["Scheduled"].type == "Normal"


def test_seeded_broken_rollout(admin: ApiClient) -> None:
    core, apps = CoreV1Api(admin), AppsV1Api(admin)
    namespace, name = seed_data.BROKEN_ROLLOUT
    checkout = apps.read_namespaced_deployment(name, namespace)
    progressing = next(c for c in checkout.status.conditions if c.type == "Progressing")
    assert (progressing.status, progressing.reason) == ("False", "ProgressDeadlineExceeded")
    assert checkout.metadata.annotations["deployment.kubernetes.io/revision"] == "2"
    sets = {
        rs.metadata.name: rs for rs in apps.list_namespaced_replica_set(namespace, label_selector="app=checkout").items
    }
    assert set(sets) == {seed_data.BROKEN_REPLICASET, seed_data.PREVIOUS_REPLICASET}
    assert {rs.metadata.owner_references[0].uid for rs in sets.values()} == {checkout.metadata.uid}
    pod = core.read_namespaced_pod(seed_data.INIT_CRASH_POD, namespace)
    assert pod.metadata.owner_references[0].uid == sets[seed_data.BROKEN_REPLICASET].metadata.uid
    [init] = pod.status.init_container_statuses
    assert (init.name, init.state.waiting.reason, init.restart_count) == ("migrate", "CrashLoopBackOff", 4)
    assert init.last_state.terminated.exit_code == 1


def test_every_deployment_pod_is_owned_by_its_replicaset(admin: ApiClient) -> None:
    core, apps = CoreV1Api(admin), AppsV1Api(admin)
    for deployment in seed_data.DEPLOYMENTS:
        [replica_set] = apps.list_namespaced_replica_set(
            deployment.namespace, label_selector=f"app={deployment.name}"
        ).items
        assert replica_set.metadata.owner_references[0].kind == "Deployment"
        for pod in deployment.pods:
            owner = core.read_namespaced_pod(pod.name, deployment.namespace).metadata.owner_references[0]
            assert (owner.kind, owner.name) == ("ReplicaSet", replica_set.metadata.name)


def test_seeded_application(admin: ApiClient) -> None:
    core, apps, batch = CoreV1Api(admin), AppsV1Api(admin), BatchV1Api(admin)
    slices = DiscoveryV1Api(admin).list_namespaced_endpoint_slice("staging").items
    assert {s.metadata.labels["kubernetes.io/service-name"] for s in slices} == {"web", "api"}
    assert {s.metadata.name for s in core.list_namespaced_service("staging").items} == {"web", "api", "checkout"}
    claim = core.read_namespaced_persistent_volume_claim(application.PVC_NAME, "staging")
    volume = core.read_persistent_volume(application.PV_NAME)
    assert (claim.status.phase, volume.status.phase) == ("Bound", "Bound")
    assert volume.spec.claim_ref.uid == claim.metadata.uid
    assert apps.read_namespaced_stateful_set("postgres", "staging").status.ready_replicas == 1
    assert apps.read_namespaced_daemon_set("log-shipper", "staging").status.number_unavailable == 1
    failed = batch.read_namespaced_job(application.FAILED_JOB, "staging")
    assert [c.reason for c in failed.status.conditions if c.type == "Failed"] == ["BackoffLimitExceeded"]
    finished = batch.read_namespaced_job(application.FINISHED_JOB, "staging")
    assert finished.metadata.owner_references[0].name == "db-backup"
    hpa = AutoscalingV2Api(admin).read_namespaced_horizontal_pod_autoscaler("web", "staging")
    assert hpa.status.current_metrics[0].resource.current.average_utilization == 41
    ingress = NetworkingV1Api(admin).read_namespaced_ingress("shop", "staging")
    assert ingress.status.load_balancer.ingress[0].ip == "203.0.113.10"
    config = core.read_namespaced_config_map(application.CONFIGMAP_NAME, "staging")
    assert application.CONFIGMAP_VALUE in config.data["payments.env"]


def test_seeded_nodes(admin: ApiClient, cluster: LocalCluster) -> None:
    nodes = {n.metadata.name: n for n in CoreV1Api(admin).list_node().items}
    assert set(nodes) == {"node-1", "node-2"}

    def ready(name: str) -> str:
        return next(c.status for c in nodes[name].status.conditions if c.type == "Ready")

    assert ready("node-1") == "True"
    assert not nodes["node-1"].spec.unschedulable
    assert ready("node-2") == "False"
    assert nodes["node-2"].spec.unschedulable is True
    node = nodes["node-1"]
    assert node.status.node_info.kubelet_version == seed_data.KUBELET_VERSION
    assert node.status.capacity["cpu"] == "4"
    assert node.status.daemon_endpoints.kubelet_endpoint.port == cluster.kubelet.port
    assert {"type": "InternalIP", "address": "127.0.0.1"} in [a.to_dict() for a in node.status.addresses]


def test_seeded_secret_is_referenced_not_inlined(admin: ApiClient) -> None:
    core = CoreV1Api(admin)
    secret = core.read_namespaced_secret(seed_data.SECRET_NAME, "staging")
    assert seed_data.SECRET_KEY in secret.data
    pod = core.list_namespaced_pod("staging", label_selector="app=api").items[0]
    env = {e.name: e for e in pod.spec.containers[0].env}
    assert env["DATABASE_PASSWORD"].value is None
    assert env["DATABASE_PASSWORD"].value_from.secret_key_ref.name == seed_data.SECRET_NAME
    assert seed_data.SECRET_VALUE not in str(pod.to_dict())


def test_seed_is_idempotent(cluster: LocalCluster, admin: ApiClient) -> None:
    apps = AppsV1Api(admin)
    apps.patch_namespaced_deployment_scale("web", "staging", {"spec": {"replicas": 7}})
    cluster.seed()
    assert apps.read_namespaced_deployment("web", "staging").spec.replicas == 3
    assert len(CoreV1Api(admin).list_namespaced_pod("staging").items) == STAGING_PODS
    job = BatchV1Api(admin).read_namespaced_job(application.FINISHED_JOB, "staging")
    assert job.status.succeeded == 1
    assert {c.type for c in job.status.conditions} == {"SuccessCriteriaMet", "Complete"}


def test_gateway_can_list_pods_and_read_logs(gateway: ApiClient) -> None:
    core = CoreV1Api(gateway)
    pods = core.list_namespaced_pod("staging").items
    assert len(pods) == STAGING_PODS

    log = core.read_namespaced_pod_log("web-7d9c6b8f5-4kq2x", "staging", tail_lines=3)
    lines = log.splitlines()
    assert len(lines) == 3
    assert all("pod=web-7d9c6b8f5-4kq2x" in line for line in lines)

    namespace, name = seed_data.CRASHLOOP_POD
    current = core.read_namespaced_pod_log(name, namespace)
    previous = core.read_namespaced_pod_log(name, namespace, previous=True)
    assert "attempt=6" in current
    assert "attempt=5" in previous
    assert "connection refused" in previous
    with pytest.raises(ApiException) as caught:
        core.read_namespaced_pod_log("web-7d9c6b8f5-4kq2x", "staging", previous=True)
    assert caught.value.status == 400


RESTART = {"spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": "now"}}}}}
SCALE = {"spec": {"replicas": 9}}
WEB = {
    "metadata": {"name": "web", "namespace": "staging"},
    "spec": {
        "selector": {"matchLabels": {"app": "web"}},
        "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": "x"}]}},
    },
}


def test_gateway_can_read_nodes_and_events_and_write_as_the_tools_do(gateway: ApiClient, admin: ApiClient) -> None:
    """The control for the refusals below: in an allowed namespace the same requests pass."""
    core, apps = CoreV1Api(gateway), AppsV1Api(gateway)
    assert len(core.list_node().items) == 2
    assert core.list_namespaced_event("staging").items
    assert apps.patch_namespaced_deployment("web", "staging", RESTART, dry_run="All").metadata.name == "web"
    assert apps.patch_namespaced_deployment_scale("web", "staging", SCALE, dry_run="All").spec.replicas == 9
    assert core.delete_namespaced_pod("web-7d9c6b8f5-4kq2x", "staging", dry_run="All").metadata.name
    assert core.patch_node("node-1", {"spec": {"unschedulable": True}}, dry_run="All").spec.unschedulable
    assert not CoreV1Api(admin).read_node("node-1").spec.unschedulable
    assert AppsV1Api(admin).read_namespaced_deployment("web", "staging").spec.replicas == 3


@pytest.mark.parametrize(
    ("what", "call"),
    [
        ("list secrets", lambda c: CoreV1Api(c).list_namespaced_secret("staging")),
        ("read secret", lambda c: CoreV1Api(c).read_namespaced_secret(seed_data.SECRET_NAME, "staging")),
        (
            "delete pod in prod",
            lambda c: CoreV1Api(c).delete_namespaced_pod("web-5f6d7c8b9-b8n4q", "prod", dry_run="All"),
        ),
        ("delete deployment", lambda c: AppsV1Api(c).delete_namespaced_deployment("web", "staging")),
        (
            "create configmap",
            lambda c: CoreV1Api(c).create_namespaced_config_map("staging", {"metadata": {"name": "x"}}),
        ),
        ("list endpoints (legacy)", lambda c: CoreV1Api(c).list_namespaced_endpoints("staging")),
        (
            "get endpointslice",
            lambda c: DiscoveryV1Api(c).read_namespaced_endpoint_slice(application.WEB_ENDPOINT_SLICE, "staging"),
        ),
        ("delete node", lambda c: CoreV1Api(c).delete_node("node-2", dry_run="All")),
        (
            "restart kube-system/coredns",
            lambda c: AppsV1Api(c).patch_namespaced_deployment("coredns", "kube-system", RESTART, dry_run="All"),
        ),
        ("restart prod/web", lambda c: AppsV1Api(c).patch_namespaced_deployment("web", "prod", RESTART, dry_run="All")),
        (
            "scale prod/web",
            lambda c: AppsV1Api(c).patch_namespaced_deployment_scale("web", "prod", SCALE, dry_run="All"),
        ),
        ("list pods in prod", lambda c: CoreV1Api(c).list_namespaced_pod("prod")),
        ("read coredns logs", lambda c: CoreV1Api(c).read_namespaced_pod_log("coredns-0", "kube-system")),
        # deployments/scale: patch is what scale_deployment sends; get and update are not granted.
        ("get staging/web scale", lambda c: AppsV1Api(c).read_namespaced_deployment_scale("web", "staging")),
        (
            "update staging/web scale",
            lambda c: AppsV1Api(c).replace_namespaced_deployment_scale(
                "web", "staging", {"metadata": {"name": "web", "namespace": "staging"}, **SCALE}, dry_run="All"
            ),
        ),
        (
            "update staging/web",
            lambda c: AppsV1Api(c).replace_namespaced_deployment("web", "staging", WEB, dry_run="All"),
        ),
    ],
)
def test_gateway_is_forbidden_beyond_its_role(
    cluster: LocalCluster, gateway: ApiClient, admin: ApiClient, what: str, call: Callable[[ApiClient], object]
) -> None:
    """No policy in the way at all: the gateway's own identity, straight to the API server."""
    mark = cluster.audit.mark()
    with pytest.raises(ApiException) as caught:
        call(gateway)
    assert caught.value.status == 403, what
    assert cluster.audit.wait_count(1, since=mark, user=GATEWAY_USER, code=403) == 1
    assert cluster.audit.count(since=mark, user=GATEWAY_USER) == 1
    assert AppsV1Api(admin).read_namespaced_deployment("web", "prod").spec.replicas == 2


def test_audit_log_counts_requests(cluster: LocalCluster, gateway: ApiClient) -> None:
    audit = cluster.audit
    mark = audit.mark()
    core = CoreV1Api(gateway)
    core.list_namespaced_pod("staging")
    core.list_namespaced_pod("default")
    core.read_namespaced_pod_log("web-7d9c6b8f5-4kq2x", "staging", tail_lines=1)
    with pytest.raises(ApiException):
        core.list_namespaced_secret("staging")

    assert audit.wait_count(2, since=mark, user=GATEWAY_USER, verb="list", resource="pods") == 2
    assert audit.wait_count(1, since=mark, user=GATEWAY_USER, verb="get", resource="pods/log") == 1
    assert audit.wait_count(1, since=mark, user=GATEWAY_USER, resource="secrets", code=403) == 1
    assert audit.count(since=mark, user=GATEWAY_USER, verb="list", resource="pods", namespace="default") == 1
    assert audit.count(since=audit.mark(), user=GATEWAY_USER) == 0


def test_gateway_kubeconfig_is_the_service_account(cluster: LocalCluster) -> None:
    """The file a gateway is given reaches this cluster's apiserver, verified, as the ServiceAccount."""
    assert cluster.gateway_kubeconfig.stat().st_mode & 0o077 == 0
    mark = cluster.audit.mark()
    with new_client_from_config(str(cluster.gateway_kubeconfig), context="sandbox") as client:
        assert client.configuration.host == cluster.server
        assert client.configuration.verify_ssl
        CoreV1Api(client).list_namespaced_pod("staging")
    assert cluster.audit.wait_count(1, since=mark, user=GATEWAY_USER, verb="list", resource="pods", code=200) == 1


def test_stop_leaves_no_processes_and_frees_ports() -> None:
    """A separate cluster, so the shared one stays up for the other tests."""
    cluster = LocalCluster()
    with cluster:
        pids = dict(cluster.pids)
        ports = dict(cluster.ports)
        workdir = cluster.workdir
        assert set(pids) == {"etcd", "kube-apiserver"}
        assert all(_alive(pid) for pid in pids.values())
    assert not cluster.running
    for name, pid in pids.items():
        assert not _alive(pid), f"{name} (pid {pid}) still running"
        with pytest.raises(ProcessLookupError):
            os.killpg(pid, 0)
    for name, port in ports.items():
        assert _port_free(port), f"{name} port {port} still bound"
    assert not workdir.exists()
    cluster.stop()  # idempotent


# A background job's children start with SIGINT ignored; the child is a program a person runs in a
# terminal, where Ctrl-C raises KeyboardInterrupt, whatever the job that runs the tests inherited.
_CHILD = """
import json, signal, sys, time
signal.signal(signal.SIGINT, signal.default_int_handler)
from k8s_mcp_sandbox.cluster import LocalCluster
cluster = LocalCluster().start()  # no `with`: teardown must come from the signal/atexit handling
print(json.dumps({"pids": cluster.pids, "ports": cluster.ports, "workdir": str(cluster.workdir)}), flush=True)
if sys.argv[1] == "exit":
    sys.exit(0)
time.sleep(120)
"""


@pytest.mark.parametrize("how", ["SIGTERM", "SIGINT", "exit"])
def test_no_orphans_when_the_owner_is_interrupted(how: str) -> None:
    """SIGTERM, Ctrl-C or a plain interpreter exit must still stop etcd and kube-apiserver."""
    repo = Path(__file__).resolve().parents[2]
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, how],
        cwd=repo,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        assert line, f"child failed to start a cluster: {child.stderr.read() if child.stderr else ''}"
        started = json.loads(line)
        if how != "exit":
            child.send_signal(getattr(signal, how))
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        for stream in (child.stdout, child.stderr):
            if stream is not None:
                stream.close()
    for name, pid in started["pids"].items():
        assert not _alive(pid), f"{name} (pid {pid}) outlived its owner ({how})"
    for name, port in started["ports"].items():
        assert _port_free(port), f"{name} port {port} still bound ({how})"
    assert not Path(started["workdir"]).exists()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _port_free(port: int) -> bool:
    """Nothing listens on `port` (SO_REUSEADDR: closed connections in TIME_WAIT do not count)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
