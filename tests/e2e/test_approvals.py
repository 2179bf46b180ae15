"""Approvals against the real apiserver, through real gateway processes and the real CLI process.

The gateway runs over HTTP (its principal is `system:anonymous`) under the shipped approval rules
with writes enabled: scaling staging/web needs one approval from group:sre, given here by bob
with `k8s-mcp-gateway approvals approve`. What reached the cluster is read from the apiserver's
own audit log: a server-side dry run carries `dryRun=All` in its request URI.
"""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from kubernetes.client import ApiClient, AppsV1Api

from k8s_mcp_sandbox.cluster import GATEWAY_USER, LocalCluster
from tests.catalog import READWRITE
from tests.e2e.conftest import cluster_env, replicas
from tests.gateways import GATEWAY_BIN, Served, serve_http

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("restore_web")]

SCALE = {"deployment_name": "web", "namespace": "staging", "replicas": 5}
RESTARTED_AT = 'spec.template.metadata.annotations["kubectl.kubernetes.io/restartedAt"]'


@pytest.fixture(scope="module")
def approving_env(
    tmp_path_factory: pytest.TempPathFactory, cluster: LocalCluster, policy_opa: Callable[[Mapping[str, Any]], str]
) -> tuple[Path, dict[str, str]]:
    directory = tmp_path_factory.mktemp("e2e-approvals")
    return directory, cluster_env(directory, cluster, policy_opa(READWRITE), K8S_MCP_MODE="readwrite")


@pytest.fixture(scope="module")
def approving(approving_env: tuple[Path, dict[str, str]]) -> Iterator[Served]:
    """A readwrite HTTP gateway under the shipped approval rules."""
    directory, env = approving_env
    with serve_http(env, directory) as served:
        yield served


def approve(env: Mapping[str, str], approval_id: str) -> str:
    """bob (group sre) decides with the real CLI process, on the gateway's store and audit file."""
    done = subprocess.run(
        [GATEWAY_BIN, "approvals", "approve", approval_id],
        env={**env, "K8S_MCP_PRINCIPAL": "bob", "K8S_MCP_PRINCIPAL_GROUPS": "sre"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


async def pending_id(served: Served, tool: str = "scale_deployment", arguments: Mapping[str, Any] = SCALE) -> str:
    async with served.client() as client:
        pending = await client.call_tool(tool, dict(arguments))
    assert pending.structured_content is not None
    assert pending.structured_content["status"] == "pending_approval"
    approval_id: str = pending.structured_content["approval_id"]
    return approval_id


def real_patches(cluster: LocalCluster, since: int, resource: str) -> list[dict[str, Any]]:
    """The gateway's patches of staging/web after `since` that were not dry runs."""
    name, _, subresource = resource.partition("/")
    return [
        event
        for event in cluster.audit.events(since=since)
        if event["user"]["username"] == GATEWAY_USER
        and event["verb"] == "patch"
        and event["objectRef"].get("resource") == name
        and (event["objectRef"].get("subresource") or "") == subresource
        and "dryRun=All" not in event["requestURI"]
    ]


async def test_the_preview_is_the_apiservers_own_dry_run(
    cluster: LocalCluster, admin: ApiClient, approving: Served
) -> None:
    # Earlier tests of the session may have restarted staging/web already.
    annotations = AppsV1Api(admin).read_namespaced_deployment("web", "staging").spec.template.metadata.annotations
    restarted_before = (annotations or {}).get("kubectl.kubernetes.io/restartedAt")
    mark = cluster.audit.mark()
    async with approving.client() as client:
        scale = await client.call_tool("scale_deployment", SCALE)
        restart = await client.call_tool("restart_deployment", {"deployment_name": "web", "namespace": "staging"})

    assert scale.structured_content is not None
    assert restart.structured_content is not None
    assert scale.structured_content["preview"]["summary"] == ["spec.replicas: 3 → 5"]
    [annotation] = restart.structured_content["preview"]["changes"]
    assert (annotation["field"], annotation["before"]) == (RESTARTED_AT, restarted_before)
    assert annotation["after"].endswith("Z")
    dry_runs = cluster.audit.wait_count(2, since=mark, user=GATEWAY_USER, verb="patch")
    assert dry_runs == 2
    assert real_patches(cluster, mark, "deployments/scale") == real_patches(cluster, mark, "deployments") == []
    assert replicas(admin, "web", "staging") == 3
    template = AppsV1Api(admin).read_namespaced_deployment("web", "staging").spec.template.metadata.annotations or {}
    assert "kubectl.kubernetes.io/restartedAt" not in template


async def test_fifty_concurrent_calls_with_one_approval_patch_the_apiserver_once(
    cluster: LocalCluster, admin: ApiClient, approving: Served, approving_env: tuple[Path, dict[str, str]]
) -> None:
    approval_id = await pending_id(approving)
    assert "it is approved (1 of 1 approvals)" in approve(approving_env[1], approval_id)
    mark = cluster.audit.mark()

    async with approving.client() as client:
        results = await asyncio.gather(
            *(
                client.call_tool("scale_deployment", {**SCALE, "approval_id": approval_id}, raise_on_error=False)
                for _ in range(50)
            )
        )

    assert sum(not result.is_error for result in results) == 1
    assert all("already used" in str(result.content) for result in results if result.is_error)
    cluster.audit.wait_count(1, since=mark, user=GATEWAY_USER, verb="patch", resource="deployments/scale")
    assert len(real_patches(cluster, mark, "deployments/scale")) == 1
    assert replicas(admin, "web", "staging") == 5


async def test_a_waiting_write_runs_once_approved_with_progress_over_http(
    cluster: LocalCluster, admin: ApiClient, approving: Served, approving_env: tuple[Path, dict[str, str]]
) -> None:
    seen: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total, message))

    async def approve_when_listed() -> str:
        env = {**approving_env[1], "K8S_MCP_PRINCIPAL": "bob"}
        while True:
            await asyncio.sleep(0.5)
            listed = await asyncio.to_thread(
                subprocess.run, [GATEWAY_BIN, "approvals", "list"], env=env, capture_output=True, text=True, check=True
            )
            mine = [line for line in listed.stdout.splitlines() if "replicas=4" in line]
            if mine:
                approval_id = mine[0].split()[0]
                await asyncio.to_thread(approve, approving_env[1], approval_id)
                return approval_id

    mark = cluster.audit.mark()
    async with approving.client() as client:
        result, approval_id = await asyncio.gather(
            client.call_tool(
                "scale_deployment", {**SCALE, "replicas": 4, "wait_seconds": 60}, progress_handler=on_progress
            ),
            approve_when_listed(),
        )

    assert result.structured_content == {"deployment": "web", "namespace": "staging", "replicas": 4, "dry_run": False}
    assert seen
    assert all(message == f"waiting for approval {approval_id}: 0 of 1 approvals" for _, _, message in seen)
    assert replicas(admin, "web", "staging") == 4
    cluster.audit.wait_count(2, since=mark, user=GATEWAY_USER, verb="patch", resource="deployments/scale")
    assert len(real_patches(cluster, mark, "deployments/scale")) == 1


async def test_a_pending_request_survives_a_gateway_restart(
    tmp_path: Path, cluster: LocalCluster, admin: ApiClient, policy_opa: Callable[[Mapping[str, Any]], str]
) -> None:
    env = cluster_env(tmp_path, cluster, policy_opa(READWRITE), K8S_MCP_MODE="readwrite")
    with serve_http(env, tmp_path) as before:
        approval_id = await pending_id(before)

    with serve_http(env, tmp_path) as after:
        approve(env, approval_id)
        async with after.client() as client:
            result = await client.call_tool("scale_deployment", {**SCALE, "approval_id": approval_id})
        records = after.records()

    assert result.structured_content is not None
    assert result.structured_content["replicas"] == 5
    assert replicas(admin, "web", "staging") == 5
    steps = [r["event"] for r in records if r.get("approval_id") == approval_id and r["event"] != "tool_call"]
    assert steps == ["approval_requested", "approval_approved", "approval_used", "write_intent"]
    executed = records[-1]
    assert (executed["event"], executed["outcome"], executed["approval_id"]) == ("tool_call", "ok", approval_id)
    assert executed["approval"] == {"kind": "review", "approved_by": [{"sub": "bob", "groups": ["sre"]}]}
