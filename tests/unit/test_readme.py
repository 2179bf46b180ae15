"""The README documents what the gateway really does: every setting, tool and contract field.

The contract section is the security team's reference; a field the gateway sends or reads that
the README does not name, or a setting without its row, fails here.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from gateway.catalog import Catalog
from gateway.policy import Decision
from gateway.settings import Settings
from tests.support import Harness, OpaStub, arguments_for

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
CONTRACT = README[README.index("## The policy contract") : README.index("## Editing the policy")]


def documented(name: str) -> bool:
    """`name` stands in backticks in the contract, alone or as part of a dotted path (`action.verb`)."""
    return re.search(rf"`([\w.]*\.)?{re.escape(name)}(\.[\w.]*)?`", CONTRACT) is not None


@pytest.mark.parametrize("name", Settings.model_fields)
def test_every_setting_has_its_row(name: str) -> None:
    row = f"| `K8S_MCP_{name.upper()}` | `--{name.replace('_', '-')}` |"
    assert row in README


@pytest.mark.parametrize("entry", list(Catalog()), ids=lambda entry: entry.name)
def test_every_tool_has_its_row(entry: Any) -> None:
    action = entry.action
    resource = "/".join(part for part in (action.group, action.resource, action.subresource) if part)
    row = next(line for line in README.splitlines() if line.startswith(f"| `{entry.name}` |"))
    assert resource in row
    assert ("(write)" in row) == action.write


def leaf_fields(document: dict[str, Any], prefix: str = "") -> list[str]:
    fields = []
    for key, value in document.items():
        fields.append(f"{prefix}{key}")
        if isinstance(value, dict) and key != "arguments":
            fields.extend(leaf_fields(value, f"{prefix}{key}."))
    return fields


async def test_every_field_of_the_input_document_is_documented(gateway: Harness, opa_stub: OpaStub) -> None:
    await gateway.call("get_pod_logs", arguments_for("get_pod_logs"))
    await gateway.client.list_tools()
    decision_input = opa_stub.decision_inputs[-1]
    listing_input = opa_stub.listing_inputs[-1]
    fields = leaf_fields(decision_input) + leaf_fields({"catalog": listing_input["catalog"][0]})
    missing = [field for field in fields if not documented(field.rsplit(".", 1)[-1])]
    assert missing == []


def test_every_field_of_the_decision_document_is_documented() -> None:
    fields = [*Decision.model_fields, "required", "approvers", "count", "ttl_seconds", "kinds", "max_log_lines"]
    missing = [field for field in fields if field != "decision_id" and not documented(field)]
    assert missing == []
