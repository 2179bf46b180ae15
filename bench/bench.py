"""`make bench`: the gateway measured side by side with containers/kubernetes-mcp-server.

    make bench                          # sets up, installs the pinned peer (bench/peer.sh), runs
    make bench ARGS="--rounds 20"       # more rounds
    .venv/bin/python -m bench.bench --quick --no-peer --no-chart --out /tmp/b   # the smoke run

One run starts the sandbox's apiserver (seeded) and a real OPA with the shipped policy, its API
locked, then measures, interleaved round by round (the order rotates every round, so ours and
the peer alternate and neither always runs first):

- `list_pods` in staging over a kept-open session, ours and the peer, over stdio and over HTTP,
  with the CPU their process trees (ours with its OPA) used per call, read from /proc before and
  after each batch;
- the gateway assembled in this process with and without its guard, and the bare OPA round trip
  through the gateway's own OPA client with the input document of a real call, one call of each
  in turn: guarded - unguarded - OPA, call by call, is the guard's own work above OPA;
- a burst of concurrent calls on one session (wall time);

then idle RSS of the long-running servers, and cold starts (spawn → first `tools/list` answer),
alternating ours and the peer. Warm-up rounds are discarded. The ratio is ours ÷ peer; the same
client code (`fastmcp.Client`), the same apiserver, seeded data and credentials serve both.
Writes results.json, results.md and results.png to `--out` (default bench/); with `--profile`,
profile.md instead (bench/profile.py: where a guarded call and a stdio start spend their time, and
the memory a start's imports keep resident).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any, TypeVar

from bench import procs, profile, report, servers
from gateway.binaries import REPO_ROOT, find_binary
from k8s_mcp_sandbox.cluster import LocalCluster
from k8s_mcp_sandbox.opa import OpaServer

BENCH_DIR = Path(__file__).resolve().parent
IDLE_S = 2.0
"""How long the servers sit idle before their resident memory is read."""


@dataclass(frozen=True, kw_only=True)
class Plan:
    rounds: int = 12
    warmup: int = 2
    calls: int = 40
    """Sequential calls per target per round."""
    burst: int = 50
    cold_starts: int = 5
    peer: bool = True


QUICK = Plan(rounds=2, warmup=1, calls=5, burst=5, cold_starts=1)
"""The smoke run: every measurement once, small, for checking the instrument, not the gateway."""

Call = Callable[[], Awaitable[None]]
T = TypeVar("T")


def rotated(items: Sequence[T], by: int) -> list[T]:
    """`items` started at `by`: each round's order, so that no target always runs first."""
    by %= len(items)
    return [*items[by:], *items[:by]]


async def _timed(call: Call) -> float:
    started = time.perf_counter()
    await call()
    return (time.perf_counter() - started) * 1000


async def _burst(call: Call, size: int) -> tuple[float, list[str]]:
    """Wall time of `size` concurrent calls, and the errors some of them answered: a burst may
    push ours past its OPA deadline, and a refusal is part of what the burst shows."""
    started = time.perf_counter()
    outcomes = await asyncio.gather(*(call() for _ in range(size)), return_exceptions=True)
    wall = (time.perf_counter() - started) * 1000
    errors = [str(outcome) for outcome in outcomes if isinstance(outcome, servers.CallFailed)]
    for outcome in outcomes:
        if isinstance(outcome, BaseException) and not isinstance(outcome, servers.CallFailed):
            raise outcome
    return wall, errors


@dataclass
class Samples:
    latency_ms: dict[str, list[float]]
    cpu_ms_per_call: dict[str, list[float]]
    burst_ms: dict[str, list[float]]
    burst_errors: dict[str, list[str]]
    cold_start_s: dict[str, list[float]]
    idle_rss_mib: dict[str, dict[str, float]]
    guard_overhead_ms: list[float]


async def measure(plan: Plan, *, peer: Path | None, workdir: Path) -> Samples:
    samples = Samples({}, {}, {}, {}, {}, {}, [])
    with LocalCluster() as cluster, OpaServer(log_dir=workdir) as opa:
        cluster.seed()
        sides = [servers.ours(cluster=cluster, opa=opa, workdir=workdir / "ours")]
        if peer is not None:
            sides.append(servers.peer(binary=peer, cluster=cluster))
        launches = [(side, transport) for transport in servers.TRANSPORTS for side in sides]
        async with contextlib.AsyncExitStack() as stack:
            live = [
                await stack.enter_async_context(servers.running(side, transport, workdir / f"{side.name}-{transport}"))
                for side, transport in launches
            ]
            local = await stack.enter_async_context(servers.in_process(cluster=cluster, opa=opa, workdir=workdir))
            ours = sides[0]
            document = await servers.decided_input(local, ours, workdir)

            async def decide() -> None:
                if not (await local.gateway.policy.decide(document)).allow:
                    raise RuntimeError("the bare OPA round trip was not allowed: a different question")

            guard: dict[str, Call] = {
                "guard-on": _caller(local.guarded, ours),
                "guard-off": _caller(local.unguarded, ours),
                "opa": decide,
            }
            await _rounds(plan, live=live, guard=guard, samples=samples)
            await asyncio.sleep(IDLE_S)
            for run in live:
                samples.idle_rss_mib[run.label] = {
                    "server": procs.rss_bytes(run.own_pids()) / 2**20,
                    "with_sidecars": procs.rss_bytes(run.pids()) / 2**20,
                }
        for number in range(plan.cold_starts):
            _progress(f"cold start {number + 1}/{plan.cold_starts}")
            for side, transport in rotated(launches, number):
                label = f"{side.name}-{transport}"
                seconds = await servers.cold_start(side, transport, workdir / f"{label}-cold-{number}")
                samples.cold_start_s.setdefault(label, []).append(seconds)
    return samples


async def _rounds(plan: Plan, *, live: list[servers.Running], guard: dict[str, Call], samples: Samples) -> None:
    """Warm-up and measured rounds: a batch of sequential calls per server (with its CPU), the
    guard's paired batch, then a burst per server; each round in a rotated order."""
    calls: dict[str, Call] = {run.label: _caller(run.client, run.side) for run in live}
    for number in range(plan.warmup + plan.rounds):
        kept = number >= plan.warmup
        _progress(f"round {number + 1}/{plan.warmup + plan.rounds}{'' if kept else ' (warm-up)'}")
        for label in rotated([*calls, "guard"], number):
            if label == "guard":
                times = await _paired(guard, plan.calls)
                if kept:
                    for name, values in times.items():
                        samples.latency_ms.setdefault(name, []).extend(values)
                    samples.guard_overhead_ms.extend(map(_overhead, *times.values()))
                continue
            pids = next(run for run in live if run.label == label).pids()
            cpu = procs.cpu_seconds(pids)
            batch = [await _timed(calls[label]) for _ in range(plan.calls)]
            cpu = procs.cpu_seconds(pids) - cpu
            if kept:
                samples.latency_ms.setdefault(label, []).extend(batch)
                samples.cpu_ms_per_call.setdefault(label, []).append(cpu * 1000 / plan.calls)
        for run in rotated(live, number):
            wall, errors = await _burst(calls[run.label], plan.burst)
            if kept:
                samples.burst_ms.setdefault(run.label, []).append(wall)
                samples.burst_errors.setdefault(run.label, []).extend(errors)


async def _paired(calls: dict[str, Call], count: int) -> dict[str, list[float]]:
    """`count` calls of each, one after the other (in a rotating order), so that call i of each
    ran under the same load and their difference is a per-call figure."""
    times: dict[str, list[float]] = {label: [] for label in calls}
    for number in range(count):
        for label in rotated(list(calls), number):
            times[label].append(await _timed(calls[label]))
    return times


def _overhead(guarded: float, unguarded: float, opa: float) -> float:
    """What the guard adds to one call beyond its OPA round trip."""
    return guarded - unguarded - opa


def _caller(client: Any, side: servers.Side) -> Call:
    async def call() -> None:
        await servers.call(client, side)

    return call


def _progress(text: str) -> None:
    sys.stderr.write(f"bench: {text}\n")


def _command_version(argv: list[str]) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True, check=True, timeout=30).stdout.splitlines()[0]
    except (OSError, subprocess.SubprocessError, IndexError):
        return "unknown"


def machine(peer: Path | None, *, load_at_start: float) -> dict[str, Any]:
    """What the figures were taken on; a load average above the CPU count means the servers shared them."""
    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    commit = _command_version(["git", "-C", str(REPO_ROOT), "describe", "--always", "--dirty"])
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "cpu_count": os.cpu_count(),
        "cpu_model": model,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "opa": _command_version([str(find_binary("opa")), "version"]).removeprefix("Version: "),
        "fastmcp": version("fastmcp"),
        "peer": _command_version([str(peer), "--version"]) if peer else None,
        "git_commit": commit,
        "load_1min_at_start": round(load_at_start, 2),
        "load_1min_at_end": round(os.getloadavg()[0], 2),
    }


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="the smoke plan: every measurement once, small")
    parser.add_argument("--rounds", type=int, help="measured rounds (after the warm-up)")
    parser.add_argument("--warmup", type=int, help="warm-up rounds, discarded")
    parser.add_argument("--calls", type=int, help="sequential calls per target per round")
    parser.add_argument("--burst", type=int, help="concurrent calls per burst")
    parser.add_argument("--cold-starts", type=int, help="cold starts per server")
    parser.add_argument(
        "--peer", type=Path, help="the kubernetes-mcp-server binary (default: bench/peer.sh installs it)"
    )
    parser.add_argument("--no-peer", action="store_true", help="measure ours and the bare OPA path only")
    parser.add_argument("--no-chart", action="store_true", help="write no results.png (needs matplotlib otherwise)")
    parser.add_argument(
        "--profile", action="store_true", help="write profile.md instead: where a guarded call and a start spend time"
    )
    parser.add_argument("--out", type=Path, default=BENCH_DIR, help="where results.{json,md,png} or profile.md go")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = _arguments(argv)
    plan = QUICK if args.quick else Plan()
    chosen = {key: getattr(args, key) for key in ("rounds", "warmup", "calls", "burst", "cold_starts")}
    plan = replace(plan, peer=not args.no_peer, **{key: value for key, value in chosen.items() if value is not None})
    if plan.rounds < 1 or plan.calls < 2 or plan.burst < 1 or plan.cold_starts < 1 or plan.warmup < 0:
        sys.exit("bench: --rounds, --burst and --cold-starts must be at least 1, --calls at least 2")
    if args.profile:
        with tempfile.TemporaryDirectory(prefix="k8s-mcp-profile-") as workdir:
            text = asyncio.run(profile.measure(Path(workdir), calls=args.calls or profile.CALLS))
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "profile.md").write_text(text)
        sys.stdout.write(text)
        return 0
    peer = None
    if plan.peer:
        peer = args.peer or Path(
            subprocess.run([BENCH_DIR / "peer.sh"], capture_output=True, text=True, check=True).stdout.strip()
        )
    started, load = time.monotonic(), os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="k8s-mcp-bench-") as workdir:
        samples = asyncio.run(measure(plan, peer=peer, workdir=Path(workdir)))
    results = {
        "schema": 1,
        "machine": machine(peer, load_at_start=load),
        "command": " ".join(["python -m bench.bench", *(sys.argv[1:] if argv is None else argv)]),
        "plan": asdict(plan),
        "elapsed_s": round(time.monotonic() - started, 1),
        **report.summarise(asdict(samples)),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (args.out / "results.md").write_text(report.markdown(results))
    if not args.no_chart:
        report.chart(results, args.out / "results.png")
    sys.stdout.write(report.markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
