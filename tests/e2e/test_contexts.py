"""Two kubeconfig contexts behind one gateway process, against the real apiserver and OPA.

The sandbox has one apiserver, so the gateway's kubeconfig is copied with a second context,
`sandbox-west`, on a second cluster entry with the same server and credentials: two names for
one cluster. `list_contexts` shows both on the one server; a read on each context reaches the
apiserver, and each call's audit record names the cluster its context chose, which is what the
policy and an approval's digest see.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from k8s_mcp_sandbox import seed
from k8s_mcp_sandbox.cluster import GATEWAY_CONTEXT, GATEWAY_USER, LocalCluster
from k8s_mcp_sandbox.opa import OpaServer
from tests.e2e.conftest import cluster_env
from tests.gateways import serve_stdio

pytestmark = pytest.mark.e2e

WEST = "sandbox-west"
CRASH_NAMESPACE, CRASH_POD = seed.CRASHLOOP_POD


def with_west(kubeconfig: Path, directory: Path) -> Path:
    """A copy of `kubeconfig` with the context `sandbox-west`: the gateway's, on a cluster entry of its own."""
    config: dict[str, Any] = yaml.safe_load(kubeconfig.read_text())
    [context] = [entry for entry in config["contexts"] if entry["name"] == GATEWAY_CONTEXT]
    [cluster] = [entry for entry in config["clusters"] if entry["name"] == context["context"]["cluster"]]
    config["clusters"].append({**copy.deepcopy(cluster), "name": "west"})
    config["contexts"].append({"name": WEST, "context": {**context["context"], "cluster": "west"}})
    copied = directory / "two-contexts.kubeconfig"
    copied.write_text(yaml.safe_dump(config))
    return copied


async def test_a_read_on_each_context_reaches_the_apiserver_and_names_its_cluster(
    tmp_path: Path, cluster: LocalCluster, opa: OpaServer
) -> None:
    env = {
        **cluster_env(tmp_path, cluster, opa),
        "K8S_MCP_KUBECONFIG": str(with_west(cluster.gateway_kubeconfig, tmp_path)),
        "K8S_MCP_CONTEXTS": f"{GATEWAY_CONTEXT},{WEST}",
    }
    async with serve_stdio(env, tmp_path, principal="alice") as served, served.client() as client:
        [listed] = [tool for tool in await client.list_tools() if tool.name == "list_pods"]
        assert listed.input_schema["properties"]["context"]["enum"] == [GATEWAY_CONTEXT, WEST]
        shown = (await client.call_tool("list_contexts", {})).structured_content
        assert shown is not None
        with cluster.gateway_client() as api:
            server = urlsplit(api.configuration.host).netloc
        assert shown["contexts"] == [
            {"name": GATEWAY_CONTEXT, "server": server, "default": True},
            {"name": WEST, "server": server, "default": False},
        ]
        for context in (GATEWAY_CONTEXT, WEST):
            mark = cluster.audit.mark()
            result = await client.call_tool(
                "list_pods", {"namespace": CRASH_NAMESPACE, "context": context}, raise_on_error=False
            )
            assert not result.is_error, result.content
            assert isinstance(result.structured_content, dict)
            assert CRASH_POD in {pod["name"] for pod in result.structured_content["pods"]}
            assert served.last_record()["input"]["gateway"]["cluster"] == context
            found = cluster.audit.wait_count(1, since=mark, user=GATEWAY_USER, verb="list", resource="pods")
            assert found == 1
