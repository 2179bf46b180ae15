"""`policy replay`: what a candidate policy would have decided on the calls an audit log recorded.

Every `tool_call` record OPA decided keeps `input`, the exact document OPA was sent, beside OPA's
answer (`allow`, `reasons`, `approval_required`, `warnings`). The replay sends all those inputs
to the real `opa eval` in one batch, over the candidate policy directory, each evaluated at the
moment it was recorded (`time.now_ns` is the input's `request.time`, so approval expiry and
time-of-day rules decide as they did then), and reports every call whose decision would change.

Nothing is guessed: a record whose input (or recorded decision) was cut to fit the audit file is
skipped and listed; a record OPA never decided (invalid arguments, the gateway's own floor, OPA
unavailable) is only counted. A candidate that gives no well-formed decision for a call is
reported as the gateway would treat it: denied, `policy unavailable`.

    ReplayError     the audit file or a record in it cannot be replayed (the message names the line)
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeGuard

from pydantic import ValidationError

from gateway.opa_eval import data_ref, evaluate
from gateway.policy import Decision

CHANGES = {
    "deny_to_allow": "deny → allow",
    "allow_to_deny": "allow → deny",
    "approval_required": "approval newly required",
    "approval_dropped": "approval no longer required",
    "reasons_changed": "reasons changed",
    "warnings_changed": "warnings changed",
}
"""Every way a decision can change, in the order they are reported, with their text labels."""

DECIDED = frozenset({"ok", "denied", "approval_required", "approval_pending", "confirmation_requested", "sent"})
"""Outcomes that only follow a decision by OPA: such a record without `input` cannot be replayed."""

CUT = "the audit record holds it cut to fit K8S_MCP_AUDIT_MAX_VALUE_BYTES"
CLUSTER_SCOPED = "(cluster-scoped)"
_DURATION = re.compile(r"(?:\d+[smhd])+")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

_BATCH_PACKAGE = "k8s_mcp_gateway_replay"
_BATCH_MODULE = """package {package}

import rego.v1

# every call of the batch decided at the moment it was recorded, keyed by its position
decisions := {{i: decision |
\tsome i, call in input.calls
\tdecision := {decision} with input as call.input with time.now_ns as call.now_ns
}}
"""


class ReplayError(Exception):
    """The audit log, or the way the replay was asked for, cannot be replayed."""


@dataclass(frozen=True, slots=True)
class Verdict:
    """What one decision said, as far as the replay compares decisions."""

    allow: bool
    reasons: tuple[str, ...]
    approval_required: bool
    warnings: tuple[str, ...]

    def document(self) -> dict[str, Any]:
        return {
            "allow": self.allow,
            "reasons": list(self.reasons),
            "approval_required": self.approval_required,
            "warnings": list(self.warnings),
        }

    def summary(self) -> str:
        """`allow`, `deny` or `approval required`, with the reasons and warnings."""
        text = "allow" if self.allow else "approval required" if self.approval_required else "deny"
        if self.reasons:
            text += f" ({'; '.join(self.reasons)})"
        return text + "".join(f" [warning: {warning}]" for warning in self.warnings)


POLICY_UNAVAILABLE = Verdict(allow=False, reasons=("policy unavailable",), approval_required=False, warnings=())


@dataclass(frozen=True, slots=True, kw_only=True)
class Recorded:
    """A `tool_call` record OPA decided: where it is, what OPA was asked and what it answered."""

    line: int
    request_id: str
    time: str
    input: dict[str, Any]
    verdict: Verdict

    @property
    def tool(self) -> str:
        return str(self.input.get("tool", {}).get("name"))

    @property
    def namespace(self) -> str:
        namespace = self.input.get("action", {}).get("namespace")
        return namespace if isinstance(namespace, str) else CLUSTER_SCOPED

    @property
    def principal(self) -> str:
        return str(self.input.get("principal", {}).get("sub"))


@dataclass(frozen=True, slots=True, kw_only=True)
class Changed:
    """A replayed call whose decision would change."""

    call: Recorded
    after: Verdict
    changes: tuple[str, ...]

    def document(self) -> dict[str, Any]:
        return {
            "line": self.call.line,
            "request_id": self.call.request_id,
            "time": self.call.time,
            "tool": self.call.tool,
            "namespace": self.call.namespace,
            "principal": self.call.principal,
            "changes": list(self.changes),
            "before": self.call.verdict.document(),
            "after": self.after.document(),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Skipped:
    line: int
    request_id: str | None
    reason: str


@dataclass(kw_only=True)
class Report:
    """What would change; `exit_code` is 1 when any call would flip from deny to allow."""

    audit: Path
    policies: tuple[Path, ...]
    since: datetime | None
    decision_path: str
    considered: int = 0
    replayed: int = 0
    not_decided: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    changed: list[Changed] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        counted = Counter(change for item in self.changed for change in item.changes)
        return {change: counted[change] for change in CHANGES}

    @property
    def exit_code(self) -> int:
        return 1 if self.counts["deny_to_allow"] else 0

    def by(self, key: str) -> dict[str, dict[str, int]]:
        """Per tool, namespace or principal: the affected calls and each kind of change among them."""
        groups: dict[str, Counter[str]] = {}
        for item in self.changed:
            counter = groups.setdefault(getattr(item.call, key), Counter())
            counter["calls"] += 1
            counter.update(item.changes)
        return {name: dict(counter) for name, counter in sorted(groups.items())}

    def document(self) -> dict[str, Any]:
        """The report for CI: `--format json`."""
        return {
            "audit": str(self.audit),
            "policies": [str(path) for path in self.policies],
            "decision_path": self.decision_path,
            "since": _rfc3339(self.since) if self.since else None,
            "calls": self.considered,
            "replayed": self.replayed,
            "changed": len(self.changed),
            "unchanged": self.replayed - len(self.changed),
            "not_decided": self.not_decided,
            "skipped": [{"line": s.line, "request_id": s.request_id, "reason": s.reason} for s in self.skipped],
            "counts": self.counts,
            "by_tool": self.by("tool"),
            "by_namespace": self.by("namespace"),
            "by_principal": self.by("principal"),
            "changed_calls": [item.document() for item in self.changed],
        }

    def text(self) -> str:
        """The report for a person reading a terminal."""
        window = f" since {_rfc3339(self.since)}" if self.since else ""
        against = ", ".join(str(path) for path in self.policies)
        lines = [
            f"Replayed {self.replayed} of {self.considered} calls in {self.audit}{window} "
            f"against {against} ({data_ref(self.decision_path)}): "
            f"{len(self.changed)} would change, {self.replayed - len(self.changed)} would not.",
            f"Not decided by the policy (invalid, refused by the gateway, OPA unavailable): {self.not_decided}; "
            f"skipped: {len(self.skipped)}.",
        ]
        if self.changed:
            lines += ["", "Changes:", *(f"  {CHANGES[c]:<28} {n}" for c, n in self.counts.items())]
            for key, title in (("tool", "By tool"), ("namespace", "By namespace"), ("principal", "By principal")):
                lines += ["", f"{title}:"]
                for name, counts in self.by(key).items():
                    kinds = ", ".join(f"{CHANGES[c]} {counts[c]}" for c in CHANGES if c in counts)
                    lines.append(f"  {name:<24} {counts['calls']:>4} affected: {kinds}")
            lines += ["", "Affected calls:"]
            for item in self.changed:
                call = item.call
                lines.append(f"  {call.time}  {call.request_id}  {call.tool}  {call.namespace}  {call.principal}")
                lines.append(f"    {call.verdict.summary()}  →  {item.after.summary()}")
        if self.skipped:
            lines += ["", "Skipped calls:"]
            lines += [f"  line {s.line}  {s.request_id}: {s.reason}" for s in self.skipped]
        if self.exit_code:
            lines += ["", f"{self.counts['deny_to_allow']} denied call(s) would be allowed: exit status 1."]
        return "\n".join(lines)


def parse_since(text: str, *, now: datetime) -> datetime:
    """`--since`: an RFC 3339 time, or a duration back from `now` (`90s`, `15m`, `24h`, `7d`, `1h30m`)."""
    if _DURATION.fullmatch(text):
        seconds = sum(int(n) * _UNIT_SECONDS[unit] for n, unit in re.findall(r"(\d+)([smhd])", text))
        return now - timedelta(seconds=seconds)
    moment = _parse_time(text)
    if moment is None:
        raise ReplayError(
            f"--since {text!r}: expected an RFC 3339 time such as 2026-11-24T21:30:00Z, "
            "or a duration such as 90s, 15m, 24h, 7d or 1h30m"
        )
    return moment


def replay(*, audit: Path, policies: Sequence[Path], since: datetime | None, decision_path: str) -> Report:
    """Re-decide every call `audit` recorded since `since` with the policy under `policies`."""
    report = Report(audit=audit, policies=tuple(policies), since=since, decision_path=decision_path)
    calls: list[Recorded] = []
    for line, record in _tool_calls(audit):
        moment = _parse_time(record.get("time"))
        if moment is None:
            raise ReplayError(f"{audit}:{line}: the record's time is not an RFC 3339 time")
        if since is not None and moment < since:
            continue
        report.considered += 1
        found = _recorded(audit, line, record)
        if isinstance(found, Skipped):
            report.skipped.append(found)
        elif found is None:
            report.not_decided += 1
        else:
            calls.append(found)
    report.replayed = len(calls)
    if not calls:
        return report
    batch = [{"input": call.input, "now_ns": _nanoseconds(audit, call)} for call in calls]
    module = _BATCH_MODULE.format(package=_BATCH_PACKAGE, decision=data_ref(decision_path))
    decisions = evaluate(
        f"data.{_BATCH_PACKAGE}.decisions",
        paths=policies,
        input_document={"calls": batch},
        modules={"k8s_mcp_gateway_replay.rego": module},
    )
    for index, call in enumerate(calls):
        after = _candidate_verdict(decisions.get(str(index)) if isinstance(decisions, dict) else None)
        changes = _changes(call.verdict, after)
        if changes:
            report.changed.append(Changed(call=call, after=after, changes=changes))
    return report


def _tool_calls(audit: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        with audit.open(encoding="utf-8") as lines:
            for number, line in enumerate(lines, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except ValueError:
                    raise ReplayError(f"{audit}:{number}: not a JSON record") from None
                if isinstance(record, dict) and record.get("event") == "tool_call":
                    yield number, record
    except (OSError, UnicodeDecodeError) as exc:
        raise ReplayError(f"cannot read the audit file {audit}: {exc}") from None


def _recorded(audit: Path, line: int, record: dict[str, Any]) -> Recorded | Skipped | None:
    """The record as a call to replay; Skipped when it cannot be replayed faithfully; None when
    OPA never decided it."""
    request_id = record.get("request_id") if isinstance(record.get("request_id"), str) else None
    if "input" not in record:
        if record.get("outcome") in DECIDED:
            raise ReplayError(
                f"{audit}:{line}: the record of a call OPA decided (outcome {record.get('outcome')!r}) has no "
                "input; it was written before the gateway recorded inputs, so replay only later calls (--since)"
            )
        return None
    if _cut(record["input"]):
        return Skipped(line=line, request_id=request_id, reason=f"its input: {CUT}")
    if any(_cut(record.get(name)) for name in ("reasons", "warnings")):
        return Skipped(line=line, request_id=request_id, reason=f"its recorded decision: {CUT}")
    verdict = _recorded_verdict(record)
    if verdict is None or not isinstance(record["input"], dict) or request_id is None:
        raise ReplayError(
            f"{audit}:{line}: a tool_call record with an input needs a request_id, an input object, allow (bool), "
            "reasons (strings), approval_required (bool) and warnings (strings)"
        )
    return Recorded(line=line, request_id=request_id, time=str(record["time"]), input=record["input"], verdict=verdict)


def _recorded_verdict(record: dict[str, Any]) -> Verdict | None:
    """What OPA answered, as the record keeps it; None when a field is missing or of the wrong type."""
    allow, required = record.get("allow"), record.get("approval_required")
    reasons, warnings = record.get("reasons"), record.get("warnings", [])
    if not (isinstance(allow, bool) and isinstance(required, bool) and _strings(reasons) and _strings(warnings)):
        return None
    return Verdict(allow=allow, reasons=tuple(reasons), approval_required=required, warnings=tuple(warnings))


def _candidate_verdict(document: Any) -> Verdict:
    """What the candidate policy answers; a decision the gateway would not accept (or none) is
    `policy unavailable`, as the gateway treats it."""
    try:
        decision = Decision.model_validate(document)
    except ValidationError:
        return POLICY_UNAVAILABLE
    return Verdict(
        allow=decision.allow,
        reasons=tuple(decision.reasons),
        approval_required=decision.approval.required,
        warnings=tuple(decision.warnings),
    )


def _changes(before: Verdict, after: Verdict) -> tuple[str, ...]:
    found = {
        "deny_to_allow": not before.allow and after.allow,
        "allow_to_deny": before.allow and not after.allow,
        "approval_required": after.approval_required and not before.approval_required,
        "approval_dropped": before.approval_required and not after.approval_required,
        "reasons_changed": sorted(before.reasons) != sorted(after.reasons),
        "warnings_changed": sorted(before.warnings) != sorted(after.warnings),
    }
    return tuple(change for change in CHANGES if found[change])


def _cut(value: Any) -> bool:
    """Whether the audit log shortened `value`, or anything inside it (`gateway.audit`'s digest)."""
    if isinstance(value, dict):
        if value.get("truncated") is True and {"bytes", "sha256", "prefix"} <= value.keys():
            return True
        return any(_cut(member) for member in value.values())
    if isinstance(value, list):
        return any(_cut(member) for member in value)
    return False


def _strings(value: Any) -> TypeGuard[list[str]]:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _parse_time(value: Any) -> datetime | None:
    """An RFC 3339 time with its offset (`Z` or `±hh:mm`), else None."""
    if not isinstance(value, str) or "T" not in value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _nanoseconds(audit: Path, call: Recorded) -> int:
    """The call's `input.request.time` as OPA's `time.now_ns()` would have read it then."""
    request = call.input.get("request")
    moment = _parse_time(request.get("time") if isinstance(request, dict) else None)
    if moment is None:
        raise ReplayError(f"{audit}:{call.line}: the input's request.time is not an RFC 3339 time")
    return (moment - _EPOCH) // timedelta(microseconds=1) * 1000


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
