"""On the real apiserver: the gateway's floor holds under a policy that allows everything.

The allow-all policy is a real OPA serving a decision rule that is always `allow`: whatever stops
a write here is the gateway itself. "No API request" is proven with the apiserver's audit log.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes.client import ApiClient

from gateway.sandbox.cluster import GATEWAY_USER, LocalCluster
from gateway.sandbox.opa import OpaServer
from tests.e2e.conftest import cluster_env
from tests.e2e.test_enforcement import refused_without_api_requests, replicas, restore_web  # noqa: F401
from tests.support import serve_http

pytestmark = pytest.mark.e2e

ALLOW_ALL_REGO = """\
package mcp.authz

import rego.v1

decision := {
	"allow": true,
	"reasons": [],
	"approval": {"required": false, "approvers": [], "count": 0, "ttl_seconds": 0, "kinds": []},
	"obligations": {"max_log_lines": 500, "dry_run": false},
}

visible_tools := sort([entry.tool.name | some entry in input.catalog])
"""

SCALE_PROD_TO_ZERO = {"deployment_name": "web", "namespace": "prod", "replicas": 0}


@pytest.fixture(scope="module")
def allow_all(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpaServer]:
    """A real OPA whose policy allows every call: a replaced (or wrong) policy at its worst."""
    directory = tmp_path_factory.mktemp("allow-all-policy")
    (directory / "allow_all.rego").write_text(ALLOW_ALL_REGO)
    with OpaServer(paths=(directory,)) as server:
        yield server


FLOORS: dict[str, tuple[dict[str, str], str]] = {
    "readonly": ({"K8S_MCP_MODE": "readonly"}, 'writes are disabled: the gateway runs in "readonly" mode'),
    "staging only": (
        {"K8S_MCP_MODE": "readwrite", "K8S_MCP_NAMESPACES": "staging"},
        'namespace "prod" is not in the gateway\'s allowlist',
    ),
}


@pytest.mark.parametrize(("settings", "said"), FLOORS.values(), ids=FLOORS.keys())
async def test_the_floor_refuses_a_write_an_allow_all_policy_allows(
    tmp_path: Path,
    cluster: LocalCluster,
    admin: ApiClient,
    allow_all: OpaServer,
    settings: dict[str, str],
    said: str,
) -> None:
    before = replicas(admin, "web", "prod")

    with serve_http(cluster_env(tmp_path, cluster, allow_all.url, **settings), tmp_path) as served:
        message, record = await refused_without_api_requests(cluster, served, "scale_deployment", SCALE_PROD_TO_ZERO)

    assert message.startswith("denied by the gateway: ")
    assert said in message
    assert (record["outcome"], record["decision_id"]) == ("gateway_denied", None)
    assert replicas(admin, "web", "prod") == before > 0


async def test_a_dry_run_gateway_sends_an_allowed_write_as_a_server_dry_run(
    tmp_path: Path, cluster: LocalCluster, admin: ApiClient, allow_all: OpaServer
) -> None:
    before = replicas(admin, "web", "prod")
    env = cluster_env(tmp_path, cluster, allow_all.url, K8S_MCP_MODE="readwrite", K8S_MCP_DRY_RUN="true")

    with serve_http(env, tmp_path) as served:
        mark = cluster.audit.mark()
        async with served.client() as client:
            result = await client.call_tool("scale_deployment", {**SCALE_PROD_TO_ZERO, "dry_run": False})

    assert not result.is_error
    assert result.structured_content is not None
    assert result.structured_content["dry_run"] is True
    assert cluster.audit.wait_count(1, since=mark, user=GATEWAY_USER, verb="patch", resource="deployments/scale") == 1
    [patch] = [event for event in cluster.audit.events(since=mark) if event["verb"] == "patch"]
    assert "dryRun=All" in patch["requestURI"]
    assert replicas(admin, "web", "prod") == before > 0
