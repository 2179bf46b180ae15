"""`python -m bench.bench --profile`: where a guarded call's time and a stdio start's time go.

Writes `profile.md` to `--out` (default bench/), four tables taken on the benchmark's own
sandbox (the seeded apiserver and a real OPA with the shipped policy, its API locked):

- the CPU time of one call in this process, guarded, unguarded and the bare OPA round trip
  through the gateway's own OPA client (`time.process_time`, this process only: OPA's own
  work is in the next table), and of the event loop's thread alone (`time.thread_time`), where
  the guard runs: the Kubernetes client's threads add noise to the difference;
- the OPA round trip split: the gateway's client, a raw keep-alive socket sending the same
  request, and OPA's own handler and evaluation times, which OPA reports with `?metrics`;
- the top entries, by cumulative and by own CPU time, of a cProfile of guarded calls, without
  the frames of the caller (`fastmcp.Client`, in the same process, and its check of each result
  against the tool's `outputSchema`, which the CPU table measures on its own);
- the import time of a stdio start (`python -X importtime`), summed per top-level package;
- the resident memory each layer of the gateway's imports adds, in a fresh interpreter.

Wall figures are noisy on a shared machine; CPU times and the shares within one table are what
to compare.
"""

from __future__ import annotations

import asyncio
import contextlib
import cProfile
import itertools
import json
import os
import pstats
import re
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench import servers
from gateway.binaries import REPO_ROOT
from k8s_mcp_sandbox.cluster import LocalCluster
from k8s_mcp_sandbox.opa import OpaServer

CALLS = 300
"""Calls per figure by default (`--calls`); the cProfile run takes as many guarded calls."""
WARMUP = 30
TOP_CALLS = 25
TOP_OWN = 15
TOP_IMPORTS = 15
LAYERS = {
    "`mcp_types` (the protocol's models)": "mcp_types",
    "`fastmcp`": "fastmcp",
    "`mcp` (the SDK: its package imports client and server)": "mcp",
    "`kubernetes` (its package imports every submodule)": "kubernetes",
    "the gateway (`gateway.cli`) and what it alone brings": "gateway.cli",
}
"""Imported in this order; each row is what its import adds to the rows above."""
RESIDENT = """
import importlib, json, sys
def kib():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
rows = [["the interpreter", kib(), len(sys.modules)]]
for module in sys.argv[1:]:
    importlib.import_module(module)
    rows.append([module, kib(), len(sys.modules)])
print(json.dumps(rows))
"""
"""Run in a fresh interpreter: its RSS and module count at start and after each of `LAYERS`."""
PLUMBING = re.compile(r"/asyncio/|selectors\.py|'run' of '_contextvars|bench/profile\.py|method builtins\.")
"""Event-loop frames every await passes through: they top any cumulative list and say nothing."""
DECISION = "/v1/data/mcp/authz/decision"
CHECK = "the caller's check of the result against the tool's `outputSchema` (the peer's tools declare none)"
"""Part of every call's latency, in the client's process (`mcp.ClientSession.validate_tool_result`)."""
CALLER = re.compile(r"/client/|jsonschema|referencing|json_schema_type\.py|rpds")
"""The caller's frames: the client and its output-schema check, not the gateway's work."""

Call = Callable[[], Awaitable[Any]]


async def _cpu_per_call_ms(call: Call, calls: int) -> tuple[float, float]:
    """CPU ms per call of the whole process (the Kubernetes client's threads too) and of the event loop's thread."""
    process, thread = time.process_time(), time.thread_time()
    for _ in range(calls):
        await call()
    return (time.process_time() - process) * 1000 / calls, (time.thread_time() - thread) * 1000 / calls


async def _wall_ms(call: Call, calls: int) -> list[float]:
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        await call()
        times.append((time.perf_counter() - started) * 1000)
    return times


class _RawOpa:
    """One keep-alive HTTP/1.1 connection to OPA that sends a decision query in one write: the
    floor under any client. With `metrics`, OPA's own handler and evaluation times are kept."""

    def __init__(self, opa: OpaServer, document: dict[str, Any]) -> None:
        self._origin = urlsplit(opa.url)
        self._body = json.dumps({"input": document}, separators=(",", ":")).encode()
        self._token = opa.token
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        self.handler_ms: list[float] = []
        self.eval_ms: list[float] = []

    async def ask(self, *, metrics: bool = False) -> None:
        if self._streams is None:
            self._streams = await asyncio.open_connection(self._origin.hostname, self._origin.port)
        reader, writer = self._streams
        head = (
            f"POST {DECISION}{'?metrics' if metrics else ''} HTTP/1.1\r\nHost: opa\r\n"
            f"Content-Type: application/json\r\nAuthorization: Bearer {self._token}\r\n"
            f"Content-Length: {len(self._body)}\r\n\r\n"
        )
        writer.write(head.encode() + self._body)
        headers = (await reader.readuntil(b"\r\n\r\n")).decode().lower().split("\r\n")
        length = next(int(line.split(":")[1]) for line in headers if line.startswith("content-length:"))
        answer = json.loads(await reader.readexactly(length))
        if "result" not in answer:
            raise RuntimeError(f"OPA gave no decision: {answer}")
        if metrics:
            self.handler_ms.append(answer["metrics"]["timer_server_handler_ns"] / 1e6)
            self.eval_ms.append(answer["metrics"]["timer_rego_query_eval_ns"] / 1e6)

    async def aclose(self) -> None:
        if self._streams is not None:
            self._streams[1].close()
            with contextlib.suppress(OSError):
                await self._streams[1].wait_closed()


def _label(entry: tuple[str, int, str]) -> str:
    path, line, name = entry
    for root in (f"{REPO_ROOT}/.venv/lib/python3.11/site-packages/", f"{REPO_ROOT}/", sys.prefix, sys.base_prefix):
        path = path.removeprefix(root)
    return f"`{path}:{line}({name})`" if line else f"`{name}`"


def _profile_tables(profile: cProfile.Profile, calls: int) -> list[str]:
    """The top entries by cumulative and by own CPU time, per guarded call."""
    stats: dict[Any, Any] = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    rows = [(entry, own, cumulative) for entry, (_, _, own, cumulative, _) in stats.items()]
    rows = [row for row in rows if not (PLUMBING.search(_label(row[0])) or CALLER.search(_label(row[0])))]
    lines = []
    for title, key, top in (("cumulative", 2, TOP_CALLS), ("own", 1, TOP_OWN)):
        lines += [
            f"Top {top} by {title} CPU time:",
            "",
            "| cumulative CPU ms per call | own CPU ms per call | function |",
            "|---:|---:|---|",
        ]
        for entry, own, cumulative in sorted(rows, key=lambda row: row[key], reverse=True)[:top]:
            lines.append(f"| {cumulative * 1000 / calls:.3f} | {own * 1000 / calls:.3f} | {_label(entry)} |")
        lines.append("")
    return lines


def _import_table(env: dict[str, str]) -> list[str]:
    """`python -X importtime` of a stdio gateway that starts, reads the end of its input and stops."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", str(servers.GATEWAY_BIN), "serve", "--transport", "stdio"],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    own: Counter[str] = Counter()
    for line in done.stderr.splitlines():
        found = re.match(r"import time:\s+(\d+) \|\s+\d+ \|\s*(\S+)", line)
        if found:
            own[found[2].split(".")[0]] += int(found[1])
    total = sum(own.values())
    lines = [
        f"All imports: {total / 1000:.0f} ms (as `-X importtime` counts them, itself a cost).",
        "",
        "| package | ms | share |",
        "|---|---:|---:|",
    ]
    lines += [f"| `{name}` | {us / 1000:.1f} | {us / total:.0%} |" for name, us in own.most_common(TOP_IMPORTS)]
    return lines


def _resident_table() -> list[str]:
    """The resident memory each layer of imports adds, read from /proc in a fresh interpreter."""
    done = subprocess.run(
        [sys.executable, "-c", RESIDENT, *LAYERS.values()], capture_output=True, text=True, timeout=120, check=True
    )
    rows = json.loads(done.stdout)
    lines = ["| import | MiB added | modules added |", "|---|---:|---:|"]
    lines.append(f"| the interpreter | {rows[0][1] / 1024:.1f} | {rows[0][2]} |")
    for label, (before, after) in zip(LAYERS, itertools.pairwise(rows), strict=True):
        lines.append(f"| {label} | {(after[1] - before[1]) / 1024:.1f} | {after[2] - before[2]} |")
    lines += ["", f"All of them: {rows[-1][1] / 1024:.1f} MiB resident before the gateway builds anything."]
    return lines


async def measure(workdir: Path, *, calls: int = CALLS) -> str:
    """Every table of profile.md, measured on a sandbox of its own."""
    with LocalCluster() as cluster, OpaServer(log_dir=workdir) as opa:
        cluster.seed()
        side = servers.ours(cluster=cluster, opa=opa, workdir=workdir / "ours")
        async with servers.in_process(cluster=cluster, opa=opa, workdir=workdir) as local:
            document = await servers.decided_input(local, side, workdir)
            raw = _RawOpa(opa, document)
            targets: dict[str, Call] = {
                "guarded call": lambda: servers.call(local.guarded, side),
                "unguarded call": lambda: servers.call(local.unguarded, side),
                "OPA round trip (the gateway's client)": lambda: local.gateway.policy.decide(document),
                "OPA round trip (raw keep-alive socket)": raw.ask,
            }
            result = await local.unguarded.call_tool_mcp(side.tool, side.arguments)
            targets[CHECK] = lambda: local.unguarded.session.validate_tool_result(side.tool, result)
            for _ in range(WARMUP):
                for call in targets.values():
                    await call()
            cpu = {label: await _cpu_per_call_ms(call, calls) for label, call in targets.items()}
            client = await _wall_ms(targets["OPA round trip (the gateway's client)"], calls)
            floor = await _wall_ms(raw.ask, calls)
            await _wall_ms(lambda: raw.ask(metrics=True), calls)
            await raw.aclose()
            profile = cProfile.Profile(time.thread_time)
            profile.enable()
            for _ in range(calls):
                await servers.call(local.guarded, side)
            profile.disable()
        imports = _import_table(side.environment(workdir / "imports"))
    median = statistics.median
    guard = cpu["guarded call"][1] - cpu["unguarded call"][1] - cpu["OPA round trip (the gateway's client)"][1]
    return "\n".join(
        [
            "# Where the time goes",
            "",
            f"Written by `python -m bench.bench --profile` ({calls} calls per figure, `list_pods` in staging) on "
            f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}; 1-min load average {os.getloadavg()[0]:.2f} "
            "at the end. See bench/profile.py for what each table measures.",
            "",
            "## CPU per call in the benchmark's process",
            "",
            "| call | CPU ms per call | of which the event loop's thread |",
            "|---|---:|---:|",
            *[f"| {label} | {process:.3f} | {thread:.3f} |" for label, (process, thread) in cpu.items()],
            f"| the guard's own work (guarded - unguarded - the client's OPA round trip) | — | {guard:.3f} |",
            "",
            "## The OPA round trip, p50",
            "",
            "| part | ms |",
            "|---|---:|",
            f"| the gateway's client (httpcore), whole round trip | {median(client):.3f} |",
            f"| a raw keep-alive socket, whole round trip (the floor) | {median(floor):.3f} |",
            f"| OPA's own handler (`timer_server_handler_ns`) | {median(raw.handler_ms):.3f} |",
            f"| of which the policy evaluation (`timer_rego_query_eval_ns`) | {median(raw.eval_ms):.3f} |",
            f"| the client above the floor | {median(client) - median(floor):.3f} |",
            "",
            "## A guarded call's cProfile",
            "",
            "CPU time of this process's event-loop thread (`time.thread_time`, cProfile's own cost included), "
            "event-loop frames and the caller's (the client, its output-schema check) left out.",
            "",
            *_profile_tables(profile, calls),
            f"## Import time of a stdio start, top {TOP_IMPORTS} packages by their modules' own time",
            "",
            *imports,
            "",
            "## Resident memory of the imports, layer by layer",
            "",
            *_resident_table(),
            "",
        ]
    )
