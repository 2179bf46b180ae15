"""rollout_undo, delete_pod, cordon_node and uncordon_node against the real apiserver.

Refused, they make no API request (the apiserver's audit log, as in test_enforcement.py); under
an approval they run once and change the cluster; a replay of the used approval is refused
without an API request. The gateway is a real process over HTTP with writes enabled under the
shipped approval rules (staging: group:sre; nodes: the default rule, group:sre-leads), and the
approver is the real CLI process.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from kubernetes.client import ApiClient, AppsV1Api, CoreV1Api

from k8s_mcp_sandbox.cluster import LocalCluster
from k8s_mcp_sandbox.seed import BROKEN_ROLLOUT, INIT_CRASH_POD
from tests.catalog import OPEN_GRANT, USED
from tests.e2e.conftest import cluster_env
from tests.e2e.test_enforcement import refused_without_api_requests
from tests.gateways import GATEWAY_BIN, Served, serve_http

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("restore_web")]

UNDO = {"deployment_name": "checkout", "namespace": "staging"}
DELETE = {"pod_name": INIT_CRASH_POD, "namespace": "staging"}
CORDON = {"node_name": "node-1"}


@pytest.fixture(scope="module")
def writes_env(
    tmp_path_factory: pytest.TempPathFactory, cluster: LocalCluster, policy_opa: Callable[[Mapping[str, Any]], str]
) -> tuple[Path, dict[str, str]]:
    directory = tmp_path_factory.mktemp("e2e-writes")
    opa = policy_opa({"mode": "readwrite", "grants": [OPEN_GRANT]})
    return directory, cluster_env(directory, cluster, opa, K8S_MCP_MODE="readwrite")


@pytest.fixture(scope="module")
def gateway(writes_env: tuple[Path, dict[str, str]]) -> Iterator[Served]:
    directory, env = writes_env
    with serve_http(env, directory) as served:
        yield served


def approve(env: Mapping[str, str], approval_id: str, groups: str) -> None:
    """bob, in `groups`, approves with the real CLI on the gateway's store and audit file."""
    done = subprocess.run(
        [GATEWAY_BIN, "approvals", "approve", approval_id],
        env={**env, "K8S_MCP_PRINCIPAL": "bob", "K8S_MCP_PRINCIPAL_GROUPS": groups},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr


async def approved_run(
    served: Served, env: Mapping[str, str], tool: str, arguments: dict[str, Any], groups: str
) -> tuple[dict[str, Any], str]:
    """Ask, get the pending request, have it approved, run it: (the pending answer, the approval id)."""
    async with served.client() as client:
        pending = (await client.call_tool(tool, arguments)).structured_content
        assert pending is not None
        assert pending["status"] == "pending_approval", pending
        approve(env, pending["approval_id"], groups)
        ran = await client.call_tool(tool, {**arguments, "approval_id": pending["approval_id"]})
    assert not ran.is_error, ran.content
    return pending, pending["approval_id"]


def unschedulable(admin: ApiClient, node: str) -> bool:
    return bool(CoreV1Api(admin).read_node(node).spec.unschedulable)


def checkout_image(admin: ApiClient) -> str:
    namespace, name = BROKEN_ROLLOUT
    template = AppsV1Api(admin).read_namespaced_deployment(name, namespace).spec.template
    return str(template.spec.containers[0].image)


@pytest.mark.parametrize(
    ("tool", "arguments"), [("rollout_undo", UNDO), ("delete_pod", DELETE), ("cordon_node", CORDON)]
)
async def test_a_readonly_gateway_sends_no_new_write(
    cluster: LocalCluster, served: Served, tool: str, arguments: dict[str, Any]
) -> None:
    message, record = await refused_without_api_requests(cluster, served, tool, arguments)
    assert 'writes are disabled: the gateway runs in "readonly" mode' in message
    assert record["outcome"] == "gateway_denied"


@pytest.mark.parametrize(
    ("tool", "arguments"),
    [
        ("rollout_undo", {**UNDO, "namespace": "prod", "deployment_name": "web"}),
        ("delete_pod", {**DELETE, "namespace": "kube-system"}),
    ],
)
async def test_a_write_outside_the_allowlist_sends_no_request(
    cluster: LocalCluster, gateway: Served, tool: str, arguments: dict[str, Any]
) -> None:
    message, record = await refused_without_api_requests(cluster, gateway, tool, arguments)
    assert f'namespace "{arguments["namespace"]}" is not in the allowlist' in message
    assert record["outcome"] == "denied"


async def test_rollout_undo_runs_once_approved_and_its_replay_is_refused(
    cluster: LocalCluster, admin: ApiClient, gateway: Served, writes_env: tuple[Path, dict[str, str]]
) -> None:
    assert checkout_image(admin) == "ghcr.io/example/checkout:1.5.0"

    pending, approval_id = await approved_run(gateway, writes_env[1], "rollout_undo", UNDO, groups="sre")

    [containers] = [line for line in pending["preview"]["summary"] if line.startswith("spec.template.spec.containers:")]
    before, after = containers.split(" → ")
    assert ("checkout:1.5.0" in before, "checkout:1.4.2" in after) == (True, True)
    assert checkout_image(admin) == "ghcr.io/example/checkout:1.4.2"
    message, record = await refused_without_api_requests(
        cluster, gateway, "rollout_undo", {**UNDO, "approval_id": approval_id}
    )
    assert USED in message
    assert record["approval_id"] == approval_id


async def test_a_node_write_needs_sre_leads_and_then_marks_the_node(
    cluster: LocalCluster, admin: ApiClient, gateway: Served, writes_env: tuple[Path, dict[str, str]]
) -> None:
    assert not unschedulable(admin, "node-1")

    pending, _ = await approved_run(gateway, writes_env[1], "cordon_node", CORDON, groups="sre-leads")
    assert pending["message"] == "approval required: 1 approval from group:sre-leads"
    assert pending["preview"]["summary"] == ["spec.unschedulable: false → true"]
    assert unschedulable(admin, "node-1")

    await approved_run(gateway, writes_env[1], "uncordon_node", CORDON, groups="sre-leads")
    assert not unschedulable(admin, "node-1")


async def test_delete_pod_removes_the_pod_once_approved(
    admin: ApiClient, gateway: Served, writes_env: tuple[Path, dict[str, str]]
) -> None:
    pending, _ = await approved_run(
        gateway, writes_env[1], "delete_pod", {**DELETE, "grace_period_seconds": 0}, groups="sre"
    )

    assert 'spec.pod.node: "node-1" → (none)' in pending["preview"]["summary"]
    names = [pod.metadata.name for pod in CoreV1Api(admin).list_namespaced_pod("staging").items]
    assert INIT_CRASH_POD not in names
