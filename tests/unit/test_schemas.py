"""A client that validates arguments against the tools' JSON Schemas can trust them.

`tools/list` is where a strict client learns the rules. Every argument is described, every
string is bound by an anchored pattern or an enum (JSON Schema's `pattern` matches anywhere in
the value unless anchored, so `../prod` would pass an unanchored DNS-label pattern), and the
schema refuses exactly what the gateway refuses.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from tests.catalog import ALL_TOOLS, arguments_for
from tests.fakes.opa import OpaStub
from tests.gateways import Harness, error_text

Schema = dict[str, Any]

# Values a client might send, by JSON type. A value ending in a newline is left out: the
# `jsonschema` package matches patterns with Python's `re`, whose `$` admits a trailing newline
# (ECMA-262's, which JSON Schema specifies, does not); the gateway refuses it either way.
STRING_PROBES = [
    "prod",
    "../prod",
    "Prod",
    "prod/x",
    "",
    " ",
    "*",
    "-web",
    "web-1.abc",
    "a" * 63,
    "a" * 64,
    "a" * 254,
    "app=web",
    " app=web,tier!=db ",
    "env in (a,b)",
    "app=web;rm -rf /",
    "status.phase=Running",
    "metadata.name=web 1",
    "eyJ2IjoibWV0YS5rOHMuaW8vdjEifQ",
    "abc+/=",
    "Warning",
    "Error",
]
INTEGER_PROBES = [-1, 0, 1, 20, 100, 101, 500, 501, 10_000, 10_001, 604_800, 604_801]


@pytest.fixture
async def schemas(gateway: Harness) -> dict[str, Schema]:
    return {tool.name: tool.input_schema for tool in await gateway.client.list_tools()}


def branches(schema: Schema) -> Iterator[Schema]:
    """The schema of an argument and, for an optional one, each branch of its `anyOf`."""
    yield schema
    for branch in schema.get("anyOf", []):
        yield from branches(branch)


def properties(schemas: dict[str, Schema]) -> Iterator[tuple[str, str, Schema]]:
    for tool, schema in schemas.items():
        for name, argument in schema["properties"].items():
            yield tool, name, argument


async def test_every_tool_has_a_closed_schema(schemas: dict[str, Schema]) -> None:
    assert set(schemas) == set(ALL_TOOLS)
    for schema in schemas.values():
        assert schema["type"] == "object"
        assert schema["additionalProperties"] is False


async def test_every_argument_has_a_description(schemas: dict[str, Schema]) -> None:
    undescribed = [f"{tool}.{name}" for tool, name, argument in properties(schemas) if not argument.get("description")]
    assert undescribed == []


async def test_every_string_is_bound_by_an_anchored_pattern_or_an_enum(schemas: dict[str, Schema]) -> None:
    loose = [
        f"{tool}.{name}: {branch}"
        for tool, name, argument in properties(schemas)
        for branch in branches(argument)
        if branch.get("type") == "string" and "enum" not in branch and "pattern" not in branch
    ]
    unanchored = [
        f"{tool}.{name}: {branch['pattern']}"
        for tool, name, argument in properties(schemas)
        for branch in branches(argument)
        if "pattern" in branch and not (branch["pattern"].startswith("^") and branch["pattern"].endswith("$"))
    ]
    assert loose == []
    assert unanchored == []


async def test_fixed_values_are_enums(schemas: dict[str, Schema]) -> None:
    [event_type] = [b for b in branches(schemas["list_events"]["properties"]["type"]) if b.get("type") == "string"]
    assert event_type["enum"] == ["Normal", "Warning"]


def _distinct_arguments(schemas: dict[str, Schema]) -> dict[str, tuple[str, str]]:
    """One (tool, argument) per distinct argument schema: the same schema carries the same rule."""
    distinct: dict[str, tuple[str, str]] = {}
    for tool, name, argument in properties(schemas):
        rule = {key: value for key, value in argument.items() if key not in {"description", "default"}}
        distinct.setdefault(json.dumps(rule, sort_keys=True), (tool, name))
    return distinct


def _probes(argument: Schema) -> list[Any]:
    types = {branch.get("type") for branch in branches(argument)}
    return (STRING_PROBES if "string" in types else []) + (INTEGER_PROBES if "integer" in types else [])


async def test_the_schema_refuses_exactly_what_the_gateway_refuses(
    gateway: Harness, opa_stub: OpaStub, schemas: dict[str, Schema]
) -> None:
    disagreements = []
    checked = 0
    for tool, name in _distinct_arguments(schemas).values():
        validator = Draft202012Validator(schemas[tool])
        for value in _probes(schemas[tool]["properties"][name]):
            arguments = arguments_for(tool, **{name: value})
            schema_accepts = validator.is_valid(arguments)
            result = await gateway.call(tool, arguments)
            # Accepted: past validation, even if the fake cluster then has no such object (a revision)
            # or serves no such kind: what a cluster serves is no rule of the argument.
            refusal = error_text(result) if result.is_error else ""
            gateway_accepts = not refusal.startswith("invalid arguments") or "serves no resource named" in refusal
            checked += 1
            if schema_accepts != gateway_accepts:
                disagreements.append(f"{tool}.{name}={value!r}: schema {schema_accepts}, gateway {gateway_accepts}")
    assert disagreements == []
    assert checked > 100


@pytest.mark.parametrize(
    ("tool", "arguments"),
    [
        ("list_pods", {"namespace": "../prod"}),
        ("list_pods", {"namespace": "prod/x"}),
        ("describe_pod", {"pod_name": "secret/x"}),
        ("describe_service", {"service_name": "../web"}),
        ("list_jobs", {"continue_token": "token with spaces"}),
        ("list_pods", {"label_selector": "app=web;rm -rf /"}),
        ("get_pod_logs", {"pod_name": "web-1", "container": "app/../../x"}),
        ("list_configmaps", {"limit": 501}),
    ],
)
async def test_a_schema_validating_client_refuses_traversal_and_injection(
    schemas: dict[str, Schema], tool: str, arguments: dict[str, Any]
) -> None:
    assert not Draft202012Validator(schemas[tool]).is_valid(arguments)
