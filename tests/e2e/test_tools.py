"""Every tool, over stdio and streamable HTTP, against the real apiserver through the real OPA.

The answers are checked against the seeded facts (k8s_mcp_sandbox.seed), so a tool that reads
the wrong field, or a permission missing from deploy/rbac.yaml, fails here.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from k8s_mcp_sandbox import application, seed
from tests.gateways import Served, error_text

pytestmark = pytest.mark.e2e

CRASH_NAMESPACE, CRASH_POD = seed.CRASHLOOP_POD


async def call(served: Served, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """Call a tool that must succeed; prove no Secret value, nor any ConfigMap value, is in its answer."""
    async with served.client() as client:
        result = await client.call_tool(tool, arguments, raise_on_error=False)
    assert not result.is_error, result.content
    shown = json.dumps(result.structured_content)
    assert seed.SECRET_VALUE not in shown
    assert application.CONFIGMAP_VALUE not in shown
    assert isinstance(result.structured_content, dict)
    return result.structured_content


async def refuse(served: Served, tool: str, arguments: dict[str, Any]) -> str:
    async with served.client() as client:
        return error_text(await client.call_tool(tool, arguments, raise_on_error=False))


async def test_list_namespaces(served: Served) -> None:
    answer = await call(served, "list_namespaces", {})
    names = {ns["name"] for ns in answer["namespaces"]}
    assert set(seed.NAMESPACES) <= names
    assert {ns["phase"] for ns in answer["namespaces"]} == {"Active"}


async def test_list_pods_shows_readiness_restarts_and_the_crash_loop(served: Served) -> None:
    pods = {p["name"]: p for p in (await call(served, "list_pods", {"namespace": "staging"}))["pods"]}
    assert len(pods) == 6
    crashing = pods[CRASH_POD]
    assert (crashing["ready"], crashing["restarts"], crashing["waiting"]) == ("0/1", 5, ["CrashLoopBackOff"])
    assert crashing["status"] == "CrashLoopBackOff"
    assert pods[seed.INIT_CRASH_POD]["status"] == "Init:CrashLoopBackOff"
    assert all(p["node"] == "node-1" for p in pods.values())


async def test_list_pods_with_selectors(served: Served) -> None:
    by_label = await call(served, "list_pods", {"namespace": "staging", "label_selector": "app=web"})
    assert {p["name"].split("-")[0] for p in by_label["pods"]} == {"web"}
    assert len(by_label["pods"]) == 3
    by_field = await call(served, "list_pods", {"namespace": "staging", "field_selector": f"metadata.name={CRASH_POD}"})
    assert [p["name"] for p in by_field["pods"]] == [CRASH_POD]


async def test_get_pod_logs_through_the_apiserver(served: Served) -> None:
    current = await call(served, "get_pod_logs", {"pod_name": CRASH_POD, "namespace": CRASH_NAMESPACE, "tail_lines": 2})
    assert current["lines"] == 2
    previous = await call(
        served, "get_pod_logs", {"pod_name": CRASH_POD, "namespace": CRASH_NAMESPACE, "previous": True}
    )
    assert previous["previous"] is True
    assert previous["log"] != current["log"]
    assert previous["lines"] >= 2


async def test_describe_pod_shows_secrets_only_as_references(served: Served) -> None:
    pod = await call(served, "describe_pod", {"pod_name": CRASH_POD, "namespace": CRASH_NAMESPACE})
    (container,) = pod["containers"]
    assert container["restarts"] == 5
    assert container["state"]["reason"] == "CrashLoopBackOff"
    assert container["last_state"]["exit_code"] == 1
    env = {var["name"]: var for var in container["env"]}
    assert env["DATABASE_PASSWORD"] == {
        "name": "DATABASE_PASSWORD",
        "from": f"secret {seed.SECRET_NAME} key {seed.SECRET_KEY}",
    }
    assert "BackOff" in {event["reason"] for event in pod["events"]}


async def test_list_and_describe_deployments(served: Served) -> None:
    listed = {d["name"]: d for d in (await call(served, "list_deployments", {"namespace": "staging"}))["deployments"]}
    assert (listed["web"]["replicas"], listed["web"]["ready"]) == (3, 3)
    assert (listed["api"]["replicas"], listed["api"]["ready"]) == (2, 1)
    web = await call(served, "describe_deployment", {"deployment_name": "web", "namespace": "staging"})
    assert web["selector"] == "app=web"
    assert web["images"] == ["nginx:1.27.3"]
    assert {c["type"] for c in web["conditions"]} >= {"Available", "Progressing"}
    [template] = web["containers"]
    assert not {"ready", "restarts", "state", "last_state"} & set(template)
    assert (template["ports"], template["requests"]) == (["80/TCP"], {"cpu": "100m", "memory": "128Mi"})


async def test_get_node_status_finds_the_not_ready_cordoned_node(served: Served) -> None:
    nodes = {n["name"]: n for n in (await call(served, "get_node_status", {}))["nodes"]}
    assert (nodes["node-1"]["ready"], nodes["node-1"]["schedulable"]) == ("True", True)
    assert (nodes["node-2"]["ready"], nodes["node-2"]["schedulable"]) == ("False", False)
    (one,) = (await call(served, "get_node_status", {"node_name": "node-2"}))["nodes"]
    assert one["kubelet_version"] == seed.KUBELET_VERSION
    assert any(problem["type"] == "Ready" for problem in one["problems"])


async def test_list_events_newest_first_and_warnings_only(served: Served) -> None:
    events = (await call(served, "list_events", {"namespace": "staging"}))["events"]
    times = [e["time"] for e in events]
    assert times == sorted(times, reverse=True)
    warnings = (await call(served, "list_events", {"namespace": "staging", "type": "Warning"}))["events"]
    assert warnings
    assert {e["type"] for e in warnings} == {"Warning"}
    assert any(e["reason"] == "BackOff" and e["object"] == f"Pod/{CRASH_POD}" for e in warnings)


async def test_a_missing_object_is_a_clear_not_found(served: Served) -> None:
    message = await refuse(served, "describe_pod", {"pod_name": "no-such-pod", "namespace": "staging"})
    assert "not found (404)" in message
    assert "no-such-pod" in message
    assert served.last_record()["outcome"] == "error"


async def test_lists_page_through_the_apiserver(served: Served) -> None:
    seen: list[str] = []
    token = None
    for _ in range(10):
        page = await call(served, "list_pods", {"namespace": "staging", "limit": 4, "continue_token": token})
        seen += [p["name"] for p in page["pods"]]
        token = page["continue"]
        if token is None:
            break
    assert len(seen) == 6
    assert len(set(seen)) == 6
    first = await call(served, "list_pods", {"namespace": "staging", "limit": 4})
    assert (len(first["pods"]), first["remaining"]) == (4, 2)


async def test_a_continue_token_cannot_leave_its_namespace(served: Served) -> None:
    """The apiserver resolves a token's start key under the listed namespace and refuses `..`."""
    forged = {"v": "meta.k8s.io/v1", "rv": 1, "start": "../prod/"}
    token = base64.urlsafe_b64encode(json.dumps(forged).encode()).decode().rstrip("=")
    message = await refuse(served, "list_pods", {"namespace": "staging", "continue_token": token})
    assert "(400)" in message
    assert "web-5f6d7c8b9" not in message


async def test_statefulsets(served: Served) -> None:
    [postgres] = (await call(served, "list_statefulsets", {"namespace": "staging"}))["statefulsets"]
    assert (postgres["name"], postgres["replicas"], postgres["ready"]) == ("postgres", 1, 1)
    described = await call(served, "describe_statefulset", {"statefulset_name": "postgres", "namespace": "staging"})
    assert described["volume_claims"] == [
        {
            "name": "data",
            "requested": "10Gi",
            "access_modes": ["ReadWriteOnce"],
            "storage_class": "standard",
            "volume_mode": "Filesystem",
        }
    ]
    [container] = described["containers"]
    assert container["probes"]["readiness"].startswith("exec delay=0s")
    assert "pg_isready" not in json.dumps(described)
    assert described["current_revision"] == "postgres-6d5c8b7f9"


async def test_daemonsets(served: Served) -> None:
    [shipper] = (await call(served, "list_daemonsets", {"namespace": "staging"}))["daemonsets"]
    assert (shipper["desired"], shipper["ready"], shipper["available"]) == (2, 1, 1)
    described = await call(served, "describe_daemonset", {"daemonset_name": "log-shipper", "namespace": "staging"})
    assert (described["update_strategy"], described["max_unavailable"]) == ("RollingUpdate", "1")
    assert described["tolerations"] == ["node.kubernetes.io/not-ready:NoSchedule"]


async def test_replicasets(served: Served) -> None:
    rows = (await call(served, "list_replicasets", {"namespace": "staging", "label_selector": "app=checkout"}))[
        "replicasets"
    ]
    assert sorted((r["revision"], r["name"], r["replicas"]) for r in rows) == [
        (1, seed.PREVIOUS_REPLICASET, 0),
        (2, seed.BROKEN_REPLICASET, 1),
    ]
    assert {tuple(r["owner"]) for r in rows} == {("Deployment/checkout",)}
    described = await call(served, "describe_replicaset", {"replicaset_name": "web-7d9c6b8f5", "namespace": "staging"})
    assert (described["replicas"], described["ready"], described["selector"]) == (
        3,
        3,
        "app=web,pod-template-hash=7d9c6b8f5",
    )


async def test_jobs(served: Served) -> None:
    jobs = {j["name"]: j for j in (await call(served, "list_jobs", {"namespace": "staging"}))["jobs"]}
    finished, failed = jobs[application.FINISHED_JOB], jobs[application.FAILED_JOB]
    assert (finished["state"], finished["succeeded"], finished["owner"]) == ("Complete", 1, ["CronJob/db-backup"])
    assert finished["finished"] is not None
    assert (failed["state"], failed["failed"], failed["finished"]) == ("Failed", 3, None)
    described = await call(served, "describe_job", {"job_name": application.FAILED_JOB, "namespace": "staging"})
    assert [(c["type"], c["reason"]) for c in described["conditions"]] == [
        ("FailureTarget", "BackoffLimitExceeded"),
        ("Failed", "BackoffLimitExceeded"),
    ]
    assert [e["reason"] for e in described["events"]] == ["BackoffLimitExceeded"]
    assert described["selector"].startswith("batch.kubernetes.io/controller-uid=")


async def test_cronjobs(served: Served) -> None:
    [backup] = (await call(served, "list_cronjobs", {"namespace": "staging"}))["cronjobs"]
    assert (backup["name"], backup["schedule"], backup["time_zone"]) == ("db-backup", "30 2 * * *", "Etc/UTC")
    assert backup["last_success"] > backup["last_schedule"]
    described = await call(served, "describe_cronjob", {"cronjob_name": "db-backup", "namespace": "staging"})
    assert described["concurrency_policy"] == "Forbid"
    assert [c["name"] for c in described["containers"]] == ["backup"]
    assert [e["reason"] for e in described["events"]] == ["SuccessfulCreate"]


async def test_services_with_and_without_endpoints(served: Served) -> None:
    services = {s["name"]: s for s in (await call(served, "list_services", {"namespace": "staging"}))["services"]}
    assert services["web"]["endpoints"] == {"ready": 3, "not_ready": 0}
    assert services["api"]["endpoints"] == {"ready": 1, "not_ready": 1}
    assert services["checkout"]["endpoints"] == {"ready": 0, "not_ready": 0}
    assert services["checkout"]["ports"] == ["http:80/TCP->8080"]
    api = await call(served, "describe_service", {"service_name": "api", "namespace": "staging"})
    [api_slice] = api["slices"]
    assert api_slice["name"] == application.API_ENDPOINT_SLICE
    assert {e["target"]: e["ready"] for e in api_slice["endpoints"]} == {
        "Pod/api-6c8b9d7f4-h2v5n": True,
        f"Pod/{CRASH_POD}": False,
    }


async def test_ingresses(served: Served) -> None:
    [shop] = (await call(served, "list_ingresses", {"namespace": "staging"}))["ingresses"]
    assert (shop["class"], shop["hosts"], shop["addresses"], shop["tls"]) == (
        "nginx",
        ["shop.staging.example.com"],
        ["203.0.113.10"],
        True,
    )
    described = await call(served, "describe_ingress", {"ingress_name": "shop", "namespace": "staging"})
    [rule] = described["rules"]
    assert [(p["path"], p["backend"]) for p in rule["paths"]] == [
        ("/", "web:80"),
        ("/api", "api:8080"),
        ("/checkout", "checkout:80"),
    ]
    assert described["tls"] == [{"hosts": ["shop.staging.example.com"], "secret": "shop-staging-tls"}]


async def test_hpas(served: Served) -> None:
    [web] = (await call(served, "list_hpas", {"namespace": "staging"}))["hpas"]
    assert (web["target"], web["min"], web["max"], web["replicas"]) == ("Deployment/web", 2, 6, 3)
    assert web["metrics"] == ["cpu: 41%/70%"]
    described = await call(served, "describe_hpa", {"hpa_name": "web", "namespace": "staging"})
    assert {c["type"]: c["status"] for c in described["conditions"]} == {
        "AbleToScale": "True",
        "ScalingActive": "True",
        "ScalingLimited": "False",
    }


async def test_pvcs(served: Served) -> None:
    [claim] = (await call(served, "list_pvcs", {"namespace": "staging"}))["pvcs"]
    assert (claim["name"], claim["status"], claim["volume"], claim["capacity"]) == (
        application.PVC_NAME,
        "Bound",
        application.PV_NAME,
        "10Gi",
    )
    described = await call(served, "describe_pvc", {"pvc_name": application.PVC_NAME, "namespace": "staging"})
    assert (described["storage_class"], described["labels"]) == ("standard", {"app": "postgres"})


async def test_pvs_where_the_policy_lists_them(volume_reader: Served) -> None:
    [volume] = (await call(volume_reader, "list_pvs", {}))["pvs"]
    assert (volume["name"], volume["claim"], volume["status"]) == (
        application.PV_NAME,
        f"staging/{application.PVC_NAME}",
        "Bound",
    )
    described = await call(volume_reader, "describe_pv", {"pv_name": application.PV_NAME})
    assert described["source"] == "hostPath /var/lib/sandbox/volumes/staging-postgres-data"
    assert volume_reader.last_record()["action"]["resource"] == "persistentvolumes"


async def test_configmaps_show_keys_and_sizes_never_values(served: Served) -> None:
    [config] = (await call(served, "list_configmaps", {"namespace": "staging"}))["configmaps"]
    described = await call(served, "describe_configmap", {"configmap_name": "web-config", "namespace": "staging"})
    payments = f"PAYMENTS_API_URL=https://payments.example.com\nPAYMENTS_API_TOKEN={application.CONFIGMAP_VALUE}\n"
    assert described["data"] == [
        {"key": "nginx.conf", "bytes": len(application.NGINX_CONF)},
        {"key": "payments.env", "bytes": len(payments)},
    ]
    assert described["binary_data"] == [{"key": "favicon.ico", "bytes": 64}]
    assert (config["keys"], config["bytes"]) == (3, len(application.NGINX_CONF) + len(payments) + 64)


@pytest.mark.parametrize(
    ("deployment", "state", "message"),
    [
        ("web", "complete", 'deployment "web" successfully rolled out'),
        ("api", "progressing", "1 of 2 updated replicas are available"),
        ("checkout", "failed", 'deployment "checkout" exceeded its progress deadline'),
    ],
)
async def test_rollout_status(served: Served, deployment: str, state: str, message: str) -> None:
    status = await call(served, "rollout_status", {"deployment_name": deployment, "namespace": "staging"})
    assert (status["state"], status["message"]) == (state, message)


async def test_rollout_history(served: Served) -> None:
    history = await call(served, "rollout_history", {"deployment_name": "checkout", "namespace": "staging"})
    assert history["revision"] == 2
    assert [(r["revision"], r["replicaset"], r["current"], r["images"]) for r in history["revisions"]] == [
        (1, seed.PREVIOUS_REPLICASET, False, ["ghcr.io/example/checkout:1.4.2"]),
        (2, seed.BROKEN_REPLICASET, True, ["ghcr.io/example/checkout:1.5.0"]),
    ]
