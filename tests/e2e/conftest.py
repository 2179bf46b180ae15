"""One real control plane for the end-to-end suite, and gateways in front of it.

The cluster (etcd + kube-apiserver + fake kubelet, seeded) starts once per session. Gateways are
real `k8s-mcp-gateway serve` processes, over stdio and over streamable HTTP, talking to the real
OPA and to the apiserver as the gateway's own ServiceAccount with the RBAC of deploy/rbac.yaml:
a permission the catalog needs and the manifest lacks fails a test here. The caller is alice on
both transports: configured for stdio, a bearer token from a token file on HTTP. The gateway that
may read PersistentVolumes runs, for its module, with the RBAC `k8s-mcp-gateway rbac` generates
for its policy data, as an operator who adds them to `cluster_reads` would apply it.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from kubernetes.client import ApiClient, AppsV1Api

from gateway import cli
from k8s_mcp_sandbox.cluster import GATEWAY_CONTEXT, LocalCluster, apply_manifests
from k8s_mcp_sandbox.opa import OpaServer
from k8s_mcp_sandbox.project import DEPLOY_DIR
from tests.catalog import OPEN_GRANT
from tests.conftest import PolicyServers, ServedEnvironment
from tests.fakes.opa import policy_copy
from tests.gateways import Served, serve_http, serve_stdio, served_env

WRITABLE_STAGING = {
    "mode": "readwrite",
    "grants": [OPEN_GRANT],
    "approval": {"namespaces": {"staging": {"required": False}}},
}
"""Policy data for write tests: writes on, and staging needs no approval (default still does)."""
VOLUME_READS = {"cluster_reads": ["namespaces", "nodes", "persistentvolumes"]}
"""Policy data that adds PersistentVolumes to the cluster-scoped reads (the shipped data does not)."""


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
def served_environment(cluster: LocalCluster, opa: OpaServer) -> ServedEnvironment:
    """In tests/e2e, `stdio_gateway` and `http_gateway` talk to this cluster, as its ServiceAccount."""
    return lambda directory: cluster_env(directory, cluster, opa)


@pytest.fixture(scope="module")
def volume_rbac(tmp_path_factory: pytest.TempPathFactory, admin: ApiClient) -> Iterator[Path]:
    """The RBAC generated for the VOLUME_READS policy data, applied for one module; deploy/rbac.yaml
    is applied again afterwards, which shrinks the cluster role back in place."""
    directory = tmp_path_factory.mktemp("e2e-volume-rbac")
    data = policy_copy(directory / "policy", VOLUME_READS) / "data.json"
    manifest = directory / "rbac.yaml"
    cli.main(["rbac", "--policy-data", str(data), "--output", str(manifest)])
    apply_manifests(admin, [manifest])
    yield manifest
    apply_manifests(admin, [DEPLOY_DIR / "rbac.yaml"])


@pytest.fixture(scope="module")
async def volume_readers(
    tmp_path_factory: pytest.TempPathFactory, cluster: LocalCluster, policy_opa: PolicyServers, volume_rbac: Path
) -> AsyncIterator[dict[str, Served]]:
    """A gateway on each transport under policy data whose cluster reads include PersistentVolumes,
    with the RBAC generated for that data."""
    opa = policy_opa(VOLUME_READS)
    stdio, http = tmp_path_factory.mktemp("e2e-volumes-stdio"), tmp_path_factory.mktemp("e2e-volumes-http")
    async with contextlib.AsyncExitStack() as stack:
        yield {
            "stdio": await stack.enter_async_context(
                serve_stdio(cluster_env(stdio, cluster, opa), stdio, principal="alice")
            ),
            "http": stack.enter_context(serve_http(cluster_env(http, cluster, opa), http)),
        }


@pytest.fixture(params=["stdio", "http"])
def volume_reader(request: pytest.FixtureRequest, volume_readers: dict[str, Served]) -> Served:
    """The gateway that may read PersistentVolumes, on each transport."""
    return volume_readers[request.param]


@pytest.fixture(scope="session")
def writer(
    tmp_path_factory: pytest.TempPathFactory,
    cluster: LocalCluster,
    policy_opa: PolicyServers,
) -> Iterator[Served]:
    """A readwrite gateway under a policy that lets staging be written without approval."""
    directory = tmp_path_factory.mktemp("e2e-writer")
    env = cluster_env(directory, cluster, policy_opa(WRITABLE_STAGING), K8S_MCP_MODE="readwrite")
    with serve_http(env, directory) as served:
        yield served


def replicas(admin: ApiClient, name: str, namespace: str) -> int:
    return int(AppsV1Api(admin).read_namespaced_deployment(name, namespace).spec.replicas)


@pytest.fixture
def restore_web(cluster: LocalCluster) -> Iterator[None]:
    """Write tests share the session's cluster: put staging/web back as the seed left it (replicas,
    pod template, and a status that has observed them, as its controller would have), so later
    reads see a settled rollout."""
    yield
    cluster.seed()
