"""The gateway's own switches are a floor: a policy that allows everything cannot lift them.

The OPA stub allows every call, shows every tool and, where a test says so, obliges no dry run:
whatever still stops or narrows a call here is the gateway itself. The fake kube proves that a
refused call never reaches Kubernetes; the stub's call count proves the policy was not asked.
"""

from __future__ import annotations

import pytest

from tests.catalog import (
    ALL_TOOLS,
    CLUSTER_SCOPED_TOOLS,
    KUBE_METHOD,
    KUBE_READ_TOOLS,
    NAMESPACED_TOOLS,
    NODE_WRITES,
    WRITE_METHOD,
    WRITE_TOOLS,
    arguments_for,
)
from tests.conftest import GatewayFactory
from tests.fakes.opa import OpaStub, decision
from tests.gateways import Harness

READONLY = 'writes are disabled: the gateway runs in "readonly" mode (K8S_MCP_MODE)'


def outside_allowlist(namespace: str, allowed: str) -> str:
    return f'namespace "{namespace}" is not in the gateway\'s allowlist (K8S_MCP_NAMESPACES={allowed})'


def assert_denied_by_the_gateway(gateway: Harness, opa_stub: OpaStub, message: str, reasons: list[str]) -> None:
    assert message == "denied by the gateway: " + "; ".join(reasons)
    assert gateway.kube.calls == []
    assert opa_stub.decision_route.call_count == 0
    record = gateway.last_call()
    assert (record["outcome"], record["allow"], record["reasons"]) == ("gateway_denied", False, reasons)
    assert record["error"] == message
    assert record["decision_id"] is None
    assert [r["event"] for r in gateway.audit()].count("write_intent") == 0


@pytest.mark.parametrize("tool", WRITE_TOOLS)
async def test_a_readonly_gateway_runs_no_write_under_an_allow_all_policy(
    open_gateway: GatewayFactory, opa_stub: OpaStub, tool: str
) -> None:
    gateway = await open_gateway(opa_url=opa_stub.url, mode="readonly")

    for namespace in ("default", "staging", "prod"):
        where = {} if tool in NODE_WRITES else {"namespace": namespace}
        for dry_run in (False, True):
            message = await gateway.error(tool, arguments_for(tool, **where, dry_run=dry_run))
            assert_denied_by_the_gateway(gateway, opa_stub, message, [READONLY])


@pytest.mark.parametrize("tool", KUBE_READ_TOOLS)
async def test_a_readonly_gateway_still_runs_reads(open_gateway: GatewayFactory, opa_stub: OpaStub, tool: str) -> None:
    gateway = await open_gateway(opa_url=opa_stub.url, mode="readonly")

    await gateway.ok(tool, arguments_for(tool))

    assert gateway.kube.methods[0] == KUBE_METHOD[tool]
    assert gateway.last_call()["outcome"] == "ok"


@pytest.mark.parametrize("namespace", ["prod", "kube-system", "stagingx"])
@pytest.mark.parametrize("tool", NAMESPACED_TOOLS)
async def test_a_namespace_outside_the_gateway_allowlist_is_unreachable_under_an_allow_all_policy(
    open_gateway: GatewayFactory, opa_stub: OpaStub, tool: str, namespace: str
) -> None:
    gateway = await open_gateway(opa_url=opa_stub.url, mode="readwrite", namespaces=["staging", "default"])

    message = await gateway.error(tool, arguments_for(tool, namespace=namespace))

    assert_denied_by_the_gateway(gateway, opa_stub, message, [outside_allowlist(namespace, "staging,default")])


async def test_a_missing_namespace_is_checked_as_the_default_namespace(
    open_gateway: GatewayFactory, opa_stub: OpaStub
) -> None:
    gateway = await open_gateway(opa_url=opa_stub.url, namespaces=["staging"])

    message = await gateway.error("list_pods")

    assert_denied_by_the_gateway(gateway, opa_stub, message, [outside_allowlist("default", "staging")])


@pytest.mark.parametrize("tool", NAMESPACED_TOOLS)
async def test_the_gateway_allowlist_lets_its_namespaces_through(
    open_gateway: GatewayFactory, opa_stub: OpaStub, tool: str
) -> None:
    gateway = await open_gateway(opa_url=opa_stub.url, mode="readwrite", namespaces=["staging"])

    await gateway.ok(tool, arguments_for(tool, namespace="staging"))

    assert gateway.kube.methods[0] == KUBE_METHOD[tool]
    assert gateway.kube.calls[0][1]["namespace"] == "staging"


@pytest.mark.parametrize("tool", [*CLUSTER_SCOPED_TOOLS, *NODE_WRITES])
async def test_the_gateway_allowlist_leaves_cluster_scoped_actions_to_the_policy(
    open_gateway: GatewayFactory, opa_stub: OpaStub, tool: str
) -> None:
    """describe_pv also reads the volume's own events where Kubernetes records them, in `default`."""
    mode = "readwrite" if tool in NODE_WRITES else "readonly"
    gateway = await open_gateway(opa_url=opa_stub.url, namespaces=["staging"], mode=mode)

    await gateway.ok(tool, arguments_for(tool))

    volume_events = ["list_namespaced_event"] if tool == "describe_pv" else []
    assert gateway.kube.methods == [KUBE_METHOD[tool], *volume_events]


async def test_an_empty_gateway_allowlist_refuses_every_namespace(
    open_gateway: GatewayFactory, opa_stub: OpaStub
) -> None:
    gateway = await open_gateway(opa_url=opa_stub.url, namespaces=[])

    message = await gateway.error("list_pods", {"namespace": "staging"})

    assert_denied_by_the_gateway(gateway, opa_stub, message, [outside_allowlist("staging", "")])


async def test_every_switch_that_refuses_says_so(open_gateway: GatewayFactory, opa_stub: OpaStub) -> None:
    gateway = await open_gateway(opa_url=opa_stub.url, mode="readonly", namespaces=["staging"])

    message = await gateway.error("scale_deployment", arguments_for("scale_deployment", namespace="prod"))

    assert_denied_by_the_gateway(gateway, opa_stub, message, [READONLY, outside_allowlist("prod", "staging")])


async def test_a_refusal_by_the_gateway_reads_differently_from_a_policy_denial(
    open_gateway: GatewayFactory, opa_stub: OpaStub
) -> None:
    gateway = await open_gateway(opa_url=opa_stub.url, namespaces=["staging"])
    opa_stub.decide(decision(allow=False, reasons=['namespace "staging" is not in the allowlist']))

    by_policy = await gateway.error("list_pods", {"namespace": "staging"})
    policy_record = gateway.last_call()
    by_gateway = await gateway.error("list_pods", {"namespace": "prod"})
    gateway_record = gateway.last_call()

    assert by_policy.startswith("denied by policy: ")
    assert by_gateway.startswith("denied by the gateway: ")
    assert (policy_record["outcome"], gateway_record["outcome"]) == ("denied", "gateway_denied")
    assert policy_record["decision_id"] == "stub-decision-1"
    assert gateway.kube.calls == []


@pytest.mark.parametrize("asked", [False, True], ids=["not asked", "asked"])
@pytest.mark.parametrize("tool", WRITE_TOOLS)
async def test_a_dry_run_gateway_runs_every_write_as_a_server_dry_run(
    open_gateway: GatewayFactory, opa_stub: OpaStub, tool: str, asked: bool
) -> None:
    gateway = await open_gateway(opa_url=opa_stub.url, mode="readwrite", dry_run=True)
    opa_stub.decide(decision(allow=True, obligations={"max_log_lines": 500, "dry_run": False}))

    result = await gateway.ok(tool, arguments_for(tool, dry_run=asked))

    [(method, kwargs)] = gateway.kube.mutations
    assert (method, kwargs["dry_run"]) == (WRITE_METHOD[tool], "All")
    assert result["dry_run"] is True
    [document] = opa_stub.decision_inputs
    assert document["gateway"]["dry_run"] is True
    intent, call = gateway.audit()[-2:]
    assert (intent["event"], intent["arguments"]["dry_run"]) == ("write_intent", True)
    assert (call["outcome"], call["arguments"]["dry_run"]) == ("ok", True)


@pytest.mark.parametrize("tool", KUBE_READ_TOOLS)
async def test_a_dry_run_gateway_leaves_reads_alone(open_gateway: GatewayFactory, opa_stub: OpaStub, tool: str) -> None:
    gateway = await open_gateway(opa_url=opa_stub.url, dry_run=True)

    await gateway.ok(tool, arguments_for(tool))

    assert "dry_run" not in gateway.kube.calls[0][1]
    assert "dry_run" not in gateway.last_call()["arguments"]


async def test_every_write_tool_can_be_dry_run(gateway: Harness) -> None:
    """The dry-run floor sets `dry_run` on every write: a write tool without it could not run as one."""
    tools = {tool.name: tool for tool in await gateway.client.list_tools()}

    assert set(tools) == set(ALL_TOOLS)
    writes = [name for name, tool in tools.items() if tool.annotations and not tool.annotations.read_only_hint]
    assert sorted(writes) == sorted(WRITE_TOOLS)
    for name in writes:
        assert tools[name].input_schema["properties"]["dry_run"]["type"] == "boolean"
