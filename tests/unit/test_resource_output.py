"""What the workload, network, storage and config tools show: the right status shapes, compactly.

Through the MCP client, in front of the fake kube's canned objects (tests/fakes/kube.py): template
containers are recipes without state, a pod's init and ephemeral containers carry theirs, owners
let an agent walk Pod -> ReplicaSet -> Deployment, lists page, and ConfigMap values never show.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from kubernetes.client import V1Pod

from tests.catalog import LIST_TOOLS, arguments_for
from tests.fakes.kube import PAGE_TOKEN, SECRET_SENTINEL, T0, api_json, canned_page
from tests.gateways import Harness

RUNNING_STATE = {"ready", "restarts", "state", "last_state"}


def pod(
    name: str, *, init: list[dict[str, Any]] | None = None, sidecars: tuple[str, ...] = (), **status: Any
) -> dict[str, Any]:
    """A pod manifest with one container `app` and the given init container statuses; the init
    containers named in `sidecars` restart always."""
    init_specs = [
        {"name": s["name"], "image": f"registry.example/{s['name']}:1"}
        | ({"restartPolicy": "Always"} if s["name"] in sidecars else {})
        for s in init or []
    ]
    return {
        "metadata": {
            "name": name,
            "namespace": "default",
            "creationTimestamp": T0,
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-7d9c6b8f5", "uid": "u"}],
        },
        "spec": {"initContainers": init_specs, "containers": [{"name": "app", "image": "registry.example/web:1.2"}]},
        "status": {"phase": "Pending", "initContainerStatuses": init or [], **status},
    }


def waiting(reason: str) -> dict[str, Any]:
    return {"waiting": {"reason": reason}}


def terminated(exit_code: int, reason: str | None = None) -> dict[str, Any]:
    return {"terminated": {"exitCode": exit_code, "reason": reason, "finishedAt": T0}}


def status_of(name: str, state: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"name": name, "image": "i", "imageID": "", "ready": False, "restartCount": 0, "state": state, **extra}


INIT_CRASH = pod(
    "web-1",
    init=[status_of("migrate", waiting("CrashLoopBackOff"), restartCount=4, lastState=terminated(1, "Error"))],
    containerStatuses=[status_of("app", waiting("PodInitializing"))],
    conditions=[
        {
            "type": "Initialized",
            "status": "False",
            "reason": "ContainersNotInitialized",
            "message": "containers with incomplete status: [migrate]",
            "lastTransitionTime": T0,
        }
    ],
)


# --------------------------------------------------------------------------------------------
# Containers: recipes in templates, states in pods
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "tool",
    [
        "describe_deployment",
        "describe_statefulset",
        "describe_daemonset",
        "describe_replicaset",
        "describe_job",
        "describe_cronjob",
    ],
)
async def test_template_containers_are_recipes_without_state(gateway: Harness, tool: str) -> None:
    described = await gateway.ok(tool, arguments_for(tool))

    containers = described["containers"] + described["init_containers"]
    assert containers
    for container in containers:
        assert not RUNNING_STATE & set(container), container
        assert {"name", "image", "ports", "requests", "limits", "probes", "env", "env_from"} <= set(container)


async def test_a_template_container_shows_image_ports_resources_and_probes(gateway: Harness) -> None:
    described = await gateway.ok("describe_statefulset", {"statefulset_name": "db"})

    [db] = described["containers"]
    assert (db["image"], db["ports"]) == ("registry.example/db:16", ["sql:5432/TCP"])
    assert (db["requests"], db["limits"]) == ({"cpu": "250m"}, {"memory": "1Gi"})
    assert db["probes"] == {
        "liveness": "http-get http://:8080/healthz delay=10s timeout=1s period=10s failure=3",
        "readiness": "tcp-socket :5432 delay=0s timeout=1s period=5s failure=3",
    }
    assert [(c["name"], c["sidecar"]) for c in described["init_containers"]] == [("migrate", False)]
    assert described["volume_claims"] == [
        {
            "name": "data",
            "requested": "10Gi",
            "access_modes": ["ReadWriteOnce"],
            "storage_class": "fast",
            "volume_mode": None,
        }
    ]
    assert (described["replicas"], described["ready"], described["updated"]) == (3, 2, 1)


async def test_describe_pod_shows_init_and_ephemeral_containers_with_their_state(gateway: Harness) -> None:
    manifest = {
        **INIT_CRASH,
        "spec": {
            **INIT_CRASH["spec"],
            "ephemeralContainers": [{"name": "debugger", "image": "busybox:1.37", "targetContainerName": "app"}],
        },
        "status": {
            **INIT_CRASH["status"],
            "ephemeralContainerStatuses": [status_of("debugger", {"running": {"startedAt": T0}})],
        },
    }
    gateway.kube.responses["read_namespaced_pod"] = V1Pod.from_dict(manifest)

    described = await gateway.ok("describe_pod", {"pod_name": "web-1"})

    assert (described["status"], described["restarts"], described["ready"]) == ("Init:CrashLoopBackOff", 4, "0/1")
    assert described["owner"] == ["ReplicaSet/web-7d9c6b8f5"]
    [migrate] = described["init_containers"]
    assert (migrate["name"], migrate["restarts"], migrate["sidecar"]) == ("migrate", 4, False)
    assert migrate["state"] == {"state": "waiting", "reason": "CrashLoopBackOff", "message": None}
    assert migrate["last_state"] == {"state": "terminated", "reason": "Error", "exit_code": 1, "finished": T0}
    [app] = described["containers"]
    assert app["state"]["reason"] == "PodInitializing"
    [debugger] = described["ephemeral_containers"]
    assert (debugger["target"], debugger["state"]["state"]) == ("app", "running")
    assert described["conditions"] == [
        {
            "type": "Initialized",
            "status": "False",
            "reason": "ContainersNotInitialized",
            "message": "containers with incomplete status: [migrate]",
            "since": T0,
        }
    ]


@pytest.mark.parametrize(
    ("manifest", "shown"),
    [
        (INIT_CRASH, "Init:CrashLoopBackOff"),
        (pod("a", init=[status_of("migrate", terminated(2))]), "Init:ExitCode:2"),
        (pod("b", init=[status_of("migrate", terminated(137, "OOMKilled"))]), "Init:OOMKilled"),
        (
            pod("c", init=[status_of("migrate", terminated(0)), status_of("seed", waiting("PodInitializing"))]),
            "Init:1/2",
        ),
        (
            pod(
                "d",
                init=[status_of("mesh", {"running": {}}, started=True)],
                sidecars=("mesh",),
                containerStatuses=[status_of("app", waiting("ImagePullBackOff"))],
            ),
            "ImagePullBackOff",
        ),
        (pod("e", phase="Running", containerStatuses=[status_of("app", {"running": {}})]), "Running"),
        (pod("f", phase="Succeeded", containerStatuses=[status_of("app", terminated(0, "Completed"))]), "Completed"),
        (pod("g", phase="Failed", reason="Evicted"), "Evicted"),
    ],
    ids=["init crash loop", "init exit code", "init reason", "init progress", "sidecar", "running", "done", "evicted"],
)
async def test_list_pods_shows_the_status_kubectl_shows(gateway: Harness, manifest: dict[str, Any], shown: str) -> None:
    gateway.kube.responses["list_namespaced_pod"] = {"items": [manifest]}

    [row] = (await gateway.ok("list_pods"))["pods"]

    assert row["status"] == shown


# --------------------------------------------------------------------------------------------
# Paging
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("tool", LIST_TOOLS)
async def test_lists_page_through_the_api_and_hand_back_its_continue_token(gateway: Harness, tool: str) -> None:
    for method in ("list_namespaced_pod", "list_namespaced_deployment"):
        gateway.kube.responses[method] = canned_page(type(gateway.kube.responses[method]), [])

    answer = await gateway.ok(tool, {"limit": 2, "continue_token": PAGE_TOKEN})

    kwargs = gateway.kube.calls[0][1]
    assert (kwargs["limit"], kwargs["_continue"]) == (2, PAGE_TOKEN)
    assert (answer["continue"], answer["remaining"]) == (PAGE_TOKEN, 7)


async def test_the_last_page_has_no_continue_token(gateway: Harness) -> None:
    answer = await gateway.ok("list_pods", {"continue_token": PAGE_TOKEN})

    assert (answer["continue"], answer["remaining"]) == (None, None)
    assert len(answer["pods"]) == 1


# --------------------------------------------------------------------------------------------
# Per kind
# --------------------------------------------------------------------------------------------


async def test_configmaps_show_keys_and_sizes_never_values(gateway: Harness) -> None:
    described = await gateway.ok("describe_configmap", {"configmap_name": "settings"})
    [row] = (await gateway.ok("list_configmaps"))["configmaps"]

    password_line = len(f"password={SECRET_SENTINEL}\n")
    assert described["data"] == [{"key": "app.properties", "bytes": password_line}, {"key": "empty", "bytes": 0}]
    assert described["binary_data"] == [{"key": "logo.png", "bytes": 4}]
    assert (row["keys"], row["bytes"]) == (3, password_line + 4)
    assert SECRET_SENTINEL not in json.dumps([described, row])


async def test_services_show_ready_and_not_ready_endpoints(gateway: Harness) -> None:
    services = api_json(gateway.kube.responses["read_namespaced_service"])
    checkout = {**services, "metadata": {**services["metadata"], "name": "checkout"}}
    gateway.kube.responses["list_namespaced_service"] = {"items": [services, checkout]}

    rows = {row["name"]: row for row in (await gateway.ok("list_services"))["services"]}

    assert rows["web"]["endpoints"] == {"ready": 2, "not_ready": 1}
    assert rows["checkout"]["endpoints"] == {"ready": 0, "not_ready": 0}
    assert rows["web"]["ports"] == ["http:80/TCP->8080"]
    assert rows["web"]["selector"] == "app=web"
    assert gateway.kube.calls[1] == (
        "list_namespaced_endpoint_slice",
        {"namespace": "default", "label_selector": "kubernetes.io/service-name in (web,checkout)"},
    )


async def test_describe_service_lists_each_endpoint_with_its_pod(gateway: Harness) -> None:
    described = await gateway.ok("describe_service", {"service_name": "web", "namespace": "staging"})

    web = next(s for s in described["slices"] if s["name"] == "web-x1")
    assert web["ports"] == ["http:8080/TCP"]
    assert web["endpoints"] == [
        {"addresses": ["10.0.0.7"], "ready": True, "target": "Pod/web-1", "node": "node-a"},
        {"addresses": ["10.0.0.8"], "ready": False, "target": "Pod/web-2", "node": None},
        {"addresses": ["10.0.0.9"], "ready": True, "target": "Pod/web-3", "node": None},
    ]
    assert gateway.kube.calls[1] == (
        "list_namespaced_endpoint_slice",
        {"namespace": "staging", "label_selector": "kubernetes.io/service-name=web"},
    )


async def test_rollout_history_shows_the_deployments_own_replicasets_oldest_first(gateway: Harness) -> None:
    history = await gateway.ok("rollout_history", {"deployment_name": "web"})

    assert history["revision"] == 2
    assert [(r["revision"], r["replicaset"], r["current"], r["replicas"]) for r in history["revisions"]] == [
        (1, "web-5c4b3a2f1", False, 0),
        (2, "web-7d9c6b8f5", True, 2),
    ]
    assert history["revisions"][0]["images"] == ["registry.example/db:16"]
    assert gateway.kube.calls[1] == (
        "list_namespaced_replica_set",
        {"namespace": "default", "label_selector": "app=web"},
    )


@pytest.mark.parametrize(
    ("change", "state", "message"),
    [
        ({}, "complete", 'deployment "web" successfully rolled out'),
        ({"updated_replicas": 1}, "progressing", "1 out of 2 new replicas have been updated"),
        ({"replicas": 3}, "progressing", "1 old replicas are pending termination"),
        ({"available_replicas": 1}, "progressing", "1 of 2 updated replicas are available"),
        ({"observed_generation": 3}, "progressing", "waiting for the deployment spec update to be observed"),
    ],
)
async def test_rollout_status_says_what_kubectl_says(
    gateway: Harness, change: dict[str, Any], state: str, message: str
) -> None:
    deployment = gateway.kube.responses["read_namespaced_deployment"]
    for field, value in change.items():
        setattr(deployment.status, field, value)

    status = await gateway.ok("rollout_status", {"deployment_name": "web"})

    assert (status["state"], status["message"], status["revision"]) == (state, message, 2)


async def test_rollout_status_reports_a_missed_progress_deadline_as_failed(gateway: Harness) -> None:
    deployment = gateway.kube.responses["read_namespaced_deployment"]
    deployment.status.conditions[0].type = "Progressing"
    deployment.status.conditions[0].reason = "ProgressDeadlineExceeded"

    status = await gateway.ok("rollout_status", {"deployment_name": "web"})

    assert (status["state"], status["message"]) == ("failed", 'deployment "web" exceeded its progress deadline')


async def test_jobs_show_their_terminal_state_and_owner(gateway: Harness) -> None:
    [row] = (await gateway.ok("list_jobs"))["jobs"]
    described = await gateway.ok("describe_job", {"job_name": "export"})

    assert (row["state"], row["failed"], row["succeeded"], row["owner"]) == ("Failed", 3, 0, ["CronJob/nightly"])
    assert [(c["type"], c["reason"]) for c in described["conditions"]] == [
        ("FailureTarget", "BackoffLimitExceeded"),
        ("Failed", "BackoffLimitExceeded"),
    ]
    assert (described["backoff_limit"], described["selector"]) == (2, "job=export")


async def test_cronjobs_show_schedule_and_active_jobs(gateway: Harness) -> None:
    described = await gateway.ok("describe_cronjob", {"cronjob_name": "nightly"})

    assert (described["schedule"], described["active"], described["active_jobs"]) == (
        "0 3 * * *",
        1,
        ["nightly-29000000"],
    )
    assert (described["concurrency_policy"], described["last_schedule"]) == ("Forbid", T0)


async def test_hpas_show_each_metric_current_against_target(gateway: Harness) -> None:
    [row] = (await gateway.ok("list_hpas"))["hpas"]

    assert (row["target"], row["min"], row["max"], row["replicas"], row["desired"]) == ("Deployment/web", 2, 6, 3, 4)
    assert row["metrics"] == ["cpu: 91%/70%", "requests_per_second: <unknown>/100"]


async def test_ingresses_show_rules_backends_and_tls_secret_names(gateway: Harness) -> None:
    described = await gateway.ok("describe_ingress", {"ingress_name": "shop"})

    assert (described["class"], described["hosts"], described["addresses"]) == (
        "nginx",
        ["shop.example.com"],
        ["203.0.113.10"],
    )
    assert described["rules"] == [
        {"host": "shop.example.com", "paths": [{"path": "/", "type": "Prefix", "backend": "web:80"}]}
    ]
    assert described["tls"] == [{"hosts": ["shop.example.com"], "secret": "shop-tls"}]


async def test_volumes_show_claim_and_binding(gateway: Harness) -> None:
    claim = await gateway.ok("describe_pvc", {"pvc_name": "data"})
    volume = await gateway.ok("describe_pv", {"pv_name": "pv-data"})

    assert (claim["status"], claim["volume"], claim["capacity"], claim["requested"]) == (
        "Bound",
        "pv-data",
        "10Gi",
        "10Gi",
    )
    assert (volume["claim"], volume["reclaim_policy"]) == ("default/data", "Retain")
    assert volume["source"] == "csi pd.csi.storage.gke.io projects/p/disks/d"


KINDS = {
    "describe_statefulset": "StatefulSet",
    "describe_daemonset": "DaemonSet",
    "describe_replicaset": "ReplicaSet",
    "describe_job": "Job",
    "describe_cronjob": "CronJob",
    "describe_service": "Service",
    "describe_ingress": "Ingress",
    "describe_hpa": "HorizontalPodAutoscaler",
    "describe_pvc": "PersistentVolumeClaim",
    "describe_configmap": "ConfigMap",
}


@pytest.mark.parametrize(("tool", "kind"), KINDS.items())
async def test_describe_shows_the_objects_recent_events(gateway: Harness, tool: str, kind: str) -> None:
    arguments = arguments_for(tool, namespace="staging")
    [name] = [value for key, value in arguments.items() if key.endswith("_name")]

    described = await gateway.ok(tool, arguments)

    assert gateway.kube.calls[-1] == (
        "list_namespaced_event",
        {"namespace": "staging", "field_selector": f"involvedObject.kind={kind},involvedObject.name={name}"},
    )
    assert [e["reason"] for e in described["events"]] == ["BackOff"]


async def test_a_persistent_volumes_events_are_read_where_kubernetes_records_them(gateway: Harness) -> None:
    await gateway.ok("describe_pv", {"pv_name": "pv-data"})

    assert gateway.kube.calls == [
        ("read_persistent_volume", {"name": "pv-data"}),
        (
            "list_namespaced_event",
            {
                "namespace": "default",
                "field_selector": "involvedObject.kind=PersistentVolume,involvedObject.name=pv-data",
            },
        ),
    ]
