"""The audit trail: one JSON Lines record per tool call, and no call without its record.

Each record is one `write` to a file opened `O_APPEND`, made under one lock, so lines never
interleave. A record that needs no `fsync` and no reopening (the file at the path is the open one
and the last write succeeded) is written on the event loop: one `stat` and one `write`, cheaper
than handing it to a thread and waking the loop again (a thread hop cost about 0.3 ms of each call
on a busy 2-core machine, most of the guard's own work). Every other record, and one that finds
the lock taken, goes to a single writer thread, so the event loop never waits for an `fsync`, a
reopened file or another writer. The trail fails closed:

- At start the file is opened and an `audit_open` record is written and fsynced: a sink that
  cannot take it stops the gateway (`AuditLog` raises `OSError`).
- Before each record the writer compares the device and inode at the path with those of the open
  file. A file that was removed or rotated away is followed: a new file is opened at the path and
  starts with an `audit_open` record saying why, so no record goes to an unlinked file.
- `ready` lets a call run only when a record can be written: the file at the path is the open one
  and the last write succeeded (one `stat`, no thread hop), or reopening the path succeeds.
- A record that cannot be written raises `AuditUnavailable`; the guard then refuses the call.
- A record handed to the writer is written even if the call awaiting it is cancelled.
- A string, or any other value, whose JSON is longer than `max_value_bytes` is replaced by its
  length, sha256 and first characters, so no caller can fill the audit volume with one call.

Logs go to stderr and the audit goes to its file: stdout belongs to the MCP stdio transport.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gateway.errors import AuditUnavailable

log = logging.getLogger(__name__)

PREFIX_CHARS = 64
"""How much of an oversized value its digest keeps, so a reader can tell what it was."""

_MIN_MEMBER_BYTES = len('"":0,')
"""The fewest bytes one member of a JSON object takes: an object with more members cannot fit."""


def utc_now() -> str:
    """The current time as the audit trail and the policy input write it: RFC 3339, UTC, milliseconds."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(slots=True, kw_only=True)
class AuditRecord:
    """The `tool_call` record of one `tools/call`: the schema the README's "Audit trail" documents.

    The guard fills it in as the call goes (received, decided, run, ended) and appends
    `document()`; `policy replay` reads these records back. The first group of fields is in
    every record, null until known; the optional ones appear only once they have a value, so a
    record without `input` is one OPA gave no decision.
    """

    request_id: str
    """`input.request.id` of the call: the same id in the policy input and in every record of the call."""
    time: str
    """When the call arrived (RFC 3339, UTC, milliseconds)."""
    transport: str
    """`stdio` or `http`."""
    principal: dict[str, Any] | None = None
    """Who called, as the policy input names them (`input.principal`)."""
    tool: str | None
    """The tool's name; null when the MCP layer could not parse one."""
    arguments: Any
    """As run (narrowed by the policy's obligations and the gateway's dry-run switch); as received when invalid."""
    action: dict[str, Any] | None = None
    """The Kubernetes action the arguments bind (`input.action`); null when they did not validate."""
    action_digest: str | None = None
    """sha256 of tool, arguments and cluster: what an approval is bound to."""
    decision_id: str | None = None
    """OPA's id of the decision, from its decision log; null when OPA was not asked or did not answer."""
    allow: bool = False
    """The decision's `allow`; false when there was no decision."""
    reasons: list[str] = field(default_factory=list)
    """Why: the decision's reasons, or the gateway's own when it refused before OPA."""
    outcome: str = "error"
    """How the call ended: one of the outcomes the README's table lists."""
    approval_required: bool | None = None
    """The decision's `approval.required`; present once OPA decided."""
    warnings: list[str] | None = None
    """The decision's warnings, which the agent also sees in the result's `_meta`; present once OPA decided."""
    hints: dict[str, Any] | None = None
    """The decision's hints (what the policy says would be allowed), when it gave any."""
    input: dict[str, Any] | None = None
    """The input document OPA decided, exactly as sent (the last one, when the approval flow asked again)."""
    approval_id: str | None = None
    """The approval request the call names or made."""
    approval: dict[str, Any] | None = None
    """The approval a write ran under: its `kind` and `approved_by` (each approver's `sub` and `groups`)."""
    error: str | None = None
    """What the agent was told, when the call did not end `ok`."""
    policy_error: str | None = None
    """Why OPA gave no decision (`policy_unavailable`)."""
    duration_ms: float | None = None
    """From receiving the call to its end, in milliseconds."""
    warnings_total: int | None = None
    """With warnings: how many this gateway process has reported since it started, this call's included."""

    def add(self, values: Mapping[str, Any]) -> None:
        """Set the fields `values` names: the approval flow's part of the record."""
        for name, value in values.items():
            setattr(self, name, value)

    def document(self, *, event: str = "tool_call", outcome: str | None = None) -> dict[str, Any]:
        """The JSON object of the record: `tool_call`, or the fsynced `write_intent` before a write runs."""
        document: dict[str, Any] = {"event": event}
        for member in fields(self):
            value = getattr(self, member.name)
            if value is not None or member.name in _ALWAYS:
                document[member.name] = value
        if outcome is not None:
            document["outcome"] = outcome
        return document


_ALWAYS = frozenset(("principal", "tool", "arguments", "action", "action_digest", "decision_id"))
"""The fields a record holds even while null: the ones every `tool_call` record has."""


class AuditLog:
    """Appends records to the file at `path`, following it when it is removed or replaced."""

    def __init__(self, *, path: Path, max_value_bytes: int) -> None:
        self.path = path
        self.max_value_bytes = max_value_bytes
        self._fd = -1
        self._file_id = (0, 0)
        self._healthy = False
        self._lock = threading.Lock()
        """Held while the open file is written, checked or replaced: by the writer thread, or by the loop."""
        path.parent.mkdir(parents=True, exist_ok=True)
        self._open("start")
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="audit")

    async def ready(self) -> None:
        """Return when a record can be written at the path; raise `AuditUnavailable` when not.

        The common case is one `stat` of a local path on the event loop, cheaper than the thread
        hop it saves. When the file at the path is not the open one, or the last write failed,
        the writer reopens the path, and the `audit_open` record it writes there is the proof.
        """
        if not self._current():
            await self._submit(self._follow)

    async def append(self, entry: dict[str, Any], *, sync: bool = False) -> None:
        """Write one record (fsynced when `sync`); raise `AuditUnavailable` if it cannot be written."""
        line = self._line(entry)
        if sync or not self._written_now(line):
            await self._submit(self._write, line, sync)

    async def record(self, entry: dict[str, Any]) -> None:
        """Append a record of something already decided; a failure is logged, never raised."""
        with contextlib.suppress(AuditUnavailable):
            await self.append(entry)

    def close(self) -> None:
        self._writer.shutdown(wait=True)
        os.close(self._fd)

    async def _submit(self, work: Callable[..., None], *args: Any) -> None:
        future = asyncio.get_running_loop().run_in_executor(self._writer, work, *args)
        try:
            # Shielded: cancelling the caller must not drop a record still queued for the writer.
            await asyncio.shield(future)
        except OSError:
            raise AuditUnavailable() from None

    def _written_now(self, line: bytes) -> bool:
        """Write `line` here, on the event loop, when the file at the path is the open one, the last
        write succeeded and no other write holds the lock; False leaves it to the writer thread."""
        if not self._lock.acquire(blocking=False):
            return False
        try:
            if not self._current():
                return False
            try:
                _append(self._fd, line, sync=False)
            except OSError as exc:
                self._not_written(exc, line)
                raise AuditUnavailable() from None
            return True
        finally:
            self._lock.release()

    def _current(self) -> bool:
        if not self._healthy:
            return False
        try:
            stat = os.stat(self.path)
        except OSError:
            return False
        return (stat.st_dev, stat.st_ino) == self._file_id

    def _line(self, entry: dict[str, Any]) -> bytes:
        text = _json(entry)
        # No value is longer than the whole line, so a short line needs no look inside.
        if len(text) > self.max_value_bytes:
            text = _json({key: _bounded(value, self.max_value_bytes) for key, value in entry.items()})
        return text.encode() + b"\n"

    def _not_written(self, exc: OSError, line: bytes) -> None:
        self._healthy = False
        log.error("audit record not written to %s: %s; the record: %s", self.path, exc, line.decode().rstrip())

    # The writer thread's side.

    def _write(self, line: bytes, sync: bool) -> None:
        with self._lock:
            try:
                self._follow_path()
                _append(self._fd, line, sync=sync)
            except OSError as exc:
                self._not_written(exc, line)
                raise

    def _follow(self) -> None:
        with self._lock:
            try:
                self._follow_path()
            except OSError as exc:
                self._healthy = False
                log.error("the audit file %s cannot be written: %s", self.path, exc)
                raise

    def _follow_path(self) -> None:
        """Reopen the path when its file was removed or replaced, or when the last write failed."""
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            self._open("no file at the audit path (removed or renamed)")
            return
        if (stat.st_dev, stat.st_ino) != self._file_id:
            self._open("another file at the audit path (rotated or replaced)")
        elif not self._healthy:
            self._open("the last audit write failed")

    def _open(self, reason: str) -> None:
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            stat = os.fstat(fd)
            opened = {"event": "audit_open", "time": utc_now(), "pid": os.getpid(), "reason": reason}
            _append(fd, self._line(opened), sync=True)
        except OSError:
            os.close(fd)
            raise
        if self._fd >= 0:
            os.close(self._fd)
        self._fd, self._file_id, self._healthy = fd, (stat.st_dev, stat.st_ino), True
        if reason != "start":
            log.warning("audit file %s reopened: %s", self.path, reason)


def _append(fd: int, line: bytes, *, sync: bool) -> None:
    # One unbuffered O_APPEND write per record: a failed write leaves nothing half-buffered.
    written = os.write(fd, line)
    if written != len(line):
        raise OSError(f"short write to the audit file ({written} of {len(line)} bytes)")
    if sync:
        os.fsync(fd)


def _json(value: Any) -> str:
    """Compact, ASCII-only JSON: its length is its size in bytes, and no string can fail to encode."""
    return json.dumps(value, separators=(",", ":"), default=str)


def _bounded(value: Any, limit: int) -> Any:
    """`value` if its JSON fits in `limit` bytes; else an object keeps its members that fit, or a digest."""
    text = _json(value)
    if len(text) <= limit:
        return value
    if isinstance(value, dict) and len(value) * _MIN_MEMBER_BYTES <= limit:
        members = {key: _bounded(member, limit) for key, member in value.items()}
        if len(_json(members)) <= limit:
            return members
    return _digest(value if isinstance(value, str) else text)


def _digest(text: str) -> dict[str, Any]:
    """What the record keeps of an oversized value: its UTF-8 length, sha256 and first characters."""
    data = text.encode("utf-8", "surrogatepass")
    return {
        "truncated": True,
        "bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "prefix": text[:PREFIX_CHARS],
    }
