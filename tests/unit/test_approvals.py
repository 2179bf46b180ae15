"""The approval flow's contract with OPA and with clients, against the OPA stub.

What OPA is sent (`input.approval`, a digest without the carried arguments), what clients are
shown (the write tools' extra arguments), and what the operator's CLI prints. Whether an approval
is valid is the real policy's business: tests/integration/test_approvals.py.
"""

from __future__ import annotations

import json
import stat
from datetime import datetime

import pytest

from tests.catalog import READ_TOOLS, WRITE_TOOLS, expected_digest
from tests.conftest import GatewayFactory
from tests.fakes.opa import OpaStub, decision
from tests.gateways import Harness

APPROVAL = {"required": True, "approvers": ["group:sre-leads"], "count": 1, "ttl_seconds": 900, "kinds": ["review"]}
NEEDS_APPROVAL = decision(
    allow=False, reasons=["approval required: 1 approval from group:sre-leads"], approval=APPROVAL
)
SCALE = {"deployment_name": "web", "namespace": "default", "replicas": 5}


@pytest.fixture
async def writer(open_gateway: GatewayFactory, opa_stub: OpaStub) -> Harness:
    """alice on a readwrite gateway whose (stubbed) policy wants every write approved."""
    opa_stub.decide(NEEDS_APPROVAL)
    return await open_gateway(opa_url=opa_stub.url, mode="readwrite", principal="alice", principal_groups=["sre"])


async def test_every_write_accepts_approval_id_and_wait_seconds_and_no_read_does(gateway: Harness) -> None:
    schemas = {tool.name: tool.input_schema for tool in await gateway.client.list_tools()}

    for name in WRITE_TOOLS:
        properties = schemas[name]["properties"]
        assert properties["approval_id"]["anyOf"][0]["pattern"] == "^[A-Za-z0-9_][A-Za-z0-9_-]{31}$"
        assert (properties["wait_seconds"]["minimum"], properties["wait_seconds"]["maximum"]) == (0, 300)
        assert {"approval_id", "wait_seconds"}.isdisjoint(schemas[name]["required"])
    for name in READ_TOOLS:
        assert "wait_seconds" not in schemas[name]["properties"]
    assert set(schemas["get_approval"]["properties"]) == {"approval_id"}


async def test_how_a_call_is_carried_out_is_not_part_of_what_it_does(writer: Harness, opa_stub: OpaStub) -> None:
    approval_id = (await writer.ok("scale_deployment", SCALE))["approval_id"]

    again = await writer.ok("scale_deployment", {**SCALE, "approval_id": approval_id, "wait_seconds": 0})

    assert again["approval_id"] == approval_id
    first, second = opa_stub.decision_inputs
    arguments = {**SCALE, "dry_run": False}
    assert first["arguments"] == second["arguments"] == arguments
    assert first["action_digest"] == second["action_digest"] == expected_digest("scale_deployment", arguments)
    assert first["approval"] is None
    assert second["approval"]["id"] == approval_id


async def test_input_approval_has_the_contract_shape(writer: Harness, opa_stub: OpaStub) -> None:
    pending = await writer.ok("scale_deployment", SCALE)
    approval_id = pending["approval_id"]
    assert (await writer.approvals("approve", approval_id, "--reason", "change 4711")).code == 0

    message = await writer.error("scale_deployment", {**SCALE, "approval_id": approval_id})

    assert message.startswith(f"refused: approval {approval_id} does not allow this call: approval required")
    sent = opa_stub.decision_inputs[-1]["approval"]
    assert sent == {
        "id": approval_id,
        "kind": "review",
        "state": "approved",
        "requested_by": "alice",
        "approved_by": [{"sub": "bob", "groups": ["sre-leads"]}],
        "created_at": pending["created_at"],
        "expires_at": pending["expires_at"],
        "action_digest": opa_stub.decision_inputs[-1]["action_digest"],
    }
    for moment in (sent["created_at"], sent["expires_at"]):
        assert datetime.strptime(moment, "%Y-%m-%dT%H:%M:%S.%fZ")
    assert writer.kube.writes == []


async def test_get_approval_sends_the_request_it_names_to_the_policy(writer: Harness, opa_stub: OpaStub) -> None:
    approval_id = (await writer.ok("scale_deployment", SCALE))["approval_id"]
    opa_stub.decide(decision(allow=True))

    shown = await writer.ok("get_approval", {"approval_id": approval_id})

    document = opa_stub.decision_inputs[-1]
    assert document["action"] == {
        "verb": "get",
        "group": "k8s-mcp-gateway",
        "resource": "approvals",
        "subresource": "",
        "namespace": None,
        "name": approval_id,
        "cluster_scoped": True,
        "write": False,
    }
    assert (document["approval"]["id"], document["approval"]["requested_by"]) == (approval_id, "alice")
    assert (shown["approval_id"], shown["state"], shown["tool"]) == (approval_id, "pending", "scale_deployment")


async def test_the_approval_tools_are_denied_like_any_other_tool(writer: Harness, opa_stub: OpaStub) -> None:
    approval_id = (await writer.ok("scale_deployment", SCALE))["approval_id"]
    opa_stub.decide(decision(allow=False, reasons=["no"]))

    assert await writer.error("get_approval", {"approval_id": approval_id}) == "denied by policy: no"
    assert await writer.error("list_my_approvals") == "denied by policy: no"


async def test_the_approval_store_is_readable_by_its_owner_only(writer: Harness) -> None:
    path = writer.gateway.approvals.path

    assert path.name == "approvals.db"
    assert path.parent == writer.audit_path.parent
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


# --------------------------------------------------------------------------------------------
# The operator's CLI
# --------------------------------------------------------------------------------------------


async def test_the_cli_lists_and_shows_requests(writer: Harness) -> None:
    approval_id = (await writer.ok("scale_deployment", SCALE))["approval_id"]

    listed = await writer.approvals("list")
    shown = await writer.approvals("show", approval_id)

    [line] = listed.out.splitlines()
    assert line.startswith(f"{approval_id}  pending   scale_deployment(deployment_name='web', replicas=5, ")
    assert "on test-cluster  requested by alice, 0 of 1 approvals, expires " in line
    view = json.loads(shown.out)
    assert (view["approval_id"], view["state"], view["approvers"]) == (approval_id, "pending", ["group:sre-leads"])
    assert view["preview"] == {"changes": [], "summary": ["no change to the object's spec"]}


async def test_the_cli_lists_closed_requests_only_when_asked(writer: Harness) -> None:
    approval_id = (await writer.ok("scale_deployment", SCALE))["approval_id"]
    await writer.approvals("deny", approval_id)

    assert (await writer.approvals("list")).out == "no approval requests\n"
    assert (await writer.approvals("list", "--all")).out.startswith(f"{approval_id}  denied ")


@pytest.mark.parametrize("action", ["show", "approve", "deny"])
async def test_the_cli_names_an_unknown_request(writer: Harness, action: str) -> None:
    run = await writer.approvals(action, "B" * 32)

    assert (run.code, run.out) == (1, "")
    assert run.err == f"error: approval_id: no approval request has the id {'B' * 32!r}"


async def test_the_cli_needs_an_id_to_decide(writer: Harness) -> None:
    run = await writer.approvals("approve")

    assert run.code == 2
    assert "the following arguments are required: approval_id" in run.err
