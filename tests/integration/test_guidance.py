"""The policy guides the agent, end to end with the real OPA: hints on a denial, marked namespaces,
and `my_permissions`, each through the MCP client; the shipped grants decide who writes.

A denial's hints reach the agent in the message and the audit record, and never let the call
through: the fake kube counts no call for any denied one.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.catalog import CLUSTER
from tests.conftest import GatewayFactory, PolicyServers
from tests.fakes.kube import Manifest

pytestmark = pytest.mark.integration

SHIPPED_READWRITE: dict[str, Any] = {"mode": "readwrite"}
STAGING_SCALE = {"deployment_name": "web", "namespace": "staging", "replicas": 2}
DEFAULT_SCALE = {**STAGING_SCALE, "namespace": "default"}
STAGING_APPROVAL = {"required": True, "approvers": ["group:sre"], "count": 1, "kinds": ["review", "user_confirmation"]}


def namespaces(*names: str) -> Manifest:
    """The API's JSON listing of `names`, as `list_namespaces` reads it."""
    return {"items": [{"metadata": {"name": name}, "status": {"phase": "Active"}} for name in names]}


async def test_a_namespace_denial_names_the_namespaces_the_caller_may_use(
    open_gateway: GatewayFactory, policy_opa: PolicyServers
) -> None:
    gateway = await open_gateway(**policy_opa({}).settings(), principal="alice")

    message = await gateway.error("list_pods", {"namespace": "prod"})

    assert message == (
        'denied by policy: namespace "prod" is not in the allowlist. '
        "Hint: namespaces you may use for this tool: default, staging"
    )
    assert gateway.kube.calls == []
    [record] = gateway.tool_calls()
    assert (record["outcome"], record["hints"]) == ("denied", {"namespaces": ["default", "staging"]})


async def test_a_readonly_write_says_what_writes_need_and_who_may_write_where(
    open_gateway: GatewayFactory, policy_opa: PolicyServers
) -> None:
    gateway = await open_gateway(
        **policy_opa({}).settings(), mode="readwrite", principal="alice", principal_groups=["sre"]
    )

    message = await gateway.error("scale_deployment", STAGING_SCALE)

    assert message == (
        'denied by policy: writes are disabled: the policy mode is "readonly". '
        "Hint: group:sre may call scale_deployment in staging; "
        'writes need "mode": "readwrite" in the policy data (data.mcp.config.mode)'
    )
    assert gateway.kube.calls == []
    [record] = gateway.tool_calls()
    assert record["hints"]["writes"][0] == "group:sre may call scale_deployment in staging"


@pytest.mark.parametrize(
    ("groups", "arguments", "reason", "usable"),
    [
        ([], STAGING_SCALE, 'lets "alice" call "scale_deployment" in namespace "staging"', "none"),
        (["sre"], DEFAULT_SCALE, 'lets "alice" call "scale_deployment" in namespace "default"', "staging"),
        (["oncall"], STAGING_SCALE, 'lets "alice" call "scale_deployment" in namespace "staging"', "none"),
    ],
)
async def test_a_write_without_a_grant_is_denied_before_kubernetes(
    open_gateway: GatewayFactory,
    policy_opa: PolicyServers,
    groups: list[str],
    arguments: dict[str, Any],
    reason: str,
    usable: str,
) -> None:
    gateway = await open_gateway(
        **policy_opa(SHIPPED_READWRITE).settings(), mode="readwrite", principal="alice", principal_groups=groups
    )

    message = await gateway.error("scale_deployment", arguments)

    assert message == (
        f"denied by policy: no write grant (data.mcp.config.grants) {reason}. "
        f"Hint: namespaces you may use for this tool: {usable}; group:sre may call scale_deployment in staging"
    )
    assert gateway.kube.calls == []
    assert [record["outcome"] for record in gateway.tool_calls()] == ["denied"]


async def test_a_granted_write_asks_for_its_approval(open_gateway: GatewayFactory, policy_opa: PolicyServers) -> None:
    gateway = await open_gateway(
        **policy_opa(SHIPPED_READWRITE).settings(), mode="readwrite", principal="alice", principal_groups=["sre"]
    )

    pending = await gateway.ok("scale_deployment", STAGING_SCALE)

    assert (pending["status"], pending["approvers"]) == ("pending_approval", ["group:sre"])
    assert gateway.kube.writes == []


async def test_list_namespaces_marks_each_namespace_as_the_policy_answers(
    open_gateway: GatewayFactory, policy_opa: PolicyServers
) -> None:
    gateway = await open_gateway(**policy_opa({}).settings(), principal="alice", namespaces=["staging", "prod"])
    gateway.kube.responses["list_namespace"] = namespaces("default", "staging", "prod")

    listed = await gateway.ok("list_namespaces")

    assert [(ns["name"], ns["allowed"]) for ns in listed["namespaces"]] == [
        ("default", False),
        ("staging", True),
        ("prod", False),
    ]
    decisions = [record for record in gateway.tool_calls() if record["tool"] == "list_namespaces"]
    assert [record["hints"] for record in decisions] == [{"namespaces": ["staging"]}]


async def test_a_wildcard_allowlist_marks_every_namespace(
    open_gateway: GatewayFactory, policy_opa: PolicyServers
) -> None:
    gateway = await open_gateway(**policy_opa({"namespaces": ["*"]}).settings(), principal="alice")
    gateway.kube.responses["list_namespace"] = namespaces("kube-system", "prod")

    listed = await gateway.ok("list_namespaces")

    assert [ns["allowed"] for ns in listed["namespaces"]] == [True, True]


async def test_my_permissions_shows_the_caller_and_the_policy_summary(
    open_gateway: GatewayFactory, policy_opa: PolicyServers
) -> None:
    gateway = await open_gateway(
        **policy_opa(SHIPPED_READWRITE).settings(), mode="readwrite", principal="alice", principal_groups=["sre"]
    )

    answer = await gateway.ok("my_permissions")

    assert answer == {
        "caller": {"sub": "alice", "groups": ["sre"], "authenticated": False, "transport": "stdio"},
        "cluster": CLUSTER,
        "permissions": {
            "mode": "readwrite",
            "namespaces": ["default", "staging"],
            "cluster_reads": ["namespaces", "nodes"],
            "writes": [
                {"tool": "restart_deployment", "namespace": "staging", "approval": STAGING_APPROVAL},
                {"tool": "scale_deployment", "namespace": "staging", "approval": STAGING_APPROVAL},
            ],
            "truncated": False,
        },
    }
    assert gateway.kube.calls == []
    [record] = gateway.tool_calls()
    assert (record["outcome"], record["action"]["resource"]) == ("ok", "permissions")


async def test_a_readonly_gateway_shows_no_writes(open_gateway: GatewayFactory, policy_opa: PolicyServers) -> None:
    gateway = await open_gateway(**policy_opa(SHIPPED_READWRITE).settings(), principal="dave", principal_groups=[])

    answer = await gateway.ok("my_permissions")

    assert (answer["caller"]["sub"], answer["permissions"]["mode"], answer["permissions"]["writes"]) == (
        "dave",
        "readonly",
        [],
    )
