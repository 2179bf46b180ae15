"""The input document OPA receives: every field of the README's policy contract, for reads, writes and listings."""

from __future__ import annotations

import getpass
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import fastmcp
import mcp_types
import pytest
from fastmcp import Client

from tests.catalog import (
    ALL_TOOLS,
    APPROVAL_TOOLS,
    CLUSTER,
    CLUSTER_SCOPED_TOOLS,
    NODE_WRITES,
    READ_TOOLS,
    WRITE_TOOLS,
    arguments_for,
    expected_digest,
)
from tests.conftest import GatewayFactory
from tests.fakes.kube import PAGE_TOKEN
from tests.fakes.opa import OpaStub
from tests.gateways import Harness

RFC3339_UTC = "%Y-%m-%dT%H:%M:%S.%fZ"
# What FastMCP's client announces in `initialize` when not told otherwise.
DEFAULT_CLIENT = {"name": "fastmcp", "version": fastmcp.__version__}


def assert_request(request: dict[str, Any]) -> None:
    assert set(request) == {"id", "time", "transport"}
    assert uuid.UUID(request["id"]).version == 4
    sent = datetime.strptime(request["time"], RFC3339_UTC).replace(tzinfo=UTC)
    assert abs(datetime.now(UTC) - sent) < timedelta(minutes=1)
    assert request["transport"] == "stdio"


async def test_the_read_input_document_has_every_contract_field(gateway: Harness, opa_stub: OpaStub) -> None:
    await gateway.ok("get_pod_logs", {"pod_name": "web-1", "namespace": "staging"})

    [document] = opa_stub.decision_inputs
    assert_request(document.pop("request"))
    arguments = {
        "pod_name": "web-1",
        "namespace": "staging",
        "container": None,
        "tail_lines": 100,
        "since_seconds": None,
        "previous": False,
    }
    assert document == {
        "version": 1,
        "principal": {
            "sub": getpass.getuser(),
            "groups": [],
            "authenticated": False,
            "client": DEFAULT_CLIENT,
        },
        "tool": {"name": "get_pod_logs", "read_only": True, "destructive": False, "idempotent": True},
        "arguments": arguments,
        "action": {
            "verb": "get",
            "group": "",
            "resource": "pods",
            "subresource": "log",
            "namespace": "staging",
            "name": "web-1",
            "cluster_scoped": False,
            "write": False,
        },
        "gateway": {
            "mode": "readwrite",
            "dry_run": False,
            "cluster": CLUSTER,
            "clusters": [CLUSTER],
            "namespaces": None,
        },
        "action_digest": expected_digest("get_pod_logs", arguments),
        "approval": None,
    }


async def test_the_write_input_document_has_every_contract_field(
    open_gateway: GatewayFactory, opa_stub: OpaStub
) -> None:
    gateway = await open_gateway(
        opa_url=opa_stub.url,
        mode="readwrite",
        dry_run=True,
        namespaces=["staging", "default"],
        principal="alice",
        principal_groups=["sre", "oncall"],
    )

    await gateway.ok("scale_deployment", {"deployment_name": "web", "namespace": "staging", "replicas": 3})

    [document] = opa_stub.decision_inputs
    assert_request(document.pop("request"))
    arguments = {"deployment_name": "web", "namespace": "staging", "replicas": 3, "dry_run": False}
    assert document == {
        "version": 1,
        "principal": {
            "sub": "alice",
            "groups": ["sre", "oncall"],
            "authenticated": False,
            "client": DEFAULT_CLIENT,
        },
        "tool": {"name": "scale_deployment", "read_only": False, "destructive": True, "idempotent": True},
        "arguments": arguments,
        "action": {
            "verb": "patch",
            "group": "apps",
            "resource": "deployments",
            "subresource": "scale",
            "namespace": "staging",
            "name": "web",
            "cluster_scoped": False,
            "write": True,
        },
        "gateway": {
            "mode": "readwrite",
            "dry_run": True,
            "cluster": CLUSTER,
            "clusters": [CLUSTER],
            "namespaces": ["staging", "default"],
        },
        "action_digest": expected_digest("scale_deployment", arguments),
        "approval": None,
    }


async def test_the_client_name_and_version_are_the_ones_the_client_announced(
    gateway: Harness, opa_stub: OpaStub
) -> None:
    info = mcp_types.Implementation(name="claude-ai", version="0.1.0")
    async with Client(gateway.gateway.server, client_info=info) as client:
        await client.call_tool("list_pods", {}, raise_on_error=False)

    assert opa_stub.decision_inputs[-1]["principal"]["client"] == {"name": "claude-ai", "version": "0.1.0"}


def _action(
    verb: str,
    resource: str,
    *,
    group: str = "",
    subresource: str = "",
    namespace: str | None = "default",
    name: str | None = None,
    write: bool = False,
) -> dict[str, Any]:
    return {
        "verb": verb,
        "group": group,
        "resource": resource,
        "subresource": subresource,
        "namespace": namespace,
        "name": name,
        "cluster_scoped": namespace is None,
        "write": write,
    }


ACTIONS: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("list_namespaces", {}, _action("list", "namespaces", namespace=None)),
    ("list_pods", {"namespace": "staging"}, _action("list", "pods", namespace="staging")),
    ("list_pods", {}, _action("list", "pods")),
    ("get_pod_logs", {"pod_name": "web-1"}, _action("get", "pods", subresource="log", name="web-1")),
    ("describe_pod", {"pod_name": "web-1"}, _action("get", "pods", name="web-1")),
    ("list_deployments", {}, _action("list", "deployments", group="apps")),
    ("describe_deployment", {"deployment_name": "web"}, _action("get", "deployments", group="apps", name="web")),
    ("get_node_status", {}, _action("list", "nodes", namespace=None)),
    ("get_node_status", {"node_name": None}, _action("list", "nodes", namespace=None)),
    ("get_node_status", {"node_name": "node-a"}, _action("get", "nodes", namespace=None, name="node-a")),
    ("list_events", {}, _action("list", "events")),
    (
        "restart_deployment",
        {"deployment_name": "web"},
        _action("patch", "deployments", group="apps", name="web", write=True),
    ),
    (
        "scale_deployment",
        {"deployment_name": "web", "replicas": 0},
        _action("patch", "deployments", group="apps", subresource="scale", name="web", write=True),
    ),
]


@pytest.mark.parametrize(("tool", "arguments", "action"), ACTIONS)
async def test_each_tool_maps_to_its_kubernetes_action(
    gateway: Harness, opa_stub: OpaStub, tool: str, arguments: dict[str, Any], action: dict[str, Any]
) -> None:
    await gateway.ok(tool, arguments)

    [document] = opa_stub.decision_inputs
    assert document["action"] == action
    assert document["tool"]["read_only"] is not action["write"]
    assert gateway.last_call()["action"] == action


FIRST_PAGE = {"label_selector": None, "field_selector": None, "limit": 100, "continue_token": None}

NORMALISED: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("list_namespaces", {}, {}),
    ("list_pods", {}, {"namespace": "default", **FIRST_PAGE}),
    (
        "list_pods",
        {"label_selector": " app=web ", "field_selector": "status.phase=Running", "limit": "20"},
        {
            **FIRST_PAGE,
            "namespace": "default",
            "label_selector": "app=web",
            "field_selector": "status.phase=Running",
            "limit": 20,
        },
    ),
    (
        "list_jobs",
        {"namespace": "staging", "continue_token": PAGE_TOKEN},
        {**FIRST_PAGE, "namespace": "staging", "continue_token": PAGE_TOKEN},
    ),
    ("list_pvs", {}, {"label_selector": None, "limit": 100, "continue_token": None}),
    ("describe_pv", {"pv_name": "pv-data"}, {"pv_name": "pv-data"}),
    (
        "get_pod_logs",
        {"pod_name": "web-1", "tail_lines": "20"},
        {
            "pod_name": "web-1",
            "namespace": "default",
            "container": None,
            "tail_lines": 20,
            "since_seconds": None,
            "previous": False,
        },
    ),
    ("describe_pod", {"pod_name": "web-1"}, {"pod_name": "web-1", "namespace": "default"}),
    ("list_deployments", {}, {"namespace": "default", **FIRST_PAGE}),
    ("describe_deployment", {"deployment_name": "web"}, {"deployment_name": "web", "namespace": "default"}),
    ("get_node_status", {}, {"node_name": None}),
    ("list_events", {}, {"namespace": "default", "type": None, "field_selector": None, "limit": 50}),
    (
        "restart_deployment",
        {"deployment_name": "web"},
        {"deployment_name": "web", "namespace": "default", "dry_run": False},
    ),
    (
        "scale_deployment",
        {"deployment_name": "web", "replicas": 1},
        {"deployment_name": "web", "replicas": 1, "namespace": "default", "dry_run": False},
    ),
]


@pytest.mark.parametrize(("tool", "given", "normalised"), NORMALISED)
async def test_arguments_arrive_normalised_with_defaults_filled_in(
    gateway: Harness, opa_stub: OpaStub, tool: str, given: dict[str, Any], normalised: dict[str, Any]
) -> None:
    await gateway.ok(tool, given)

    [document] = opa_stub.decision_inputs
    assert document["arguments"] == normalised
    assert document["action_digest"] == expected_digest(tool, normalised)


async def test_the_action_digest_ignores_key_order_and_binds_every_argument(
    gateway: Harness, opa_stub: OpaStub
) -> None:
    await gateway.ok("scale_deployment", {"deployment_name": "web", "namespace": "staging", "replicas": 3})
    await gateway.ok("scale_deployment", {"replicas": 3, "namespace": "staging", "deployment_name": "web"})
    await gateway.ok("scale_deployment", {"replicas": 4, "namespace": "staging", "deployment_name": "web"})
    await gateway.ok("scale_deployment", {"replicas": 3, "namespace": "default", "deployment_name": "web"})

    digests = [document["action_digest"] for document in opa_stub.decision_inputs]
    assert digests[0] == digests[1]
    assert len(set(digests)) == 3


async def test_the_action_digest_binds_the_cluster(open_gateway: GatewayFactory, opa_stub: OpaStub) -> None:
    gateway = await open_gateway(opa_url=opa_stub.url)
    gateway.kube.cluster = "other-cluster"
    other = await open_gateway(opa_url=opa_stub.url, kube=gateway.kube, mode="readwrite")

    await other.ok("restart_deployment", {"deployment_name": "web"})

    arguments = {"deployment_name": "web", "namespace": "default", "dry_run": False}
    [document] = opa_stub.decision_inputs
    assert document["gateway"]["cluster"] == "other-cluster"
    assert document["action_digest"] == expected_digest("restart_deployment", arguments, cluster="other-cluster")
    assert document["action_digest"] != expected_digest("restart_deployment", arguments)


async def test_each_call_has_its_own_request_id(gateway: Harness, opa_stub: OpaStub) -> None:
    for _ in range(3):
        await gateway.ok("list_pods")

    ids = [document["request"]["id"] for document in opa_stub.decision_inputs]
    assert len(set(ids)) == 3
    assert [record["request_id"] for record in gateway.tool_calls()] == ids


async def test_the_listing_input_describes_the_whole_catalog(open_gateway: GatewayFactory, opa_stub: OpaStub) -> None:
    gateway = await open_gateway(opa_url=opa_stub.url, principal="bob", principal_groups=["dev"])

    assert await gateway.tool_names() == set(ALL_TOOLS)

    [document] = opa_stub.listing_inputs
    assert_request(document.pop("request"))
    catalog = document.pop("catalog")
    assert document == {
        "version": 1,
        "principal": {
            "sub": "bob",
            "groups": ["dev"],
            "authenticated": False,
            "client": DEFAULT_CLIENT,
        },
        "gateway": {
            "mode": "readonly",
            "dry_run": False,
            "cluster": CLUSTER,
            "clusters": [CLUSTER],
            "namespaces": None,
        },
    }
    assert [entry["tool"]["name"] for entry in catalog] == list(ALL_TOOLS)
    for entry in catalog:
        action = entry["action"]
        assert set(entry) == {"tool", "action"}
        assert (action["namespace"], action["name"]) == (None, None)
        assert action["write"] is (entry["tool"]["name"] in WRITE_TOOLS)
        assert entry["tool"]["read_only"] is not action["write"]
        cluster_scoped = {*CLUSTER_SCOPED_TOOLS, *NODE_WRITES, *APPROVAL_TOOLS}
        assert action["cluster_scoped"] is (entry["tool"]["name"] in cluster_scoped)
        assert action["verb"] in ({"patch", "delete"} if action["write"] else {"get", "list"})


@pytest.mark.parametrize(
    "visible", [[], ["list_pods"], list(READ_TOOLS), [*ALL_TOOLS, "not_a_tool"]], ids=["none", "one", "reads", "extra"]
)
async def test_tools_list_shows_exactly_the_tools_the_policy_names(
    gateway: Harness, opa_stub: OpaStub, visible: list[str]
) -> None:
    opa_stub.show(visible)

    assert await gateway.tool_names() == set(visible) & set(ALL_TOOLS)


async def test_a_hidden_tool_is_still_decided_by_the_policy_when_called(gateway: Harness, opa_stub: OpaStub) -> None:
    opa_stub.show([])

    await gateway.ok("list_pods")

    assert opa_stub.decision_route.call_count == 1
    assert gateway.kube.methods == ["list_namespaced_pod"]


async def test_tool_annotations_match_the_catalog(gateway: Harness) -> None:
    tools = {tool.name: tool for tool in await gateway.client.list_tools()}

    for name, tool in tools.items():
        hints = tool.annotations
        assert hints is not None
        assert hints.read_only_hint is (name in READ_TOOLS)
        # cordon and uncordon only mark a node; the other writes replace or remove pods
        assert hints.destructive_hint is (name in WRITE_TOOLS and name not in NODE_WRITES)
        assert hints.idempotent_hint is (name not in {"restart_deployment", "rollout_undo", "delete_pod"})
        assert hints.open_world_hint is False


@pytest.mark.parametrize("tool", WRITE_TOOLS)
async def test_the_agents_dry_run_choice_is_part_of_the_digested_arguments(
    gateway: Harness, opa_stub: OpaStub, tool: str
) -> None:
    """The dry_run argument the agent gives is part of the arguments, hence of the digest."""
    await gateway.ok(tool, arguments_for(tool, dry_run=True))

    [document] = opa_stub.decision_inputs
    assert document["arguments"]["dry_run"] is True
    assert document["action_digest"] == expected_digest(tool, document["arguments"])
