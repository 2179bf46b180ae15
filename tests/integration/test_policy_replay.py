"""`policy replay` over audit logs that a real gateway wrote while the real OPA decided its calls.

The gateway runs in front of OPA on a copy of policies/; the replay then re-decides what it
recorded with `opa eval` over candidate copies that change one rule, and must report exactly the
calls that rule changes, decided as they were when recorded.
"""

from __future__ import annotations

import getpass
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from gateway import binaries
from tests.catalog import OPEN_GRANT
from tests.conftest import GatewayFactory, PolicyServers
from tests.fakes.opa import deep_merge, policy_copy
from tests.gateways import Harness, read_audit, replay, run_cli

pytestmark = pytest.mark.integration

# The policy the gateway runs: writes on, no approval in staging (the default one elsewhere).
DECIDING: dict[str, Any] = {
    "mode": "readwrite",
    "grants": [OPEN_GRANT],
    "approval": {"namespaces": {"staging": {"required": False}}},
}
SCALE_STAGING = {"deployment_name": "web", "namespace": "staging", "replicas": 2}
SCALE_DEFAULT = {"deployment_name": "web", "namespace": "default", "replicas": 3}
NOT_AUTHENTICATED = '"alice" is not authenticated'


async def record_calls(gateway: Harness) -> None:
    """Make the calls every test replays, and check they were decided as the tests expect."""
    await gateway.ok("list_pods", {"namespace": "default"})
    await gateway.ok("list_pods", {"namespace": "staging"})
    await gateway.error("list_pods", {"namespace": "prod"})
    await gateway.ok("scale_deployment", SCALE_STAGING)  # runs, with the authenticated_writes warning
    await gateway.error("list_pods", {"namespace": "../prod"})  # invalid: OPA never decides it
    approval_id = (await gateway.ok("scale_deployment", SCALE_DEFAULT))["approval_id"]
    assert (await gateway.approvals("approve", approval_id)).code == 0
    await gateway.ok("scale_deployment", {**SCALE_DEFAULT, "approval_id": approval_id})  # runs under the approval
    await gateway.ok("get_approval", {"approval_id": approval_id})  # decided with input.approval
    outcomes = [record["outcome"] for record in gateway.tool_calls()]
    assert outcomes == ["ok", "ok", "denied", "ok", "invalid", "approval_pending", "ok", "ok"]


@pytest.fixture
async def recorded(open_gateway: GatewayFactory, policy_opa: PolicyServers) -> Harness:
    """alice's calls, decided by the real OPA and audited, on a gateway with writes on."""
    gateway = await open_gateway(
        **policy_opa(DECIDING).settings(), mode="readwrite", principal="alice", principal_groups=["sre"]
    )
    await record_calls(gateway)
    return gateway


def candidate(tmp_path: Path, change: dict[str, Any]) -> Path:
    """A copy of policies/ with the deciding policy data, and `change` merged over it."""
    return policy_copy(tmp_path / f"candidate-{len(list(tmp_path.iterdir()))}", deep_merge(DECIDING, change))


def line_of(audit: Path, request_id: str) -> int:
    """The line number of the `tool_call` record of `request_id` in `audit`."""
    for number, record in enumerate(read_audit(audit), start=1):
        if record.get("event") == "tool_call" and record["request_id"] == request_id:
            return number
    raise AssertionError(f"no tool_call record for {request_id}")


def rewrite(audit: Path, target: Path, change: Any) -> Path:
    """A copy of `audit` with `change(record)` applied to each `tool_call` record."""
    lines = []
    for record in read_audit(audit):
        if record["event"] == "tool_call":
            change(record)
        lines.append(json.dumps(record))
    target.write_text("\n".join(lines) + "\n")
    return target


# --------------------------------------------------------------------------------------------
# What would change
# --------------------------------------------------------------------------------------------


async def test_the_policy_that_decided_the_calls_changes_none_of_them(recorded: Harness, tmp_path: Path) -> None:
    ran, report = await replay(recorded.audit_path, "--policies", str(candidate(tmp_path, {})))

    assert ran.code == 0
    assert (report["calls"], report["replayed"], report["not_decided"]) == (8, 7, 1)
    assert (report["changed"], report["unchanged"], report["skipped"], report["changed_calls"]) == (0, 7, [], [])
    assert set(report["counts"].values()) == {0}


async def test_a_rule_flipped_both_ways_is_reported_call_by_call_and_gates_the_change(
    recorded: Harness, tmp_path: Path
) -> None:
    ids = [record["request_id"] for record in recorded.tool_calls()]
    policies = candidate(tmp_path, {"namespaces": ["default", "prod"]})  # prod in, staging out

    ran, report = await replay(recorded.audit_path, "--policies", str(policies))

    assert ran.code == 1  # a call would flip from deny to allow
    assert set(report) == {
        "audit",
        "policies",
        "decision_path",
        "since",
        "calls",
        "replayed",
        "changed",
        "unchanged",
        "not_decided",
        "skipped",
        "counts",
        "by_tool",
        "by_namespace",
        "by_principal",
        "changed_calls",
    }
    assert (report["audit"], report["policies"], report["decision_path"], report["since"]) == (
        str(recorded.audit_path),
        [str(policies)],
        "mcp/authz/decision",
        None,
    )
    assert (report["replayed"], report["changed"], report["unchanged"]) == (7, 3, 4)
    assert report["counts"] == {
        "deny_to_allow": 1,
        "allow_to_deny": 2,
        "approval_required": 0,
        "approval_dropped": 0,
        "reasons_changed": 3,
        "warnings_changed": 0,
    }
    assert report["by_namespace"] == {
        "prod": {"calls": 1, "deny_to_allow": 1, "reasons_changed": 1},
        "staging": {"calls": 2, "allow_to_deny": 2, "reasons_changed": 2},
    }
    assert report["by_tool"] == {
        "list_pods": {"calls": 2, "deny_to_allow": 1, "allow_to_deny": 1, "reasons_changed": 2},
        "scale_deployment": {"calls": 1, "allow_to_deny": 1, "reasons_changed": 1},
    }
    assert report["by_principal"] == {
        "alice": {"calls": 3, "deny_to_allow": 1, "allow_to_deny": 2, "reasons_changed": 3}
    }
    staging, prod, scale = report["changed_calls"]  # in the order they were recorded
    assert {key: prod[key] for key in ("line", "request_id", "tool", "namespace", "principal", "changes")} == {
        "line": line_of(recorded.audit_path, ids[2]),
        "request_id": ids[2],
        "tool": "list_pods",
        "namespace": "prod",
        "principal": "alice",
        "changes": ["deny_to_allow", "reasons_changed"],
    }
    assert prod["time"] == recorded.tool_calls()[2]["time"]
    assert prod["before"] == {
        "allow": False,
        "reasons": ['namespace "prod" is not in the allowlist'],
        "approval_required": False,
        "warnings": [],
    }
    assert prod["after"] == {"allow": True, "reasons": [], "approval_required": False, "warnings": []}
    assert (staging["request_id"], staging["changes"]) == (ids[1], ["allow_to_deny", "reasons_changed"])
    assert staging["after"]["reasons"] == ['namespace "staging" is not in the allowlist']
    assert (scale["request_id"], scale["before"]["allow"], scale["after"]["allow"]) == (ids[3], True, False)
    assert scale["before"]["warnings"] == scale["after"]["warnings"] != []


async def test_the_text_report_lists_counts_and_every_affected_call(recorded: Harness, tmp_path: Path) -> None:
    ids = [record["request_id"] for record in recorded.tool_calls()]
    policies = candidate(tmp_path, {"namespaces": ["default", "prod"]})

    ran = await run_cli("policy", "replay", "--audit", str(recorded.audit_path), "--policies", str(policies))

    assert ran.code == 1
    assert ran.out.startswith(f"Replayed 7 of 8 calls in {recorded.audit_path} against {policies}")
    assert "3 would change, 4 would not." in ran.out
    for label, count in (("deny → allow", 1), ("allow → deny", 2), ("reasons changed", 3)):
        assert f"  {label:<28} {count}\n" in ran.out
    assert "  prod                        1 affected: deny → allow 1, reasons changed 1\n" in ran.out
    for request_id in (ids[1], ids[2], ids[3]):
        assert f"  {request_id}  " in ran.out
    assert '    deny (namespace "prod" is not in the allowlist)  →  allow\n' in ran.out
    assert ran.out.endswith("\n1 denied call(s) would be allowed: exit status 1.\n")


async def test_enforcing_the_staged_rule_only_tightens_and_passes_the_gate(recorded: Harness, tmp_path: Path) -> None:
    ids = [record["request_id"] for record in recorded.tool_calls()]
    policies = candidate(tmp_path, {"rollout": {"authenticated_writes": "enforce"}})

    ran, report = await replay(recorded.audit_path, "--policies", str(policies))

    assert ran.code == 0
    changed = {call["request_id"]: call for call in report["changed_calls"]}
    assert list(changed) == [ids[3], ids[5], ids[6]]  # alice's three writes, none of her reads
    assert changed[ids[3]]["changes"] == ["allow_to_deny", "reasons_changed", "warnings_changed"]
    assert changed[ids[5]]["changes"] == ["approval_dropped", "reasons_changed", "warnings_changed"]
    assert changed[ids[6]]["changes"] == ["allow_to_deny", "reasons_changed", "warnings_changed"]
    for call in changed.values():
        assert call["after"]["approval_required"] is False
        assert [NOT_AUTHENTICATED in reason for reason in call["after"]["reasons"]] == [True]
        assert call["after"]["warnings"] == []
        assert NOT_AUTHENTICATED in call["before"]["warnings"][0]
    assert report["counts"]["deny_to_allow"] == 0


async def test_each_call_is_decided_at_the_time_it_was_recorded(recorded: Harness, tmp_path: Path) -> None:
    """The write ran under an approval valid for 900 s: an hour later it would have expired."""
    approved = recorded.tool_calls()[6]
    later = datetime.fromisoformat(approved["input"]["request"]["time"]) + timedelta(hours=1)

    def an_hour_later(record: dict[str, Any]) -> None:
        if record["request_id"] == approved["request_id"]:
            record["input"]["request"]["time"] = later.isoformat(timespec="milliseconds").replace("+00:00", "Z")

    audit = rewrite(recorded.audit_path, tmp_path / "later.jsonl", an_hour_later)
    ran, report = await replay(audit, "--policies", str(candidate(tmp_path, {})))

    assert ran.code == 0
    [call] = report["changed_calls"]
    changes = ["allow_to_deny", "approval_required", "reasons_changed"]
    assert (call["request_id"], call["changes"]) == (approved["request_id"], changes)
    assert call["after"]["reasons"] == [
        "approval required: 1 approval from group:sre-leads",
        f"the approval expired at {approved['input']['approval']['expires_at']}",
    ]


# --------------------------------------------------------------------------------------------
# Which calls are replayed
# --------------------------------------------------------------------------------------------


async def test_since_takes_a_duration_or_a_time(recorded: Harness, tmp_path: Path) -> None:
    first_three = {record["request_id"] for record in recorded.tool_calls()[:3]}
    two_days_ago = (datetime.now(UTC) - timedelta(days=2)).isoformat(timespec="milliseconds").replace("+00:00", "Z")

    def older(record: dict[str, Any]) -> None:
        if record["request_id"] in first_three:
            record["time"] = two_days_ago

    audit = rewrite(recorded.audit_path, tmp_path / "older.jsonl", older)
    policies = ["--policies", str(candidate(tmp_path, {"namespaces": ["default", "prod"]}))]

    everything, all_calls = await replay(audit, *policies)
    recent, last_day = await replay(audit, *policies, "--since", "1d")
    _, last_hour = await replay(audit, *policies, "--since", "1h30m")
    fourth = recorded.tool_calls()[3]["time"]
    _, from_the_fourth = await replay(audit, *policies, "--since", fourth)

    assert (everything.code, all_calls["calls"], all_calls["changed"]) == (1, 8, 3)
    # The deny → allow in prod is older than a day: what is left only tightens.
    assert (recent.code, last_day["calls"], last_day["replayed"], last_day["changed"]) == (0, 5, 4, 1)
    assert last_day["since"] is not None
    assert last_hour["calls"] == 5
    assert from_the_fourth["calls"] == 5
    assert from_the_fourth["since"] == fourth


async def test_a_cut_input_is_skipped_never_guessed(
    open_gateway: GatewayFactory, policy_opa: PolicyServers, tmp_path: Path
) -> None:
    groups = [f"group-{index:02}-" + "g" * 50 for index in range(40)]
    gateway = await open_gateway(
        **policy_opa(DECIDING).settings(), audit_max_value_bytes=1024, principal="alice", principal_groups=groups
    )
    await gateway.ok("list_pods", {"namespace": "default"})
    [record] = gateway.tool_calls()
    assert record["input"]["principal"]["groups"]["truncated"] is True

    policies = candidate(tmp_path, {"namespaces": []})
    ran, report = await replay(gateway.audit_path, "--policies", str(policies))

    assert ran.code == 0
    assert (report["calls"], report["replayed"], report["changed_calls"]) == (1, 0, [])
    assert report["skipped"] == [
        {
            "line": line_of(gateway.audit_path, record["request_id"]),
            "request_id": record["request_id"],
            "reason": "its input: the audit record holds it cut to fit K8S_MCP_AUDIT_MAX_VALUE_BYTES",
        }
    ]
    text = await run_cli("policy", "replay", "--audit", str(gateway.audit_path), "--policies", str(policies))
    assert f"  line {report['skipped'][0]['line']}  {record['request_id']}: its input: " in text.out


# --------------------------------------------------------------------------------------------
# Errors: exit status 2, a message naming the problem (and the line), no stack trace
# --------------------------------------------------------------------------------------------


async def test_a_decided_record_without_its_input_is_an_error_naming_its_line(
    recorded: Harness, tmp_path: Path
) -> None:
    allowed = recorded.tool_calls()[0]

    def drop_input(record: dict[str, Any]) -> None:
        if record["request_id"] == allowed["request_id"]:
            del record["input"]

    audit = rewrite(recorded.audit_path, tmp_path / "old.jsonl", drop_input)
    ran = await run_cli("policy", "replay", "--audit", str(audit), "--policies", str(candidate(tmp_path, {})))

    line = line_of(audit, allowed["request_id"])
    assert (ran.code, ran.out) == (2, "")
    assert ran.err.startswith(
        f"policy replay: {audit}:{line}: the record of a call OPA decided (outcome 'ok') has no input"
    )
    assert "Traceback" not in ran.err


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("missing file", "policy replay: cannot read the audit file {audit}"),
        ("not JSON", "policy replay: {audit}:2: not a JSON record"),
        ("bad since", "policy replay: --since 'yesterday': expected an RFC 3339 time"),
        ("no policy directory", "policy replay: no such policy path: {policies}"),
    ],
)
async def test_unusable_input_exits_2_with_a_clear_message(
    recorded: Harness, tmp_path: Path, case: str, message: str
) -> None:
    audit, policies, since = recorded.audit_path, candidate(tmp_path, {}), []
    if case == "missing file":
        audit = tmp_path / "absent.jsonl"
    if case == "not JSON":
        audit = tmp_path / "broken.jsonl"
        lines = recorded.audit_path.read_text().splitlines()
        audit.write_text("\n".join([lines[0], lines[1][:40], *lines[2:]]) + "\n")
    if case == "bad since":
        since = ["--since", "yesterday"]
    if case == "no policy directory":
        policies = tmp_path / "no-such-policies"

    ran = await run_cli("policy", "replay", "--audit", str(audit), "--policies", str(policies), *since)

    assert (ran.code, ran.out) == (2, "")
    assert ran.err.startswith(message.format(audit=audit, policies=policies))
    assert "Traceback" not in ran.err


async def test_without_opa_the_replay_exits_2_saying_how_to_get_it(
    recorded: Harness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    monkeypatch.setattr(binaries, "TOOLS_BIN", tmp_path / "no-tools")

    ran = await run_cli("policy", "replay", "--audit", str(recorded.audit_path), "--policies", str(tmp_path))

    assert (ran.code, ran.out) == (2, "")
    assert (
        ran.err == f"policy replay: opa not found on PATH or in {tmp_path / 'no-tools'}; run `make setup` to build it\n"
    )


async def test_the_principal_of_a_stdio_gateway_is_its_os_user_in_the_report(
    open_gateway: GatewayFactory, policy_opa: PolicyServers, tmp_path: Path
) -> None:
    gateway = await open_gateway(**policy_opa(DECIDING).settings())
    await gateway.ok("list_pods", {"namespace": "staging"})

    _, report = await replay(gateway.audit_path, "--policies", str(candidate(tmp_path, {"namespaces": ["default"]})))

    assert report["by_principal"] == {getpass.getuser(): {"calls": 1, "allow_to_deny": 1, "reasons_changed": 1}}
