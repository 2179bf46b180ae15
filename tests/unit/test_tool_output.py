"""What the tools show the agent: small JSON an SRE reads first, and never a Secret's value."""

from __future__ import annotations

import json

import pytest

from tests.catalog import KUBE_READ_TOOLS, arguments_for
from tests.fakes.kube import SECRET_SENTINEL
from tests.gateways import Harness


@pytest.mark.parametrize("tool", KUBE_READ_TOOLS)
async def test_no_secret_value_reaches_the_agent(gateway: Harness, tool: str) -> None:
    """The canned objects carry the sentinel in last-applied annotations and a ConfigMap value."""
    result = await gateway.call(tool, arguments_for(tool))

    assert not result.is_error
    shown = json.dumps(result.structured_content) + "".join(getattr(c, "text", "") for c in result.content)
    assert SECRET_SENTINEL not in shown


@pytest.mark.parametrize(
    ("tool", "arguments"),
    [("describe_pod", {"pod_name": "web-1"}), ("describe_deployment", {"deployment_name": "web"})],
)
async def test_environment_from_a_secret_is_shown_as_a_reference(
    gateway: Harness, tool: str, arguments: dict[str, str]
) -> None:
    described = await gateway.ok(tool, arguments)

    [app] = described["containers"]
    assert app["env"] == [
        {"name": "MODE", "value": "production"},
        {"name": "DB_PASSWORD", "from": "secret db-creds key password"},
    ]
    assert app["env_from"] == ["secret api-keys"]


async def test_describe_pod_shows_state_restarts_and_events(gateway: Harness) -> None:
    described = await gateway.ok("describe_pod", {"pod_name": "web-1", "namespace": "staging"})

    assert (described["name"], described["namespace"], described["phase"]) == ("web-1", "staging", "Running")
    assert (described["ready"], described["restarts"], described["node"]) == ("1/1", 3, "node-a")
    [app] = described["containers"]
    assert app["state"] == {"state": "running", "since": "2026-01-02T03:04:05Z"}
    assert app["last_state"]["reason"] == "CrashLoopBackOff"
    assert described["events"] == [
        {
            "time": "2026-01-02T03:04:05Z",
            "type": "Warning",
            "reason": "BackOff",
            "object": "Pod/web-1",
            "message": "Back-off restarting failed container",
            "count": 4,
        }
    ]
    events_call = gateway.kube.calls[1]
    assert events_call == (
        "list_namespaced_event",
        {"namespace": "staging", "field_selector": "involvedObject.kind=Pod,involvedObject.name=web-1"},
    )


async def test_node_status_lists_problem_conditions(gateway: Harness) -> None:
    status = await gateway.ok("get_node_status", {"node_name": "node-a"})

    [node] = status["nodes"]
    assert (node["name"], node["ready"], node["schedulable"]) == ("node-a", "True", True)
    assert node["problems"] == [{"type": "MemoryPressure", "reason": "KubeletHasInsufficientMemory", "message": None}]
    assert gateway.kube.calls == [("read_node", {"name": "node-a"})]


async def test_list_events_filters_by_type_on_the_server(gateway: Harness) -> None:
    await gateway.ok("list_events", {"type": "Warning", "field_selector": "involvedObject.kind=Pod"})

    assert gateway.kube.calls == [
        ("list_namespaced_event", {"namespace": "default", "field_selector": "involvedObject.kind=Pod,type=Warning"})
    ]


async def test_scale_reports_the_replicas_the_api_server_returned(gateway: Harness) -> None:
    result = await gateway.ok("scale_deployment", {"deployment_name": "web", "replicas": 5, "namespace": "staging"})

    assert result == {"deployment": "web", "namespace": "staging", "replicas": 2, "dry_run": False}
