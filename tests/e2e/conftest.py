"""One real control plane for the end-to-end suite, and gateways in front of it.

The cluster (etcd + kube-apiserver + fake kubelet, seeded) starts once per session. Gateways are
real `k8s-mcp-gateway serve` processes, over stdio and over streamable HTTP, talking to the real
OPA and to the apiserver as the gateway's own ServiceAccount with the RBAC of deploy/rbac.yaml:
a permission the catalog needs and the manifest lacks fails a test here. The caller is alice on
both transports: configured for stdio, a bearer token from a token file on HTTP.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from kubernetes.client import ApiClient, AppsV1Api

from gateway.sandbox.cluster import GATEWAY_CONTEXT, LocalCluster
from gateway.sandbox.opa import OpaServer
from tests.support import Served, serve_http, serve_stdio, served_env

WRITABLE_STAGING = {"mode": "readwrite", "approval": {"namespaces": {"staging": {"required": False}}}}
"""Policy data for write tests: writes on, and staging needs no approval (default still does)."""


@pytest.fixture(scope="session")
def cluster() -> Iterator[LocalCluster]:
    with LocalCluster() as started:
        started.seed()
        yield started


@pytest.fixture(scope="session")
def admin(cluster: LocalCluster) -> Iterator[ApiClient]:
    with cluster.admin_client() as client:
        yield client


def cluster_env(directory: Path, cluster: LocalCluster, opa: OpaServer, **settings: str) -> dict[str, str]:
    env = served_env(directory, opa=opa, kubeconfig=cluster.gateway_kubeconfig)
    return {**env, "K8S_MCP_CONTEXT": GATEWAY_CONTEXT, "K8S_MCP_PRINCIPAL": "alice", **settings}


@pytest.fixture(scope="session")
async def stdio_gateway(
    tmp_path_factory: pytest.TempPathFactory, cluster: LocalCluster, opa: OpaServer
) -> AsyncIterator[Served]:
    directory = tmp_path_factory.mktemp("e2e-stdio")
    async with serve_stdio(cluster_env(directory, cluster, opa), directory, principal="alice") as served:
        yield served


@pytest.fixture(scope="session")
def http_gateway(tmp_path_factory: pytest.TempPathFactory, cluster: LocalCluster, opa: OpaServer) -> Iterator[Served]:
    directory = tmp_path_factory.mktemp("e2e-http")
    with serve_http(cluster_env(directory, cluster, opa), directory) as served:
        yield served


@pytest.fixture(params=["stdio", "http"])
def served(request: pytest.FixtureRequest) -> Served:
    """The default gateway (shipped policy: read-only, default + staging) on each transport."""
    gateway: Served = request.getfixturevalue(f"{request.param}_gateway")
    return gateway


@pytest.fixture(scope="session")
def writer(
    tmp_path_factory: pytest.TempPathFactory,
    cluster: LocalCluster,
    policy_opa: Callable[[Mapping[str, Any]], OpaServer],
) -> Iterator[Served]:
    """A readwrite gateway under a policy that lets staging be written without approval."""
    directory = tmp_path_factory.mktemp("e2e-writer")
    env = cluster_env(directory, cluster, policy_opa(WRITABLE_STAGING), K8S_MCP_MODE="readwrite")
    with serve_http(env, directory) as served:
        yield served


def replicas(admin: ApiClient, name: str, namespace: str) -> int:
    return int(AppsV1Api(admin).read_namespaced_deployment(name, namespace).spec.replicas)


@pytest.fixture
def restore_web(admin: ApiClient) -> Iterator[None]:
    """Write tests share the session's cluster: put staging/web back as the seed left it."""
    before = replicas(admin, "web", "staging")
    yield
    AppsV1Api(admin).patch_namespaced_deployment_scale("web", "staging", {"spec": {"replicas": before}})
