"""The README documents what the gateway really does: every setting, tool and contract field.

The contract section is the security team's reference; a field the gateway sends or reads that
the README does not name, or a setting without its row, fails here.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from gateway.audit import AuditRecord
from gateway.catalog import Catalog
from gateway.policy import Decision
from gateway.settings import Settings
from tests.catalog import arguments_for
from tests.fakes.opa import OpaStub
from tests.gateways import Harness

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def section(start: str, end: str) -> str:
    return README[README.index(start) : README.index(end)]


INPUT_SECTION = section("### Input document", "### Decision document")
DECISION_SECTION = section("### Decision document", "### Listing")
LISTING_SECTION = section("### Listing", "## Editing the policy")
AUDIT_SECTION = section("## Audit trail", "## Performance")


def field_rows(text: str) -> dict[str, str]:
    """The rows of a field table by the dotted path each names in its first column.

    `tool.read_only` / `destructive` names `tool.read_only` and `tool.destructive`: a bare name
    after a dotted one shares its parent.
    """
    rows: dict[str, str] = {}
    for line in text.splitlines():
        if not line.startswith("| `"):
            continue
        parent = ""
        for name in re.findall(r"`([^`]+)`", line.split("|")[1]):
            if "." in name:
                parent = name.rsplit(".", 1)[0] + "."
                rows[name] = line
            else:
                rows[parent + name] = line
    return rows


def documented(path: str, rows: Mapping[str, str]) -> bool:
    """`path` has its own row, or its members have theirs (`approval`), or its parent's row names it
    (`principal.client`: `name`/`version`)."""
    parent, _, leaf = path.rpartition(".")
    members = any(row.startswith(f"{path}.") for row in rows)
    return path in rows or members or (parent in rows and f"`{leaf}`" in rows[parent])


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


def leaf_fields(document: Mapping[str, Any], prefix: str = "") -> list[str]:
    fields = []
    for key, value in document.items():
        fields.append(f"{prefix}{key}")
        if isinstance(value, dict) and key != "arguments":
            fields.extend(leaf_fields(value, f"{prefix}{key}."))
    return fields


def model_fields(model: type[BaseModel], prefix: str = "") -> list[str]:
    """Every field of `model` as a dotted path, the fields of nested models included."""
    fields = []
    for name, info in model.model_fields.items():
        fields.append(f"{prefix}{name}")
        if isinstance(info.annotation, type) and issubclass(info.annotation, BaseModel):
            fields.extend(model_fields(info.annotation, f"{prefix}{name}."))
    return fields


async def test_every_field_of_the_input_document_is_documented(gateway: Harness, opa_stub: OpaStub) -> None:
    await gateway.call("get_pod_logs", arguments_for("get_pod_logs"))
    rows = field_rows(INPUT_SECTION)
    missing = [field for field in leaf_fields(opa_stub.decision_inputs[-1]) if not documented(field, rows)]
    assert missing == []


async def test_the_listing_input_is_the_documented_one(gateway: Harness, opa_stub: OpaStub) -> None:
    await gateway.client.list_tools()
    listing = opa_stub.listing_inputs[-1]
    named = [key for key in listing if f"`{key}`" in LISTING_SECTION]
    assert named == list(listing)
    rows = field_rows(INPUT_SECTION)
    entry = listing["catalog"][0]
    assert list(entry) == ["tool", "action"]
    missing = [field for field in leaf_fields(entry) if not documented(field, rows)]
    assert missing == []


def test_every_field_of_the_decision_document_is_documented() -> None:
    rows = field_rows(DECISION_SECTION)
    # decision_id is not part of the document: the gateway takes it from OPA's response around it.
    fields = [field for field in model_fields(Decision) if field != "decision_id"]
    assert "approval.required" in fields
    missing = [field for field in fields if not documented(field, rows)]
    assert missing == []


@pytest.mark.parametrize("name", [field.name for field in dataclasses.fields(AuditRecord)])
def test_every_field_of_the_audit_record_is_documented(name: str) -> None:
    tool_call = AUDIT_SECTION[AUDIT_SECTION.index("- `tool_call`") : AUDIT_SECTION.index("- `write_intent`")]
    assert f"`{name}`" in tool_call
