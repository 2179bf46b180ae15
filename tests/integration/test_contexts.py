"""Several kubeconfig contexts behind one gateway, through the MCP client and the real OPA.

The gateway serves two contexts, `east` (the default) and `west`, each a fake kube that counts
its calls, under the shipped policy with writes open to alice (group sre) and a write to
`default` needing bob's (group sre-leads) approval. Each call is shown to reach the kube it chose
and no other, a refused one to reach neither. With policy data per cluster
(`data.mcp.config.clusters`), the same call is decided by its own cluster's data.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from fastmcp import Client

from gateway.server import Gateway
from gateway.settings import Settings
from tests.catalog import READWRITE, SCALE, expected_digest
from tests.conftest import PolicyServers
from tests.fakes.kube import CountingKube
from tests.gateways import Harness

pytestmark = pytest.mark.integration

LIST_PODS = {"namespace": "default"}


@pytest.fixture
def east() -> CountingKube:
    return CountingKube(cluster="east")


@pytest.fixture
def west() -> CountingKube:
    return CountingKube(cluster="west")


WEST_WRITES = {"mode": "readonly", "clusters": {"west": {"mode": "readwrite", "namespaces": ["staging"]}}}
"""The shipped data (group sre writes in staging) read-only at the top, with `west` taking writes and
reading staging only."""

Opener = Callable[[Mapping[str, Any]], AbstractAsyncContextManager[Harness]]


@pytest.fixture
def open_alice(tmp_path: Path, policy_opa: PolicyServers, east: CountingKube, west: CountingKube) -> Opener:
    """alice (group sre) on a readwrite gateway serving `east` then `west`, under the shipped policy
    with `data` patched in; the harness's `kube` is the default's."""

    @asynccontextmanager
    async def open_(data: Mapping[str, Any]) -> AsyncIterator[Harness]:
        settings = Settings(
            **policy_opa(data).settings(),
            mode="readwrite",
            principal="alice",
            principal_groups=["sre"],
            audit_path=tmp_path / "audit.jsonl",
        )
        gateway = Gateway.open(settings, kube={"east": east, "west": west})
        try:
            async with Client(gateway.server) as client:
                yield Harness(gateway=gateway, client=client, kube=east, audit_path=settings.audit_path).reset()
        finally:
            await gateway.aclose()

    return open_


@pytest.fixture
async def alice(open_alice: Opener) -> AsyncIterator[Harness]:
    """Writes open on both clusters."""
    async with open_alice(READWRITE) as harness:
        yield harness


@pytest.fixture
async def west_writes(open_alice: Opener) -> AsyncIterator[Harness]:
    """Writes open on `west` only, which reads staging only (WEST_WRITES)."""
    async with open_alice(WEST_WRITES) as harness:
        yield harness


async def test_each_kubernetes_tool_offers_the_configured_contexts_and_the_gateway_tools_do_not(alice: Harness) -> None:
    schemas = {tool.name: tool.input_schema["properties"] for tool in await alice.client.list_tools()}

    assert schemas["list_pods"]["context"]["enum"] == ["east", "west"]
    assert schemas["scale_deployment"]["context"]["default"] == "east"
    assert schemas["get_resource"]["context"]["enum"] == ["east", "west"]
    assert schemas["my_permissions"]["context"]["enum"] == ["east", "west"]
    assert "context" not in schemas["get_approval"]
    assert "context" not in schemas["list_contexts"]


@pytest.mark.parametrize(
    ("chosen", "cluster"), [({}, "east"), ({"context": "east"}, "east"), ({"context": "west"}, "west")]
)
async def test_a_read_runs_on_the_context_it_names_and_no_other(
    alice: Harness, east: CountingKube, west: CountingKube, chosen: dict[str, str], cluster: str
) -> None:
    await alice.ok("list_pods", {**LIST_PODS, **chosen})

    used, unused = (east, west) if cluster == "east" else (west, east)
    assert used.methods == ["list_namespaced_pod"]
    assert unused.calls == []
    record = alice.last_call()
    assert record["input"]["gateway"]["cluster"] == cluster
    assert "context" not in record["input"]["arguments"]
    assert record["action_digest"] == expected_digest("list_pods", record["input"]["arguments"], cluster)


async def test_list_contexts_names_each_context_its_server_and_the_default(
    alice: Harness, east: CountingKube, west: CountingKube
) -> None:
    east.api_client.configuration.host = "https://east.example"
    west.api_client.configuration.host = "https://west.example:6443"

    answer = await alice.ok("list_contexts")

    assert answer == {
        "contexts": [
            {"name": "east", "server": "east.example", "default": True},
            {"name": "west", "server": "west.example:6443", "default": False},
        ]
    }
    assert east.calls == west.calls == []


async def test_an_unknown_context_is_invalid_and_reaches_no_cluster(
    alice: Harness, east: CountingKube, west: CountingKube
) -> None:
    message = await alice.error("list_pods", {**LIST_PODS, "context": "north"})

    assert message == "invalid arguments: context: must be one of the configured contexts (east, west)"
    assert east.calls == west.calls == []
    record = alice.last_call()
    assert (record["outcome"], record["error"]) == ("invalid", message)


async def test_a_gateway_tool_takes_no_context(alice: Harness, east: CountingKube, west: CountingKube) -> None:
    message = await alice.error("list_my_approvals", {"context": "west"})

    assert message.startswith("invalid arguments: context: ")
    assert "is not an argument of this tool" in message
    assert east.calls == west.calls == []


async def test_a_policy_denial_on_the_other_context_reaches_neither(
    alice: Harness, east: CountingKube, west: CountingKube
) -> None:
    message = await alice.error("list_pods", {"namespace": "kube-system", "context": "west"})

    assert 'namespace "kube-system" is not in the allowlist' in message
    assert east.calls == west.calls == []
    record = alice.last_call()
    assert (record["outcome"], record["input"]["gateway"]["cluster"]) == ("denied", "west")


async def test_an_approval_given_for_one_context_is_refused_on_the_other(
    alice: Harness, east: CountingKube, west: CountingKube
) -> None:
    pending = await alice.ok("scale_deployment", SCALE)
    assert (pending["status"], pending["cluster"]) == ("pending_approval", "east")
    approval_id = pending["approval_id"]
    run = await alice.approvals("approve", approval_id)
    assert run.code == 0, run.err
    east.reset()

    message = await alice.error("scale_deployment", {**SCALE, "context": "west", "approval_id": approval_id})

    assert "action digest mismatch" in message
    assert east.calls == west.calls == []
    await alice.ok("scale_deployment", {**SCALE, "context": "east", "approval_id": approval_id})
    assert [name for name, _ in east.writes] == ["patch_namespaced_deployment_scale"]
    assert west.calls == []


async def test_a_write_waiting_for_approval_previews_on_its_own_context(
    alice: Harness, east: CountingKube, west: CountingKube
) -> None:
    pending = await alice.ok("scale_deployment", {**SCALE, "context": "west"})

    assert (pending["status"], pending["cluster"]) == ("pending_approval", "west")
    assert east.calls == []
    assert west.methods == ["read_namespaced_deployment", "patch_namespaced_deployment_scale"]
    assert west.writes == []


async def test_tools_list_shows_a_write_allowed_on_any_cluster(west_writes: Harness) -> None:
    names = {tool.name for tool in await west_writes.client.list_tools()}

    assert {"scale_deployment", "restart_deployment"} <= names


async def test_each_cluster_is_decided_by_its_own_policy_data(
    west_writes: Harness, east: CountingKube, west: CountingKube
) -> None:
    message = await west_writes.error("scale_deployment", {**SCALE, "namespace": "staging"})
    assert 'writes are disabled: the policy mode is "readonly"' in message
    assert east.calls == west.calls == []

    pending = await west_writes.ok("scale_deployment", {**SCALE, "namespace": "staging", "context": "west"})
    assert (pending["status"], pending["cluster"]) == ("pending_approval", "west")
    assert west.writes == []
    assert east.calls == []


async def test_a_cluster_narrows_its_namespaces_and_says_which_it_allows(
    west_writes: Harness, east: CountingKube, west: CountingKube
) -> None:
    message = await west_writes.error("list_pods", {**LIST_PODS, "context": "west"})

    assert 'namespace "default" is not in the allowlist on cluster "west"' in message
    assert "namespaces you may use for this tool: staging" in message
    assert east.calls == west.calls == []
    await west_writes.ok("list_pods", LIST_PODS)
    assert east.methods == ["list_namespaced_pod"]
    assert west.calls == []


async def test_my_permissions_answers_for_the_cluster_asked_about(west_writes: Harness) -> None:
    default = await west_writes.ok("my_permissions")
    on_west = await west_writes.ok("my_permissions", {"context": "west"})

    assert (default["cluster"], default["permissions"]["mode"]) == ("east", "readonly")
    assert (on_west["cluster"], on_west["permissions"]["mode"]) == ("west", "readwrite")
    assert on_west["permissions"]["namespaces"] == ["staging"]
    assert [(write["tool"], write["namespace"]) for write in on_west["permissions"]["writes"]] == [
        ("restart_deployment", "staging"),
        ("scale_deployment", "staging"),
    ]
    assert default["permissions"]["writes"] == []
