"""tools/list shows what the real policy could allow; the listing is a courtesy, calls are decided again."""

from __future__ import annotations

from typing import Any

import pytest

from k8s_mcp_sandbox.opa import OpaServer
from tests.catalog import (
    ALL_TOOLS,
    APPROVAL_TOOLS,
    NODE_WRITES,
    PV_TOOLS,
    READ_TOOLS,
    SHIPPED_CLUSTER_READS,
    SHIPPED_READS,
)
from tests.conftest import GatewayFactory, PolicyServers
from tests.gateways import Harness

pytestmark = pytest.mark.integration

# What needs no namespace: the cluster-scoped reads, and the approval tools, which the Kubernetes
# allowlists do not govern (each principal reads its own requests). In readwrite mode the node
# writes of the shipped `cluster_writes` need none either.
CLUSTER_READS = set(SHIPPED_CLUSTER_READS) | set(APPROVAL_TOOLS)


async def test_the_default_policy_lists_the_read_tools(live_gateway: Harness) -> None:
    assert await live_gateway.tool_names() == set(SHIPPED_READS)
    assert live_gateway.kube.calls == []


@pytest.mark.parametrize(
    ("policy", "settings", "visible"),
    [
        ({"mode": "readwrite"}, {"mode": "readwrite"}, set(ALL_TOOLS) - set(PV_TOOLS)),
        ({"mode": "readwrite"}, {"mode": "readonly"}, set(SHIPPED_READS)),
        ({"mode": "readonly"}, {"mode": "readwrite"}, set(SHIPPED_READS)),
        ({"namespaces": []}, {}, CLUSTER_READS),
        ({"mode": "readwrite", "namespaces": []}, {"mode": "readwrite"}, CLUSTER_READS | set(NODE_WRITES)),
        ({"cluster_reads": []}, {}, set(SHIPPED_READS) - set(SHIPPED_CLUSTER_READS)),
        ({"cluster_reads": ["nodes"]}, {}, set(SHIPPED_READS) - {"list_namespaces"}),
        ({"namespaces": [], "cluster_reads": []}, {}, set(APPROVAL_TOOLS)),
        ({}, {"namespaces": ["prod"]}, CLUSTER_READS),
        ({}, {"namespaces": ["staging"]}, set(SHIPPED_READS)),
        ({"cluster_reads": ["namespaces", "nodes", "persistentvolumes"]}, {}, set(READ_TOOLS)),
        ({"namespaces": [], "cluster_reads": ["persistentvolumes"]}, {}, set(PV_TOOLS) | set(APPROVAL_TOOLS)),
    ],
    ids=[
        "readwrite policy and gateway",
        "readwrite policy, readonly gateway",
        "readonly policy, readwrite gateway",
        "no namespaces",
        "readwrite, no namespaces",
        "no cluster reads",
        "only nodes",
        "nothing reachable",
        "gateway allowlist outside the policy's",
        "gateway allowlist inside the policy's",
        "persistent volumes listed",
        "only persistent volumes",
    ],
)
async def test_the_listing_follows_policy_data_and_gateway_state(
    open_gateway: GatewayFactory,
    policy_opa: PolicyServers,
    policy: dict[str, Any],
    settings: dict[str, Any],
    visible: set[str],
) -> None:
    gateway = await open_gateway(**policy_opa(policy).settings(), **settings)

    assert await gateway.tool_names() == visible


async def test_tools_hidden_by_the_listing_are_still_decided_when_called(
    open_gateway: GatewayFactory, policy_opa: PolicyServers
) -> None:
    gateway = await open_gateway(**policy_opa({"namespaces": []}).settings())

    message = await gateway.error("list_pods", {"namespace": "default"})

    assert 'namespace "default" is not in the allowlist' in message
    assert gateway.kube.calls == []


async def test_a_stopped_policy_server_lists_nothing_and_denies_everything(open_gateway: GatewayFactory) -> None:
    opa = OpaServer().start()
    try:
        gateway = await open_gateway(**opa.settings())
        assert await gateway.tool_names() == set(SHIPPED_READS)
    finally:
        opa.stop()

    assert await gateway.tool_names() == set()
    for tool in ("list_pods", "list_namespaces"):
        assert await gateway.error(tool) == "denied: policy unavailable"
    assert gateway.kube.calls == []
    assert [r["outcome"] for r in gateway.tool_calls()] == ["policy_unavailable"] * 2
