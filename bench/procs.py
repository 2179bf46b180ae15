"""What a server's processes cost, read from /proc: CPU time and resident memory of process trees.

A server is a tree (a process and whatever it spawned); ours is measured together with its OPA
sidecar, since every call costs both. Figures come from the kernel, not from the servers, so the
gateway and its peer are measured the same way.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

PROC = Path("/proc")
TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def _stat_fields(pid: int) -> list[str]:
    """The fields of /proc/PID/stat after the command name (which may hold spaces)."""
    text = (PROC / str(pid) / "stat").read_text()
    return text[text.rindex(")") + 2 :].split()


def _parents() -> dict[int, int]:
    parents = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int(_stat_fields(int(entry.name))[1])
            except (OSError, ValueError):
                continue  # gone meanwhile
    return parents


def tree(*roots: int) -> list[int]:
    """The roots and all their descendants that are alive now."""
    parents = _parents()
    found = [root for root in roots if root in parents]
    for pid in found:  # grows while it is walked: breadth first
        found.extend(child for child, parent in parents.items() if parent == pid and child not in found)
    return found


def child_running(argv: Sequence[str]) -> int:
    """The pid of this process's child whose command line ends with `argv` (a stdio server the MCP
    client spawned; a script's command line starts with its interpreter)."""
    me, wanted = os.getpid(), [part.encode() for part in argv]
    for pid, parent in _parents().items():
        if parent == me:
            try:
                command = (PROC / str(pid) / "cmdline").read_bytes().split(b"\0")[:-1]
            except OSError:
                continue
            if command[-len(wanted) :] == wanted:
                return pid
    raise LookupError(f"no child process runs {' '.join(argv)}")


def cpu_seconds(pids: Iterable[int]) -> float:
    """User + system CPU time the processes have used so far (children they reaped included)."""
    total = 0
    for pid in pids:
        try:
            fields = _stat_fields(pid)
        except OSError:
            continue
        # utime, stime, cutime, cstime: fields 14-17 of stat, 11-14 after the name and state.
        total += sum(int(value) for value in fields[11:15])
    return total / TICKS


def rss_bytes(pids: Iterable[int]) -> int:
    """Resident memory of the processes (statm's resident pages)."""
    total = 0
    for pid in pids:
        try:
            total += int((PROC / str(pid) / "statm").read_text().split()[1]) * PAGE
        except OSError:
            continue
    return total
