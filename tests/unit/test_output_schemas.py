"""Every tool's answer is what its `outputSchema` says, and a strict client holds the tools to it.

The `mcp` SDK's client session (under `fastmcp.Client`) checks each successful result's structured
content against the schema it listed, so every test that calls a tool through the client checks
its answer too. Here each tool's real answer is also checked explicitly, with `jsonschema`, against
the schema `tools/list` advertises; a write's pending-approval answer is checked against the same
schema as its result; and one tool made to drift from its schema is refused by the client.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from fastmcp import Client, FastMCP
from jsonschema import Draft202012Validator

from gateway.catalog import Catalog
from gateway.contexts import Contexts
from gateway.server import register_tools
from tests.catalog import ALL_TOOLS, WRITE_TOOLS, arguments_for
from tests.fakes.kube import CountingKube
from tests.fakes.opa import NO_APPROVAL, OpaStub, decision
from tests.gateways import Harness

Schema = dict[str, Any]
APPROVAL = {**NO_APPROVAL, "required": True, "approvers": ["group:sre-leads"], "count": 1, "ttl_seconds": 900}
NEEDS_APPROVAL = decision(allow=False, reasons=["approval required"], approval={**APPROVAL, "kinds": ["review"]})


@pytest.fixture
async def schemas(gateway: Harness) -> dict[str, Schema]:
    return {tool.name: tool.output_schema for tool in await gateway.client.list_tools()}


def problems(schema: Schema, answer: Any) -> list[str]:
    """Every way `answer` breaks `schema`, as `path: message` lines."""
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in Draft202012Validator(schema).iter_errors(answer)
    ]


def closed_objects(schema: Any) -> list[bool]:
    """For each object schema with properties, whether it forbids other keys."""
    found = []
    if isinstance(schema, dict):
        if "properties" in schema:
            found.append(schema.get("additionalProperties") is False)
        for value in schema.values():
            found += closed_objects(value)
    elif isinstance(schema, list):
        for value in schema:
            found += closed_objects(value)
    return found


async def test_every_tool_advertises_a_closed_object_schema(schemas: dict[str, Schema]) -> None:
    assert set(schemas) == set(ALL_TOOLS)
    for name, schema in schemas.items():
        Draft202012Validator.check_schema(schema)
        assert schema["type"] == "object", name
        assert schema != {"type": "object", "additionalProperties": True}, name
        assert closed_objects(schema), name
        assert all(closed_objects(schema)), name


async def test_a_write_answers_its_result_or_a_pending_approval(schemas: dict[str, Schema]) -> None:
    for name in WRITE_TOOLS:
        result, pending = schemas[name]["anyOf"]
        assert "status" not in result["properties"], name
        assert pending["properties"]["status"]["enum"] == ["pending_approval", "approved"], name


@pytest.mark.parametrize("tool", [t for t in ALL_TOOLS if t not in ("get_approval", "list_my_approvals")])
async def test_each_tool_answers_what_its_schema_says(gateway: Harness, schemas: dict[str, Schema], tool: str) -> None:
    answer = await gateway.ok(tool, arguments_for(tool))
    assert problems(schemas[tool], answer) == []


async def test_the_approval_answers_are_what_their_schemas_say(
    gateway: Harness, opa_stub: OpaStub, schemas: dict[str, Schema]
) -> None:
    opa_stub.decide(NEEDS_APPROVAL)
    pending = await gateway.ok("scale_deployment", arguments_for("scale_deployment", replicas=5))
    assert pending["status"] == "pending_approval"
    assert problems(schemas["scale_deployment"], pending) == []
    assert gateway.kube.writes == []
    opa_stub.decide(decision(allow=True))
    shown = await gateway.ok("get_approval", {"approval_id": pending["approval_id"]})
    listed = await gateway.ok("list_my_approvals")
    assert problems(schemas["get_approval"], shown) == []
    assert problems(schemas["list_my_approvals"], listed) == []
    assert [a["approval_id"] for a in listed["approvals"]] == [pending["approval_id"]]


async def test_a_denial_is_an_error_not_a_half_structured_answer(gateway: Harness, opa_stub: OpaStub) -> None:
    opa_stub.decide(decision(allow=False, reasons=["no"]))
    result = await gateway.call("scale_deployment", arguments_for("scale_deployment"))
    assert result.is_error
    assert result.structured_content is None
    assert gateway.kube.calls == []


async def list_pods(kube: object) -> dict[str, Any]:
    """list_pods drifted from its schema: its rows lost keys and changed a type."""
    return {"namespace": "default", "pods": [{"name": "web-1", "restarts": "3"}], "continue": None, "remaining": None}


async def test_a_strict_client_refuses_an_answer_that_drifts_from_the_schema() -> None:
    entry = Catalog().get("list_pods")
    assert entry is not None
    drifted = replace(entry, handler=list_pods)
    server = FastMCP(name="drift")
    register_tools(server, catalog=Catalog((drifted,)), contexts=Contexts({"test": CountingKube()}))
    async with Client(server) as client:
        [listed] = await client.list_tools()
        assert listed.output_schema is not None
        assert listed.output_schema["properties"].keys() == entry.output.model_json_schema()["properties"].keys()
        with pytest.raises(RuntimeError, match="Invalid structured content returned by tool list_pods"):
            await client.call_tool("list_pods", {})
