"""The audit trail: one JSON Lines record per tool call, in a file, off the event loop.

Records are appended by a single writer thread, so lines never interleave and the event loop
never waits on the disk. A write also gets a write-ahead `write_intent` record, flushed and
fsynced *before* Kubernetes is touched; if that fails the write does not run. Logs go to stderr
and the audit goes to its file: stdout belongs to the MCP stdio transport.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from gateway.errors import AuditUnavailable

log = logging.getLogger(__name__)


class AuditLog:
    """Appends records to `path`; the file is opened once, at start, so a bad path fails early."""

    def __init__(self, *, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="audit")

    async def record(self, entry: dict[str, Any]) -> None:
        """Append one record; a failure is logged, never raised (the call already happened)."""
        try:
            await self._append(entry, sync=False)
        except OSError as exc:
            log.error("audit record for request %s lost: %s", entry.get("request_id"), exc)

    async def write_ahead(self, entry: dict[str, Any]) -> None:
        """Durably append a record before a write runs; raise `AuditUnavailable` if it cannot be."""
        try:
            await self._append(entry, sync=True)
        except OSError as exc:
            log.error("write-ahead audit record failed: %s", exc)
            raise AuditUnavailable() from None

    async def _append(self, entry: dict[str, Any], *, sync: bool) -> None:
        line = (json.dumps(entry, separators=(",", ":"), default=str) + "\n").encode()
        await asyncio.get_running_loop().run_in_executor(self._writer, self._write, line, sync)

    def _write(self, line: bytes, sync: bool) -> None:
        # One unbuffered O_APPEND write per record: a failed write leaves nothing half-buffered.
        written = os.write(self._fd, line)
        if written != len(line):
            raise OSError(f"short write to the audit file ({written} of {len(line)} bytes)")
        if sync:
            os.fsync(self._fd)

    def close(self) -> None:
        self._writer.shutdown(wait=True)
        os.close(self._fd)
