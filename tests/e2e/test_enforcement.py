"""Denials leave the cluster untouched, allowed writes really change it, and Kubernetes refusals
come back as clear tool errors.

"No API request" is proven with the apiserver's own audit log: after the refused call the test
makes one allowed call as a sentinel, waits until the apiserver has logged it, and then finds
that the sentinel is the only request the gateway's identity made since the mark.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes.client import ApiClient, AppsV1Api, CoreV1Api
from kubernetes.dynamic import DynamicClient

from gateway.binaries import find_binary
from gateway.errors import KubeError
from gateway.kube import Kube
from k8s_mcp_sandbox.cluster import GATEWAY_NAMESPACE, GATEWAY_USER, LocalCluster
from k8s_mcp_sandbox.opa import OpaServer
from tests.catalog import OPEN_GRANT, PV_TOOLS, RESOURCE_TOOLS, ROLLOUT_TOOLS, arguments_for
from tests.e2e.conftest import cluster_env, replicas
from tests.fakes.kube import write_kubeconfig
from tests.gateways import Served, error_text, serve_http

pytestmark = pytest.mark.e2e

SENTINEL = ("list_namespaces", {})


async def refused_without_api_requests(
    cluster: LocalCluster, served: Served, tool: str, arguments: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    """Make a call that must be refused; prove the apiserver saw no request from the gateway."""
    mark = cluster.audit.mark()
    async with served.client() as client:
        refused = await client.call_tool(tool, arguments, raise_on_error=False)
        record = served.last_record()
        sentinel = await client.call_tool(*SENTINEL, raise_on_error=False)
    assert not sentinel.is_error
    cluster.audit.wait_count(1, since=mark, user=GATEWAY_USER, verb="list", resource="namespaces")
    assert cluster.audit.count(since=mark, user=GATEWAY_USER) == 1
    return error_text(refused), record


@pytest.mark.parametrize(
    ("tool", "arguments", "said", "outcome"),
    [
        ("list_pods", {"namespace": "prod"}, 'namespace "prod" is not in the allowlist', "denied"),
        ("get_pod_logs", {"pod_name": "web-5f6d7c8b9-b8n4q", "namespace": "prod"}, "not in the allowlist", "denied"),
        ("list_pods", {"namespace": "kube-system"}, 'namespace "kube-system"', "denied"),
        ("list_pods", {"namespace": "../prod"}, "namespace: must be a DNS-1123 label", "invalid"),
        ("list_pods", {"namespace": "staging", "server": "https://evil"}, "server: is not an argument", "invalid"),
        ("describe_pod", {"pod_name": "secret/x", "namespace": "staging"}, "pod_name: must be a DNS-1123", "invalid"),
        (
            "scale_deployment",
            {"deployment_name": "web", "namespace": "staging", "replicas": 9},
            "readonly",
            "gateway_denied",
        ),
        ("restart_deployment", {"deployment_name": "web", "namespace": "staging"}, "readonly", "gateway_denied"),
    ],
)
async def test_refused_calls_make_no_api_request(
    cluster: LocalCluster,
    admin: ApiClient,
    served: Served,
    tool: str,
    arguments: dict[str, Any],
    said: str,
    outcome: str,
) -> None:
    before = replicas(admin, "web", "staging")
    message, record = await refused_without_api_requests(cluster, served, tool, arguments)
    assert said in message
    assert record["outcome"] == outcome
    assert replicas(admin, "web", "staging") == before


KIND_READS = [tool for tool in (*RESOURCE_TOOLS, *ROLLOUT_TOOLS) if tool not in PV_TOOLS]
"""The namespaced reads of every kind beyond pods, deployments and events."""
NEW_READS_IN_PROD = [pytest.param(tool, arguments_for(tool, namespace="prod"), id=tool) for tool in KIND_READS]


@pytest.mark.parametrize(("tool", "arguments"), NEW_READS_IN_PROD)
async def test_reads_of_every_kind_in_prod_make_no_api_request(
    cluster: LocalCluster, served: Served, tool: str, arguments: dict[str, Any]
) -> None:
    message, record = await refused_without_api_requests(cluster, served, tool, arguments)
    assert message == (
        'denied by policy: namespace "prod" is not in the allowlist. '
        "Hint: namespaces you may use for this tool: default, staging"
    )
    assert (record["outcome"], record["action"]["namespace"]) == ("denied", "prod")


@pytest.mark.parametrize("tool", PV_TOOLS)
async def test_volume_reads_outside_the_cluster_reads_make_no_api_request(
    cluster: LocalCluster, served: Served, tool: str
) -> None:
    message, record = await refused_without_api_requests(cluster, served, tool, arguments_for(tool))
    assert 'cluster-scoped resource "persistentvolumes" is not in the cluster read allowlist' in message
    assert (record["outcome"], record["action"]["resource"]) == ("denied", "persistentvolumes")


async def test_a_write_needing_approval_changes_nothing(cluster: LocalCluster, writer: Served) -> None:
    """The pending request's preview reads the object (here: none in `default`); nothing is written."""
    arguments = {"deployment_name": "web", "namespace": "default", "replicas": 1}
    mark = cluster.audit.mark()
    async with writer.client() as client:
        pending = await client.call_tool("scale_deployment", arguments)
        record = writer.last_record()
        sentinel = await client.call_tool(*SENTINEL, raise_on_error=False)
    assert not sentinel.is_error
    cluster.audit.wait_count(1, since=mark, user=GATEWAY_USER, verb="list", resource="namespaces")

    assert pending.structured_content is not None
    assert pending.structured_content["message"] == "approval required: 1 approval from group:sre-leads"
    assert pending.structured_content["preview"]["summary"][0].startswith("no preview: Kubernetes API not found (404)")
    assert record["outcome"] == "approval_pending"
    requests = [(e["verb"], e["objectRef"]["resource"]) for e in cluster.audit.events(since=mark) if is_gateway(e)]
    assert requests == [("get", "deployments"), ("list", "namespaces")]


def is_gateway(event: dict[str, Any]) -> bool:
    return bool(event["user"]["username"] == GATEWAY_USER)


@pytest.mark.usefixtures("restore_web")
async def test_allowed_writes_change_the_cluster(cluster: LocalCluster, admin: ApiClient, writer: Served) -> None:
    async with writer.client() as client:
        tools = {tool.name for tool in await client.list_tools()}
        assert {"scale_deployment", "restart_deployment"} <= tools
        dry = await client.call_tool(
            "scale_deployment", {"deployment_name": "web", "namespace": "staging", "replicas": 7, "dry_run": True}
        )
        assert dry.structured_content == {"deployment": "web", "namespace": "staging", "replicas": 7, "dry_run": True}
        assert replicas(admin, "web", "staging") == 3

        mark = cluster.audit.mark()
        await client.call_tool("scale_deployment", {"deployment_name": "web", "namespace": "staging", "replicas": 4})
        assert replicas(admin, "web", "staging") == 4
        assert cluster.audit.wait_count(1, since=mark, user=GATEWAY_USER, verb="patch", resource="deployments/scale")

        restarted = await client.call_tool("restart_deployment", {"deployment_name": "web", "namespace": "staging"})
    annotations = AppsV1Api(admin).read_namespaced_deployment("web", "staging").spec.template.metadata.annotations
    assert annotations["kubectl.kubernetes.io/restartedAt"] == restarted.structured_content["restarted_at"]
    intents = [r for r in writer.records() if r["event"] == "write_intent"]
    assert [r["tool"] for r in intents[-2:]] == ["scale_deployment", "restart_deployment"]


def deployment_versions(admin: ApiClient) -> dict[str, str]:
    """Every deployment's resourceVersion: any write, even of one annotation, changes it."""
    items = AppsV1Api(admin).list_deployment_for_all_namespaces().items
    return {f"{d.metadata.namespace}/{d.metadata.name}": d.metadata.resource_version for d in items}


@pytest.fixture(scope="module")
def unguarded(
    tmp_path_factory: pytest.TempPathFactory, cluster: LocalCluster, policy_opa: Callable[[Mapping[str, Any]], str]
) -> Iterator[Served]:
    """A readwrite gateway under policy data that allows every call in every namespace, without
    approval: between it and the cluster only the RBAC of deploy/rbac.yaml is left."""
    directory = tmp_path_factory.mktemp("e2e-unguarded")
    wide_open = {
        "mode": "readwrite",
        "grants": [OPEN_GRANT],
        "namespaces": ["*"],
        "approval": {"default": {"required": False}},
    }
    with serve_http(
        cluster_env(directory, cluster, policy_opa(wide_open), K8S_MCP_MODE="readwrite"), directory
    ) as served:
        yield served


@pytest.mark.parametrize(
    ("tool", "arguments"),
    [
        ("scale_deployment", {"deployment_name": "web", "namespace": "prod", "replicas": 9}),
        ("restart_deployment", {"deployment_name": "coredns", "namespace": "kube-system"}),
        ("list_pods", {"namespace": "prod"}),
        *((tool, arguments_for(tool, namespace="prod")) for tool in KIND_READS),
        ("describe_configmap", arguments_for("describe_configmap", namespace="kube-system")),
    ],
)
async def test_rbac_stops_what_a_wrong_policy_lets_through(
    cluster: LocalCluster, admin: ApiClient, unguarded: Served, tool: str, arguments: dict[str, Any]
) -> None:
    """The policy allows the call and the gateway makes it; the API server refuses its identity."""
    before = deployment_versions(admin)
    mark = cluster.audit.mark()
    async with unguarded.client() as client:
        result = await client.call_tool(tool, arguments, raise_on_error=False)
    record = unguarded.last_record()

    assert record["allow"] is True
    assert error_text(result).startswith("Kubernetes API forbidden (403)")
    assert cluster.audit.wait_count(1, since=mark, user=GATEWAY_USER, namespace=arguments["namespace"], code=403) == 1
    assert cluster.audit.count(since=mark, user=GATEWAY_USER, namespace=arguments["namespace"]) == 1
    assert deployment_versions(admin) == before


async def test_missing_rbac_is_a_clear_forbidden(
    tmp_path: Path, cluster: LocalCluster, admin: ApiClient, opa: OpaServer
) -> None:
    """A gateway whose identity has no RBAC binding gets 403 from the apiserver, said plainly."""
    core = CoreV1Api(admin)
    core.create_namespaced_service_account("default", {"metadata": {"name": "no-rights"}})
    token = core.create_namespaced_service_account_token(
        "no-rights", "default", {"spec": {"expirationSeconds": 3600}}
    ).status.token
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", server=cluster.server, token=token)
    env = {**cluster_env(tmp_path, cluster, opa), "K8S_MCP_KUBECONFIG": str(kubeconfig)}
    del env["K8S_MCP_CONTEXT"]
    with serve_http(env, tmp_path) as served:
        async with served.client() as client:
            result = await client.call_tool("list_pods", {"namespace": "staging"}, raise_on_error=False)
    message = error_text(result)
    assert message.startswith("Kubernetes API forbidden (403)")
    assert "no-rights" in message
    assert "Traceback" not in message


async def test_a_conflict_from_the_apiserver_is_a_short_error(cluster: LocalCluster) -> None:
    """409 as the apiserver really sends it, through the gateway's one door to the API."""
    kube = Kube(api_client=cluster.admin_client(), cluster="sandbox", timeout=5, workers=1)
    try:
        with pytest.raises(KubeError) as raised:
            await kube.call(kube.core.create_namespace, body={"metadata": {"name": "staging"}})
    finally:
        kube.close()
    assert raised.value.status == 409
    assert str(raised.value) == 'Kubernetes API conflict (409): namespaces "staging" already exists'


def test_the_deploy_manifests_are_accepted_by_the_apiserver(admin: ApiClient) -> None:
    """deploy/ as kustomize builds it, server-side applied as a dry run against the real apiserver."""
    built = subprocess.run(
        [find_binary("packaging-check"), "kustomize"], check=True, capture_output=True, text=True
    ).stdout
    objects = [doc for doc in yaml.safe_load_all(built) if doc]
    kinds = {"Deployment", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "RoleBinding", "NetworkPolicy"}
    assert {o["kind"] for o in objects} >= kinds
    dynamic = DynamicClient(admin)
    for obj in objects:
        resource = dynamic.resources.get(api_version=obj["apiVersion"], kind=obj["kind"])
        applied = resource.server_side_apply(
            body=obj,
            name=obj["metadata"]["name"],
            namespace=obj["metadata"].get("namespace"),
            field_manager="e2e-dry-run",
            dry_run="All",
            force_conflicts=True,
        )
        assert applied.metadata.name == obj["metadata"]["name"], json.dumps(obj)[:200]
        assert applied.metadata.namespace == obj["metadata"].get("namespace"), json.dumps(obj)[:200]
    # The RoleBindings are accepted where the policy data puts them, not in the gateway's namespace.
    bindings = {o["metadata"]["namespace"] for o in objects if o["kind"] == "RoleBinding"}
    assert bindings
    assert GATEWAY_NAMESPACE not in bindings
