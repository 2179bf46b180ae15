"""Bad arguments are refused before the policy and before Kubernetes, naming the field and the rule."""

from __future__ import annotations

from typing import Any

import pytest

from tests.catalog import (
    ALL_TOOLS,
    LIST_TOOLS,
    NAME_ARGUMENT,
    NAMESPACED_TOOLS,
    READ_TOOLS,
    VALID_ARGUMENTS,
    arguments_for,
)
from tests.fakes.opa import OpaStub
from tests.gateways import Harness

LABEL_RULE = "must be a DNS-1123 label"
SUBDOMAIN_RULE = "must be a DNS-1123 subdomain"
NOT_A_STRING = "Input should be a valid string"
NOT_AN_ARGUMENT = "is not an argument of this tool"
CONTINUE_RULE = "must be the `continue` value of a previous page, unchanged"
BAD_APPROVAL_IDS = ["apr-1", "a" * 31, "a" * 33, "-" + "a" * 31, "../" + "a" * 29, "a" * 31 + "\n", "a" * 31 + "=", ""]
APPROVAL_ID_RULE = "must be an approval id: 32 letters, digits, '-' or '_', not starting with '-'"

BAD_NAMESPACES: list[tuple[Any, str]] = [
    ("Prod", LABEL_RULE),
    ("prod ", LABEL_RULE),
    (" prod", LABEL_RULE),
    ("prod\u0000", LABEL_RULE),
    ("prod\n", LABEL_RULE),
    ("../prod", LABEL_RULE),
    ("prod/x", LABEL_RULE),
    ("*", LABEL_RULE),
    ("", LABEL_RULE),
    ("-prod", LABEL_RULE),
    ("prod.staging", LABEL_RULE),
    ("a" * 64, "at most 63 characters"),
    (None, NOT_A_STRING),
    (5, NOT_A_STRING),
    (["prod"], NOT_A_STRING),
]

BAD_NAMES: list[tuple[Any, str]] = [
    ("secret/x", SUBDOMAIN_RULE),
    ("-bad", SUBDOMAIN_RULE),
    ("bad-", SUBDOMAIN_RULE),
    ("Web", SUBDOMAIN_RULE),
    ("web 1", SUBDOMAIN_RULE),
    ("..", SUBDOMAIN_RULE),
    ("", SUBDOMAIN_RULE),
    ("a" * 254, "at most 253 characters"),
    (7, NOT_A_STRING),
]

# (tool, argument, value, what the message must say)
OTHER_BAD_ARGUMENTS: list[tuple[str, str, Any, str]] = [
    ("get_pod_logs", "tail_lines", 0, "greater than or equal to 1"),
    ("get_pod_logs", "tail_lines", -5, "greater than or equal to 1"),
    ("get_pod_logs", "tail_lines", 10_001, "less than or equal to 10000"),
    ("get_pod_logs", "tail_lines", "abc", "valid integer"),
    ("get_pod_logs", "tail_lines", 1.5, "valid integer"),
    ("get_pod_logs", "since_seconds", 0, "greater than or equal to 1"),
    ("get_pod_logs", "since_seconds", 7 * 24 * 3600 + 1, "less than or equal to 604800"),
    ("get_pod_logs", "container", "Main", LABEL_RULE),
    ("get_pod_logs", "container", "app;rm", LABEL_RULE),
    ("get_pod_logs", "previous", "maybe", "valid boolean"),
    ("list_pods", "label_selector", "app=web;rm -rf /", "must be a label selector"),
    ("list_pods", "label_selector", "app=web && true", "must be a label selector"),
    ("list_pods", "label_selector", "$(id)", "must be a label selector"),
    ("list_pods", "label_selector", "", "must be a label selector"),
    ("list_pods", "label_selector", "a" * 1025, "at most 1024 characters"),
    ("list_pods", "field_selector", "status.phase=Running;rm -rf /", "must be a field selector"),
    ("list_pods", "field_selector", "status.phase", "must be a field selector"),
    ("list_pods", "field_selector", "spec.nodeName=node a", "must be a field selector"),
    ("list_events", "field_selector", "type=Warning|x", "must be a field selector"),
    ("list_events", "type", "Error", "'Normal' or 'Warning'"),
    ("list_events", "limit", 0, "greater than or equal to 1"),
    ("list_events", "limit", 501, "less than or equal to 500"),
    ("scale_deployment", "replicas", -1, "greater than or equal to 0"),
    ("scale_deployment", "replicas", 101, "less than or equal to 100"),
    ("scale_deployment", "replicas", "many", "valid integer"),
    ("scale_deployment", "dry_run", "sometimes", "valid boolean"),
    ("restart_deployment", "dry_run", [], "valid boolean"),
    *[(tool, "limit", 0, "greater than or equal to 1") for tool in LIST_TOOLS],
    *[(tool, "limit", 501, "less than or equal to 500") for tool in LIST_TOOLS],
    ("list_pvs", "limit", "many", "valid integer"),
    ("list_jobs", "continue_token", "", CONTINUE_RULE),
    ("list_jobs", "continue_token", "eyJ2Ijoi fQ", CONTINUE_RULE),
    ("list_services", "continue_token", "../../prod/x", CONTINUE_RULE),
    ("list_pvs", "continue_token", "eyJ2IjoibWV0YS5rOHMuaW8vdjEifQ\n", CONTINUE_RULE),
    ("list_configmaps", "continue_token", "a" * 4097, "at most 4096 characters"),
    ("list_pods", "continue_token", 42, NOT_A_STRING),
    ("list_replicasets", "label_selector", "app=web;rm -rf /", "must be a label selector"),
    ("list_pvs", "label_selector", "$(id)", "must be a label selector"),
    ("list_hpas", "field_selector", "metadata.name", "must be a field selector"),
    # the two arguments every write takes besides its own, and get_approval's id
    *[
        (tool, "approval_id", value, APPROVAL_ID_RULE)
        for tool in ("get_approval", "scale_deployment", "restart_deployment")
        for value in BAD_APPROVAL_IDS
    ],
    ("get_approval", "approval_id", None, NOT_A_STRING),
    ("scale_deployment", "approval_id", 7, NOT_A_STRING),
    ("scale_deployment", "approval_id", ["a" * 32], NOT_A_STRING),
    ("scale_deployment", "wait_seconds", -1, "greater than or equal to 0"),
    ("restart_deployment", "wait_seconds", 301, "less than or equal to 300"),
    ("restart_deployment", "wait_seconds", "a while", "valid integer"),
]

SMUGGLED = ["token", "server", "kubeconfig", "context", "as", "as_group", "namespace_override", "insecure"]


def _cases() -> list[Any]:
    cases = [
        pytest.param(tool, arguments_for(tool, namespace=value), "namespace", rule, id=f"{tool}-namespace={value!r}")
        for tool in NAMESPACED_TOOLS
        for value, rule in BAD_NAMESPACES
    ]
    cases += [
        pytest.param(tool, arguments_for(tool, **{field: value}), field, rule, id=f"{tool}-{field}={value!r:.20}")
        for tool, field in NAME_ARGUMENT.items()
        for value, rule in BAD_NAMES
    ]
    cases += [
        pytest.param(tool, arguments_for(tool, **{field: value}), field, rule, id=f"{tool}-{field}={value!r:.20}")
        for tool, field, value, rule in OTHER_BAD_ARGUMENTS
    ]
    cases += [
        pytest.param(tool, arguments_for(tool, **{extra: "x"}), extra, NOT_AN_ARGUMENT, id=f"{tool}-{extra}")
        for tool in ALL_TOOLS
        for extra in SMUGGLED[:3]
    ]
    cases += [
        pytest.param("list_pods", {extra: "x"}, extra, NOT_AN_ARGUMENT, id=f"list_pods-{extra}") for extra in SMUGGLED
    ]
    cases += [
        pytest.param(tool, arguments_for(tool, **{extra: value}), extra, NOT_AN_ARGUMENT, id=f"{tool}-{extra}")
        for tool in READ_TOOLS
        for extra, value in (("approval_id", "a" * 32), ("wait_seconds", 5))
        if extra not in VALID_ARGUMENTS[tool]
    ]
    cases += [
        pytest.param(tool, {}, field, "is required", id=f"{tool}-missing-{field}")
        for tool, field in NAME_ARGUMENT.items()
        if tool != "get_node_status"
    ]
    return cases


@pytest.mark.parametrize(("tool", "arguments", "field", "rule"), _cases())
async def test_a_bad_argument_is_refused_before_policy_and_kube(
    gateway: Harness, opa_stub: OpaStub, tool: str, arguments: dict[str, Any], field: str, rule: str
) -> None:
    message = await gateway.error(tool, arguments)

    assert message.startswith("invalid arguments: ")
    assert f"{field}: " in message
    assert rule in message
    assert opa_stub.decision_route.call_count == 0
    assert gateway.kube.calls == []
    [record] = gateway.tool_calls()
    assert (record["outcome"], record["tool"], record["allow"]) == ("invalid", tool, False)
    assert record["arguments"] == arguments
    assert record["action"] is None
    assert record["decision_id"] is None
    assert record["error"] == message


async def test_every_problem_is_named_at_once(gateway: Harness, opa_stub: OpaStub) -> None:
    message = await gateway.error(
        "get_pod_logs", {"pod_name": "Bad/Pod", "namespace": "Prod", "tail_lines": 0, "token": "x"}
    )

    for field in ("pod_name: ", "namespace: ", "tail_lines: ", "token: "):
        assert field in message
    assert opa_stub.decision_route.call_count == 0
    assert gateway.kube.calls == []


@pytest.mark.parametrize("name", ["delete_namespace", "exec_pod", "", "list_pods ", "LIST_PODS", "../list_pods"])
async def test_an_unknown_tool_is_refused_and_audited(gateway: Harness, opa_stub: OpaStub, name: str) -> None:
    message = await gateway.error(name, {"namespace": "default"})

    assert message == f"unknown tool {name!r}"
    assert opa_stub.decision_route.call_count == 0
    assert gateway.kube.calls == []
    [record] = gateway.tool_calls()
    assert (record["outcome"], record["tool"], record["arguments"]) == ("invalid", name, {"namespace": "default"})


@pytest.mark.parametrize(
    ("tool", "arguments"),
    [
        ("list_pods", {"namespace": "a" * 63}),
        ("list_pods", {"namespace": "0"}),
        ("list_pods", {"label_selector": "app in (web, api),!canary,tier!=db"}),
        ("list_pods", {"label_selector": "app.kubernetes.io/name=web"}),
        ("list_pods", {"field_selector": "status.phase!=Running,spec.nodeName=node-a"}),
        ("get_pod_logs", {"pod_name": "web-1.abc", "tail_lines": 10_000, "since_seconds": 604_800}),
        ("get_node_status", {"node_name": "ip-10-0-0-1.ec2.internal"}),
        ("list_events", {"type": "Warning", "limit": 500}),
        ("list_pods", {"limit": 1, "continue_token": "eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6NDJ9"}),
        ("list_pvs", {"limit": 500, "label_selector": "type=local"}),
        ("list_services", {"namespace": "staging", "field_selector": "metadata.name=web"}),
        ("describe_hpa", {"hpa_name": "web.v2"}),
        ("rollout_history", {"deployment_name": "a" * 253}),
        ("scale_deployment", {"deployment_name": "web", "replicas": 0}),
        ("scale_deployment", {"deployment_name": "web", "replicas": 100}),
    ],
)
async def test_valid_edge_values_pass_validation(
    gateway: Harness, opa_stub: OpaStub, tool: str, arguments: dict[str, Any]
) -> None:
    await gateway.ok(tool, arguments)

    assert opa_stub.decision_route.call_count == 1
    assert len(gateway.kube.calls) >= 1
