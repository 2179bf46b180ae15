"""Two clusters behind one gateway process: two real apiservers, the real OPA, two kubeconfig contexts.

The session's sandbox is the default context; a second sandbox (its own etcd, kube-apiserver,
CA, ServiceAccount token and seed data) is the context `sandbox-west` in the same kubeconfig. A
read on each context reaches that cluster's apiserver and no other; under policy data per cluster
(`data.mcp.config.clusters`), an agent triages the broken rollout on both clusters and is told,
on the read-only one, what it may not do there, with no request reaching that apiserver; and
`/readyz` stays ready, degraded, while the second apiserver is down.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import yaml
from fastmcp import Client
from kubernetes.client import AppsV1Api

from k8s_mcp_sandbox.cluster import GATEWAY_CONTEXT, GATEWAY_USER, LocalCluster
from k8s_mcp_sandbox.opa import OpaServer
from tests.conftest import PolicyServers
from tests.e2e.conftest import cluster_env
from tests.e2e.triage import Agent, triage
from tests.gateways import error_text, serve_http, serve_stdio

pytestmark = pytest.mark.e2e

WEST = "sandbox-west"
CONTEXTS = f"{GATEWAY_CONTEXT},{WEST}"
PER_CLUSTER = {
    "mode": "readwrite",
    "grants": [{"who": "group:sre", "tools": ["rollout_undo"], "namespaces": ["staging"]}],
    "clusters": {WEST: {"mode": "readonly", "namespaces": ["staging"]}},
}
"""Policy data: group sre may undo a rollout in staging, except on the read-only `sandbox-west`,
which also reads staging only."""


@pytest.fixture(scope="module")
def west() -> Iterator[LocalCluster]:
    """A second sandbox cluster, seeded as the first."""
    with LocalCluster() as started:
        started.seed()
        yield started


def two_clusters(east: LocalCluster, west: LocalCluster, directory: Path) -> Path:
    """One kubeconfig with each sandbox's gateway context: `east`'s as it is, `west`'s as `sandbox-west`."""
    config: dict[str, Any] = yaml.safe_load(east.gateway_kubeconfig.read_text())
    other: dict[str, Any] = yaml.safe_load(west.gateway_kubeconfig.read_text())
    [context], [cluster], [user] = other["contexts"], other["clusters"], other["users"]
    config["clusters"].append({**cluster, "name": "west"})
    config["users"].append({**user, "name": "west-gateway"})
    config["contexts"].append({"name": WEST, "context": {"cluster": "west", "user": "west-gateway"}})
    assert context["context"]["user"] == user["name"]
    path = directory / "two-clusters.kubeconfig"
    path.write_text(yaml.safe_dump(config))
    return path


def env_for(directory: Path, east: LocalCluster, west: LocalCluster, opa: OpaServer, **settings: str) -> dict[str, str]:
    return cluster_env(
        directory,
        east,
        opa,
        K8S_MCP_KUBECONFIG=str(two_clusters(east, west, directory)),
        K8S_MCP_CONTEXTS=CONTEXTS,
        **settings,
    )


class Refusals:
    """Calls that must be refused on one cluster: each is followed by a sentinel read on that
    cluster, and its apiserver's audit log must show the sentinel's request alone."""

    def __init__(self, client: Client[Any], cluster: LocalCluster, context: str) -> None:
        self.client, self.cluster, self.context = client, cluster, context

    async def refused(self, tool: str, **arguments: Any) -> str:
        mark = self.cluster.audit.mark()
        result = await self.client.call_tool(tool, {**arguments, "context": self.context}, raise_on_error=False)
        sentinel = await self.client.call_tool("list_namespaces", {"context": self.context}, raise_on_error=False)
        assert result.is_error
        assert not sentinel.is_error
        self.cluster.audit.wait_count(1, since=mark, user=GATEWAY_USER, verb="list", resource="namespaces")
        assert self.cluster.audit.count(since=mark, user=GATEWAY_USER) == 1
        return error_text(result)


async def test_a_read_on_each_context_reaches_its_own_apiserver(
    tmp_path: Path, cluster: LocalCluster, west: LocalCluster, opa: OpaServer
) -> None:
    env = env_for(tmp_path, cluster, west, opa)
    async with serve_stdio(env, tmp_path, principal="alice") as served, served.client() as client:
        shown = (await client.call_tool("list_contexts", {})).structured_content
        assert shown is not None
        assert shown["contexts"] == [
            {"name": GATEWAY_CONTEXT, "server": urlsplit(cluster.server).netloc, "default": True},
            {"name": WEST, "server": urlsplit(west.server).netloc, "default": False},
        ]
        assert cluster.server != west.server

        for chosen, other in ((cluster, west), (west, cluster)):
            context = WEST if chosen is west else GATEWAY_CONTEXT
            marks = chosen.audit.mark(), other.audit.mark()
            result = await client.call_tool("list_pods", {"namespace": "staging", "context": context})
            assert not result.is_error
            assert served.last_record()["input"]["gateway"]["cluster"] == context
            assert chosen.audit.wait_count(1, since=marks[0], user=GATEWAY_USER, verb="list", resource="pods") == 1
            assert other.audit.count(since=marks[1], user=GATEWAY_USER) == 0


async def test_an_agent_triages_on_both_clusters_and_learns_what_the_read_only_one_refuses(
    tmp_path: Path, cluster: LocalCluster, west: LocalCluster, policy_opa: PolicyServers
) -> None:
    env = env_for(
        tmp_path, cluster, west, policy_opa(PER_CLUSTER), K8S_MCP_MODE="readwrite", K8S_MCP_PRINCIPAL_GROUPS="sre"
    )
    async with serve_stdio(env, tmp_path, principal="alice") as served, served.client() as client:
        marks = cluster.audit.mark(), west.audit.mark()
        for context in (GATEWAY_CONTEXT, WEST):
            await triage(Agent(client, context=context))
        # each triage read its own cluster: the same reads, on each apiserver
        reads = [
            sandbox.audit.count(since=mark, user=GATEWAY_USER, verb="get")
            for sandbox, mark in zip((cluster, west), marks, strict=True)
        ]
        assert reads[0] == reads[1] > 0

        # The fix is a rollout undo: on the default cluster it waits for an approval ...
        undo = {"deployment_name": "checkout", "namespace": "staging"}
        pending = await client.call_tool("rollout_undo", undo)
        assert pending.structured_content is not None
        assert (pending.structured_content["status"], pending.structured_content["cluster"]) == (
            "pending_approval",
            GATEWAY_CONTEXT,
        )

        # ... while the read-only cluster refuses it, and its reads outside staging, saying so.
        on_west = Refusals(client, west, WEST)
        refused = await on_west.refused("rollout_undo", **undo)
        assert 'writes are disabled: the policy mode on cluster "sandbox-west" is "readonly"' in refused
        assert 'data.mcp.config.clusters["sandbox-west"].mode' in refused
        refused = await on_west.refused("list_pods", namespace="default")
        assert 'namespace "default" is not in the allowlist on cluster "sandbox-west"' in refused
        assert "namespaces you may use for this tool: staging" in refused

        asked = {}
        for context in (GATEWAY_CONTEXT, WEST):
            answer = await client.call_tool("my_permissions", {"context": context})
            assert answer.structured_content is not None
            asked[context] = answer.structured_content["permissions"]
        assert (asked[GATEWAY_CONTEXT]["mode"], asked[WEST]["mode"]) == ("readwrite", "readonly")
        assert [(w["tool"], w["namespace"]) for w in asked[GATEWAY_CONTEXT]["writes"]] == [("rollout_undo", "staging")]
        assert (asked[WEST]["writes"], asked[WEST]["namespaces"]) == ([], ["staging"])

    # Nothing was undone on either cluster: revision 2 is still the checkout's.
    for sandbox in (cluster, west):
        with sandbox.admin_client() as admin:
            deployment = AppsV1Api(admin).read_namespaced_deployment("checkout", "staging")
        assert deployment.metadata.annotations["deployment.kubernetes.io/revision"] == "2"


async def test_ready_but_degraded_while_the_second_apiserver_is_down(
    tmp_path: Path, cluster: LocalCluster, opa: OpaServer
) -> None:
    with LocalCluster() as other:
        env = env_for(tmp_path, cluster, other, opa)
        with serve_http(env, tmp_path) as served:
            assert isinstance(served.target, str)
            readyz = served.target.removesuffix("/mcp") + "/readyz"
            async with httpx.AsyncClient() as http:
                assert (await http.get(readyz)).json()["checks"]["kubernetes"] == "ok"
                other.stop()
                response = await http.get(readyz)
            assert (response.status_code, response.json()) == (
                200,
                {"status": "ready", "checks": {"opa": "ok", "kubernetes": "degraded"}},
            )
            async with served.client() as client:
                down = await client.call_tool(
                    "list_pods", {"namespace": "staging", "context": WEST}, raise_on_error=False
                )
                up = await client.call_tool("list_pods", {"namespace": "staging"}, raise_on_error=False)
            assert down.is_error
            assert error_text(down) == "the Kubernetes API is unreachable"
            assert not up.is_error
