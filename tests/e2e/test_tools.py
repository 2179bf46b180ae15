"""Every tool, over stdio and streamable HTTP, against the real apiserver through the real OPA.

The answers are checked against the seeded facts (gateway.sandbox.seed), so a tool that reads
the wrong field, or a permission missing from deploy/rbac.yaml, fails here.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from gateway.sandbox import seed
from tests.support import Served, error_text

pytestmark = pytest.mark.e2e

CRASH_NAMESPACE, CRASH_POD = seed.CRASHLOOP_POD


async def call(served: Served, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """Call a tool that must succeed; prove no Secret value is in its answer."""
    async with served.client() as client:
        result = await client.call_tool(tool, arguments, raise_on_error=False)
    assert not result.is_error, result.content
    assert seed.SECRET_VALUE not in json.dumps(result.structured_content)
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
    assert len(pods) == 5
    crashing = pods[CRASH_POD]
    assert (crashing["ready"], crashing["restarts"], crashing["waiting"]) == ("0/1", 5, ["CrashLoopBackOff"])
    assert all(p["phase"] == "Running" and p["node"] == "node-1" for p in pods.values())


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
    assert web["selector"] == {"app": "web"}
    assert web["images"] == ["nginx:1.27.3"]
    assert {c["type"] for c in web["conditions"]} >= {"Available", "Progressing"}


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
