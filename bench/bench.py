"""What the guard costs per call, and what the gateway's plumbing saves.

Run from the repository root (after `make setup`):

    .venv/bin/python -m bench.bench            # ~1 min; writes bench/results.{json,md}
    .venv/bin/python -m bench.bench --quick    # ~10 s; checks the script, writes nothing

(`.venv/bin/python bench/bench.py` works too.) Run it on an otherwise idle machine: the gateway
and OPA share its cores, and the report warns when the load average says they did not have them.

Four measurements, each against real parts on loopback (a real `opa run --server` with
policies/, a real threaded HTTP server standing in for the Kubernetes API, the real gateway
assembled by `Gateway.open`):

1. Policy check cost: `list_pods` through an in-memory MCP client, against the same tools with
   no guard and against the real gateway (guard + OPA + audit), both over a fake kube that
   answers instantly, so the difference is the guard and nothing else. A second, instrumented
   pass splits the added time into OPA round trip, audit write and the rest of the guard, and
   the OPA round trip is set beside OPA's own handler time and a hand-written HTTP request.
2. Connection reuse to OPA: one kept-alive `PolicyClient` vs. a new one per decision.
3. The event loop never blocks on Kubernetes: 32 concurrent list calls against an API that
   takes 50 ms, through `Kube.call`'s thread pool vs. made directly on the event loop, with a
   5 ms ticker measuring how late the loop runs it.
4. Throughput under concurrency: 64 concurrent `list_pods` calls (context only).

Why ratios: absolute latencies depend on the machine, the load and the CPU governor; a ratio of
two figures taken in the same run, interleaved round by round, mostly does not. The absolute
medians and p95s are reported beside them for context. Nothing here is a pass/fail threshold:
this is a measurement script, not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import gc
import importlib.util
import json
import math
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import types
from collections.abc import Awaitable, Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.metadata import version
from pathlib import Path
from types import FrameType
from typing import Any
from unittest import mock

import httpx
from fastmcp import Client, FastMCP
from kubernetes.client import (
    ApiClient,
    Configuration,
    V1Container,
    V1ContainerState,
    V1ContainerStateRunning,
    V1ContainerStatus,
    V1ObjectMeta,
    V1Pod,
    V1PodList,
    V1PodSpec,
    V1PodStatus,
)

from gateway.binaries import REPO_ROOT, find_binary
from gateway.catalog import Catalog
from gateway.guard import Guard, recorded
from gateway.kube import Kube
from gateway.policy import Decision, PolicyClient
from gateway.server import INSTRUCTIONS, Gateway, register_tools
from gateway.settings import Settings
from k8s_mcp_sandbox.opa import OpaServer

BENCH_DIR = Path(__file__).resolve().parent
COMMAND = ".venv/bin/python -m bench.bench"
NOISY = 0.10  # share of the machine's CPU used by other processes above which the report warns
TOOL = "list_pods"
ARGUMENTS: dict[str, Any] = {"namespace": "default"}


# --------------------------------------------------------------------------------------------
# How much to run
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Plan:
    """Iteration counts. Latency phases interleave their two sides round by round, so a burst of
    background load or a CPU frequency change hits both sides alike instead of skewing the ratio."""

    warmup: int
    rounds: int
    calls_per_round: int
    decomposition_calls: int
    decisions: int
    fresh_client_decisions: int
    kube_rounds: int
    kube_concurrency: int = 32
    kube_delay_s: float = 0.050
    tick_s: float = 0.005
    burst: int = 64
    bursts: int


FULL = Plan(
    warmup=200,
    rounds=8,
    calls_per_round=150,
    decomposition_calls=480,
    decisions=1500,
    fresh_client_decisions=300,
    kube_rounds=5,
    bursts=12,
)
QUICK = Plan(
    warmup=20,
    rounds=2,
    calls_per_round=20,
    decomposition_calls=40,
    decisions=60,
    fresh_client_decisions=20,
    kube_rounds=1,
    bursts=2,
)


# --------------------------------------------------------------------------------------------
# Statistics
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Stats:
    """Median and p95 (nearest rank) of a set of durations, in milliseconds."""

    n: int
    median_ms: float
    p95_ms: float

    @classmethod
    def of(cls, seconds: Sequence[float]) -> Stats:
        if not seconds:
            raise ValueError("no samples")
        ordered = sorted(seconds)
        p95 = ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]
        return cls(n=len(ordered), median_ms=statistics.median(ordered) * 1e3, p95_ms=p95 * 1e3)

    def json(self) -> dict[str, float | int]:
        return {"n": self.n, "median_ms": round(self.median_ms, 4), "p95_ms": round(self.p95_ms, 4)}


def ratio(numerator: float, denominator: float) -> float:
    return round(numerator / denominator, 3)


async def timed(call: Callable[[], Awaitable[object]]) -> float:
    started = time.perf_counter()
    await call()
    return time.perf_counter() - started


# --------------------------------------------------------------------------------------------
# The fake kube: the gateway's own `Kube`, answering instantly
# --------------------------------------------------------------------------------------------


def canned_pods(count: int = 3) -> V1PodList:
    """A small namespace, so both servers shape the same few pods."""
    started = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    return V1PodList(
        items=[
            V1Pod(
                metadata=V1ObjectMeta(name=f"web-{i}", namespace="default", creation_timestamp=started),
                spec=V1PodSpec(node_name="node-a", containers=[V1Container(name="app", image="web:1.2")]),
                status=V1PodStatus(
                    phase="Running",
                    pod_ip=f"10.0.0.{i + 1}",
                    container_statuses=[
                        V1ContainerStatus(
                            name="app",
                            image="web:1.2",
                            image_id="sha256:abc",
                            ready=True,
                            restart_count=i,
                            state=V1ContainerState(running=V1ContainerStateRunning(started_at=started)),
                        )
                    ],
                ),
            )
            for i in range(count)
        ]
    )


class InstantKube(Kube):
    """A real `Kube` whose `call` returns a canned pod list without leaving the event loop.

    Both servers under comparison use it, so the Kubernetes side costs the same on both and the
    difference in latency is the guard alone.
    """

    def __init__(self) -> None:
        super().__init__(api_client=ApiClient(Configuration()), cluster="bench", timeout=1, workers=1)
        self.pods = canned_pods()

    async def call(self, method: Callable[..., Any], /, **kwargs: Any) -> Any:
        if method.__name__ != "list_namespaced_pod":
            raise NotImplementedError(method.__name__)
        return self.pods


def unguarded_server(kube: Kube) -> FastMCP:
    """The gateway's tools registered exactly as `gateway.server.build_server` does, minus the guard."""
    server = FastMCP(name="k8s-mcp-unguarded", instructions=INSTRUCTIONS, mask_error_details=True)
    register_tools(server, catalog=Catalog(), kube=kube)
    return server


async def call_ok(client: Client[Any]) -> None:
    """One `list_pods` call that must succeed: a denial would make every figure meaningless."""
    result = await client.call_tool(TOOL, ARGUMENTS, raise_on_error=False)
    if result.is_error:
        raise RuntimeError(f"{TOOL} failed during the benchmark: {result.content!r}")


# --------------------------------------------------------------------------------------------
# 1. Policy check cost per call
# --------------------------------------------------------------------------------------------


async def policy_check_cost(*, guarded: Client[Any], plain: Client[Any], plan: Plan) -> dict[str, Any]:
    """Sequential calls, alternating blocks of unguarded and guarded calls (order flipped each round)."""
    for _ in range(plan.warmup):
        await call_ok(plain)
        await call_ok(guarded)
    samples: dict[str, list[float]] = {"unguarded": [], "guarded": []}
    cpu_s: dict[str, float] = {"unguarded": 0.0, "guarded": 0.0}
    round_medians: dict[str, list[float]] = {"unguarded": [], "guarded": []}
    sides = [("unguarded", plain), ("guarded", guarded)]
    for round_ in range(plan.rounds):
        for name, client in sides if round_ % 2 == 0 else sides[::-1]:
            block: list[float] = []
            cpu_started = time.process_time()
            for _ in range(plan.calls_per_round):
                block.append(await timed(functools.partial(call_ok, client)))
            cpu_s[name] += time.process_time() - cpu_started
            samples[name].extend(block)
            round_medians[name].append(round(statistics.median(block) * 1e3, 3))
    plain_stats, guarded_stats = Stats.of(samples["unguarded"]), Stats.of(samples["guarded"])
    calls = plan.rounds * plan.calls_per_round
    return {
        # CPU: this whole process (event loop, audit writer), per call; OPA's CPU is not in it.
        "unguarded": {**plain_stats.json(), "cpu_ms_mean": round(cpu_s["unguarded"] / calls * 1e3, 4)},
        "guarded": {**guarded_stats.json(), "cpu_ms_mean": round(cpu_s["guarded"] / calls * 1e3, 4)},
        "round_medians_ms": round_medians,
        "ratio_median": ratio(guarded_stats.median_ms, plain_stats.median_ms),
        "ratio_p95": ratio(guarded_stats.p95_ms, plain_stats.p95_ms),
        "added_ms_median": round(guarded_stats.median_ms - plain_stats.median_ms, 4),
        "added_ms_p95": round(guarded_stats.p95_ms - plain_stats.p95_ms, 4),
    }


class MinimalOpaClient:
    """The least a Python client can do to ask OPA: a hand-written HTTP/1.1 POST on one kept-alive stream.

    Not a proposal for the gateway (no timeout, no error mapping, Content-Length answers only):
    the floor against which to judge what the HTTP client library costs. Its answer is validated
    into the same `Decision` as `PolicyClient`'s, so the two differ only in the HTTP layer.
    """

    def __init__(self, *, url: str, decision_path: str, token: str) -> None:
        self._url = httpx.URL(url)
        self._path = f"/v1/data/{decision_path.strip('/')}"
        self._authorization = f"Authorization: Bearer {token}\r\n"
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def open(self) -> MinimalOpaClient:
        self._streams = await asyncio.open_connection(self._url.host, self._url.port)
        return self

    async def decide(self, document: dict[str, Any]) -> Decision:
        if self._streams is None:
            raise RuntimeError("MinimalOpaClient used before open()")
        reader, writer = self._streams
        body = json.dumps({"input": document}).encode()
        writer.write(
            f"POST {self._path} HTTP/1.1\r\nHost: {self._url.host}:{self._url.port}\r\n{self._authorization}"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        await writer.drain()
        status, *lines = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        headers = {key.strip().lower(): value.strip() for key, _, value in (line.partition(":") for line in lines)}
        answer = json.loads(await reader.readexactly(int(headers["content-length"])))
        if " 200 " not in status:
            raise RuntimeError(f"unexpected answer from OPA: {status} {answer!r}")
        return Decision.model_validate({**answer["result"], "decision_id": answer.get("decision_id")})

    async def aclose(self) -> None:
        if self._streams is not None:
            self._streams[1].close()
            self._streams = None


# What replaces `PolicyClient.decide` in each variant of the decomposition.
Decide = Callable[[dict[str, Any]], Awaitable[Decision]]


def answered_by(gateway: Gateway, decide: Decide) -> contextlib.AbstractContextManager[Any]:
    """The guard's question answered by `decide`, still recorded in the call's audit record.

    The guard asks through its approval flow, which holds the decide function it was built with.
    """
    [guard] = [middleware for middleware in gateway.server.middleware if isinstance(middleware, Guard)]
    return mock.patch.object(guard.approvals, "decide", recorded(decide))


WAIT_S = 0.0005


async def guard_decomposition(
    *, gateway: Gateway, guarded: Client[Any], plain: Client[Any], minimal: MinimalOpaClient, plan: Plan
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Where the guard's added time goes, by swapping what answers the guard's question.

    The same guarded `list_pods` call, interleaved round by round with the unguarded one, with
    `PolicyClient.decide` replaced in turn by: an in-process answer (the guard's own work and the
    audit, nothing else); an answer after a 0.5 ms wait on another thread (no work: the price of
    letting the event loop go idle once per call); the real OPA asked by `MinimalOpaClient`; and
    the real OPA asked by `PolicyClient` as shipped. Each step's increment is one cause. `decide`
    and `AuditLog.append` are timed from the inside too. Returns the figures and an input document
    the guard sent, for the client measurements.
    """
    documents: list[dict[str, Any]] = []
    real_decide, real_append = gateway.policy.decide, gateway.audit.append

    async def capture(document: dict[str, Any]) -> Decision:
        documents[:] = [document]
        return await real_decide(document)

    with answered_by(gateway, capture):
        await call_ok(guarded)
    canned = await real_decide(documents[0])
    waiter = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bench-wait")

    async def in_process(_: dict[str, Any]) -> Decision:
        return canned

    async def after_wait(_: dict[str, Any]) -> Decision:
        await asyncio.get_running_loop().run_in_executor(waiter, time.sleep, WAIT_S)
        return canned

    variants: list[tuple[str, Decide | None]] = [
        ("unguarded", None),
        ("decision_in_process", in_process),
        ("decision_after_0.5ms_thread_wait", after_wait),
        ("opa_via_minimal_client", minimal.decide),
        ("opa_via_policy_client", real_decide),
    ]
    total: dict[str, list[float]] = {name: [] for name, _ in variants}
    decide_s: dict[str, list[float]] = {name: [] for name, _ in variants}
    record_s: dict[str, list[float]] = {name: [] for name, _ in variants}

    async def run_block(name: str, decide: Decide | None, calls: int) -> None:
        if decide is None:
            for _ in range(calls):
                total[name].append(await timed(functools.partial(call_ok, plain)))
            return

        async def timed_decide(document: dict[str, Any]) -> Decision:
            started = time.perf_counter()
            try:
                return await decide(document)
            finally:
                decide_s[name].append(time.perf_counter() - started)

        async def timed_append(entry: dict[str, Any], *, sync: bool = False) -> None:
            started = time.perf_counter()
            try:
                await real_append(entry, sync=sync)
            finally:
                record_s[name].append(time.perf_counter() - started)

        with answered_by(gateway, timed_decide), mock.patch.object(gateway.audit, "append", timed_append):
            for _ in range(calls):
                total[name].append(await timed(functools.partial(call_ok, guarded)))

    try:
        for name, decide in variants:
            await run_block(name, decide, plan.warmup // 4)
        for lists in (total, decide_s, record_s):
            for samples in lists.values():
                samples.clear()
        per_block = plan.decomposition_calls // plan.rounds
        for round_ in range(plan.rounds):
            shift = round_ % len(variants)
            for name, decide in variants[shift:] + variants[:shift]:
                await run_block(name, decide, per_block)
    finally:
        waiter.shutdown(wait=True)

    figures: dict[str, Any] = {}
    for name, _ in variants:
        figures[name] = {"call": Stats.of(total[name]).json()}
        if decide_s[name]:
            rest = [t - d - r for t, d, r in zip(total[name], decide_s[name], record_s[name], strict=True)]
            figures[name] |= {
                "decide": Stats.of(decide_s[name]).json(),
                "audit_record": Stats.of(record_s[name]).json(),
                "rest_of_call": Stats.of(rest).json(),
            }
    median = {name: figures[name]["call"]["median_ms"] for name, _ in variants}
    figures["steps_ms"] = {
        "guard_logic_and_audit": round(median["decision_in_process"] - median["unguarded"], 3),
        "one_idle_wait_of_0.5ms": round(median["decision_after_0.5ms_thread_wait"] - median["decision_in_process"], 3),
        "opa_instead_of_the_wait": round(
            median["opa_via_minimal_client"] - median["decision_after_0.5ms_thread_wait"], 3
        ),
        "httpx_policy_client_instead_of_minimal": round(
            median["opa_via_policy_client"] - median["opa_via_minimal_client"], 3
        ),
    }
    return figures, documents[0]


async def opa_server_time(
    *, opa_url: str, token: str, decision_path: str, document: dict[str, Any], n: int
) -> dict[str, Any]:
    """OPA's own account of a decision (`?metrics=true`): handler time and Rego evaluation time."""
    handler_s: list[float] = []
    eval_s: list[float] = []
    async with httpx.AsyncClient(base_url=opa_url, headers={"Authorization": f"Bearer {token}"}) as client:
        for _ in range(n):
            response = await client.post(
                f"/v1/data/{decision_path.strip('/')}", params={"metrics": "true"}, json={"input": document}
            )
            response.raise_for_status()
            metrics = response.json()["metrics"]
            handler_s.append(metrics["timer_server_handler_ns"] / 1e9)
            eval_s.append(metrics["timer_rego_query_eval_ns"] / 1e9)
    return {"server_handler": Stats.of(handler_s).json(), "rego_eval": Stats.of(eval_s).json()}


@contextlib.contextmanager
def sniffio_importable() -> Iterator[bool]:
    """Make `import sniffio` succeed for a while; yield whether a stand-in had to be put in place.

    httpcore 1.0 asks `import sniffio` in `current_async_library()` several times per request.
    anyio 4.x no longer depends on sniffio, so in this venv each attempt fails only after a search
    of every sys.path entry. The stand-in answers "asyncio", as sniffio does under asyncio.
    """
    if importlib.util.find_spec("sniffio") is not None:
        yield False
        return
    shim = types.ModuleType("sniffio", "benchmark stand-in: answers 'asyncio'")
    shim.__dict__["current_async_library"] = lambda: "asyncio"
    sys.modules["sniffio"] = shim
    try:
        yield True
    finally:
        sys.modules.pop("sniffio", None)


async def opa_client_cost(
    *, opa_url: str, token: str, settings: Settings, document: dict[str, Any], plan: Plan
) -> dict[str, Any]:
    """How much of a decision is OPA and the network, and how much is the HTTP client in our process.

    Three ways of asking OPA the same question, interleaved round by round: `PolicyClient.decide`
    as shipped; the same with `import sniffio` satisfied (see `sniffio_importable`); and
    `MinimalOpaClient`, the floor for any Python client.
    Each also with this process's CPU time per decision: time spent working, not waiting on OPA.
    """
    policy = PolicyClient(
        base_url=str(settings.opa_url),
        decision_path=settings.opa_decision_path,
        visibility_path=settings.opa_visibility_path,
        timeout=settings.opa_timeout,
        token=token,
    )
    minimal = await MinimalOpaClient(url=opa_url, decision_path=settings.opa_decision_path, token=token).open()

    async def shipped() -> None:
        if not (await policy.decide(document)).allow:
            raise RuntimeError("the benchmark's decision was a denial")

    async def with_sniffio() -> None:
        with sniffio_importable():
            await shipped()

    async def raw() -> None:
        if not (await minimal.decide(document)).allow:
            raise RuntimeError("the benchmark's decision was a denial")

    sides: list[tuple[str, Callable[[], Awaitable[None]]]] = [
        ("policy_client_as_shipped", shipped),
        ("policy_client_with_sniffio_importable", with_sniffio),
        ("minimal_client", raw),
    ]
    wall: dict[str, list[float]] = {name: [] for name, _ in sides}
    cpu: dict[str, list[float]] = {name: [] for name, _ in sides}
    try:
        for _ in range(plan.warmup):
            for _, ask in sides:
                await ask()
        for round_ in range(plan.rounds):
            for name, ask in sides[round_ % 3 :] + sides[: round_ % 3]:
                for _ in range(plan.decisions // plan.rounds):
                    started, cpu_started = time.perf_counter(), time.process_time()
                    await ask()
                    wall[name].append(time.perf_counter() - started)
                    cpu[name].append(time.process_time() - cpu_started)
    finally:
        await minimal.aclose()
        await policy.aclose()
    result: dict[str, Any] = {
        name: {**Stats.of(wall[name]).json(), "cpu_ms_mean": round(statistics.fmean(cpu[name]) * 1e3, 4)}
        for name, _ in sides
    }
    result["sniffio_installed"] = importlib.util.find_spec("sniffio") is not None
    result["sys_path_entries"] = len(sys.path)
    return result


# --------------------------------------------------------------------------------------------
# 2. Connection reuse to OPA
# --------------------------------------------------------------------------------------------


async def connection_reuse(*, settings: Settings, token: str, document: dict[str, Any], plan: Plan) -> dict[str, Any]:
    """One kept-alive `PolicyClient` vs. a new one per decision (built, asked once, closed).

    The fresh side is also split into its three steps, because "a new connection" costs less than
    "a new client": building an `httpx.AsyncClient` builds an SSL context even for http:// URLs.
    """

    def new_client() -> PolicyClient:
        return PolicyClient(
            base_url=str(settings.opa_url),
            decision_path=settings.opa_decision_path,
            visibility_path=settings.opa_visibility_path,
            timeout=settings.opa_timeout,
            token=token,
        )

    async def decide_ok(policy: PolicyClient) -> None:
        decision = await policy.decide(document)
        if not decision.allow:
            raise RuntimeError(f"the benchmark's decision was a denial: {decision.reasons}")

    reused_s: list[float] = []
    fresh_s: list[float] = []
    build_s: list[float] = []
    first_decide_s: list[float] = []
    close_s: list[float] = []

    async def fresh_once() -> None:
        t0 = time.perf_counter()
        policy = new_client()
        t1 = time.perf_counter()
        try:
            await decide_ok(policy)
        finally:
            t2 = time.perf_counter()
            await policy.aclose()
            t3 = time.perf_counter()
        fresh_s.append(t3 - t0)
        build_s.append(t1 - t0)
        first_decide_s.append(t2 - t1)
        close_s.append(t3 - t2)

    reused = new_client()
    try:
        for _ in range(plan.warmup):
            await decide_ok(reused)
        for _ in range(max(1, plan.warmup // 10)):
            await fresh_once()
        for samples in (fresh_s, build_s, first_decide_s, close_s):
            samples.clear()
        per_round_reused = plan.decisions // plan.rounds
        per_round_fresh = plan.fresh_client_decisions // plan.rounds
        for _ in range(plan.rounds):
            for _ in range(per_round_reused):
                reused_s.append(await timed(functools.partial(decide_ok, reused)))
            for _ in range(per_round_fresh):
                await fresh_once()
    finally:
        await reused.aclose()
    ssl_context_s = []
    for _ in range(max(3, plan.fresh_client_decisions // 10)):
        started = time.perf_counter()
        httpx.create_ssl_context()
        ssl_context_s.append(time.perf_counter() - started)
    reused_stats, fresh_stats = Stats.of(reused_s), Stats.of(fresh_s)
    return {
        "reused_client": reused_stats.json(),
        "new_client_per_decision": fresh_stats.json(),
        "new_client_steps": {
            "build_client": Stats.of(build_s).json(),
            "of_which_ssl_context": Stats.of(ssl_context_s).json(),
            "connect_and_decide": Stats.of(first_decide_s).json(),
            "close_client": Stats.of(close_s).json(),
        },
        "ratio_median": ratio(fresh_stats.median_ms, reused_stats.median_ms),
        "ratio_connect_and_decide_median": ratio(Stats.of(first_decide_s).median_ms, reused_stats.median_ms),
    }


# --------------------------------------------------------------------------------------------
# 3. The event loop never blocks on Kubernetes
# --------------------------------------------------------------------------------------------

EMPTY_POD_LIST = json.dumps({"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": []}).encode()
NOT_FOUND = json.dumps({"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 404}).encode()
PODS_PATH = re.compile(r"^/api/v1/namespaces/[a-z0-9-]+/pods(\?.*)?$")


class SlowKubeApi:
    """A threaded loopback HTTP server answering `GET /api/v1/namespaces/{ns}/pods` after a fixed delay.

    HTTP/1.1 with keep-alive, as the real API server, so both sides reuse urllib3 connections and
    the comparison is about where the wait happens, not about handshakes. A delayed answer waits
    on an event that `stop` sets, so no handler thread outlives the benchmark.
    """

    def __init__(self, *, delay_s: float) -> None:
        self.delay_s = delay_s
        self.served = 0
        self._lock = threading.Lock()
        self._release = threading.Event()
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes; with Nagle on, the body waits for the client's
            # delayed ACK (~40 ms on Linux) and every call would take 90 ms, not 50. Go's server,
            # like the real kube-apiserver, sets TCP_NODELAY too.
            disable_nagle_algorithm = True

            def do_GET(self) -> None:
                if PODS_PATH.match(self.path):
                    api._release.wait(api.delay_s)
                    status, body = 200, EMPTY_POD_LIST
                    with api._lock:
                        api.served += 1
                else:
                    status, body = 404, NOT_FOUND
                with contextlib.suppress(ConnectionError):
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        class Server(ThreadingHTTPServer):
            request_queue_size = 128  # 32 clients may connect at once; the default backlog is 5

        self._server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="slow-kube-api", daemon=True
        )

    def __enter__(self) -> SlowKubeApi:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


async def _worst_lag(period_s: float, stop: asyncio.Event) -> float:
    """Sleep `period_s` again and again; return the worst lateness of a wake-up, in seconds."""
    loop = asyncio.get_running_loop()
    worst = 0.0
    while not stop.is_set():
        due = loop.time() + period_s
        await asyncio.sleep(period_s)
        worst = max(worst, loop.time() - due)
    return worst


async def _with_ticker(work: Callable[[], Awaitable[list[Any]]], period_s: float) -> tuple[float, float, list[Any]]:
    """Run `work` beside a ticker task; return (wall seconds, worst ticker lag seconds, results)."""
    stop = asyncio.Event()
    ticker = asyncio.create_task(_worst_lag(period_s, stop))
    await asyncio.sleep(0)  # let the ticker arm its first sleep
    started = time.perf_counter()
    try:
        results = await work()
    finally:
        wall = time.perf_counter() - started
        stop.set()
    return wall, await ticker, results


async def event_loop_blocking(*, api_url: str, plan: Plan) -> dict[str, Any]:
    """32 concurrent pod listings through `Kube.call` (pool as shipped) vs. the same sync call on the loop."""
    workers = int(Settings.model_fields["kube_workers"].default)  # the shipped default, from its one place
    configuration = Configuration(host=api_url)
    configuration.retries = False
    kube = Kube(api_client=ApiClient(configuration), cluster="bench", timeout=10, workers=workers)
    n = plan.kube_concurrency

    async def pooled() -> list[Any]:
        return await asyncio.gather(*(kube.call(kube.core.list_namespaced_pod, namespace="default") for _ in range(n)))

    async def direct_one() -> Any:
        # What the seed did: the synchronous client called from a coroutine.
        return kube.core.list_namespaced_pod(namespace="default", _request_timeout=kube.timeout)

    async def direct() -> list[Any]:
        return await asyncio.gather(*(direct_one() for _ in range(n)))

    async def idle() -> list[Any]:
        await asyncio.sleep(0.1)
        return []

    idle_lag: list[float] = []
    runs: dict[str, list[tuple[float, float]]] = {"pool": [], "direct": []}
    try:
        await pooled()  # warm-up: threads started, keep-alive connections open
        await direct_one()
        for round_ in range(plan.kube_rounds):
            _, lag, _ = await _with_ticker(idle, plan.tick_s)
            idle_lag.append(lag)
            order = [("pool", pooled), ("direct", direct)]
            for name, work in order if round_ % 2 == 0 else order[::-1]:
                wall, lag, results = await _with_ticker(work, plan.tick_s)
                if len(results) != n or any(r.items != [] for r in results):
                    raise RuntimeError(f"unexpected answers from the stub API server: {results[:1]!r}")
                runs[name].append((wall, lag))
    finally:
        kube.close()

    def summary(name: str) -> dict[str, Any]:
        walls = [wall for wall, _ in runs[name]]
        lags = [lag for _, lag in runs[name]]
        return {
            "wall": Stats.of(walls).json(),
            "loop_lag_max_ms": round(max(lags) * 1e3, 3),
            "loop_lag_median_ms": round(statistics.median(lags) * 1e3, 3),
        }

    pool, blocked = summary("pool"), summary("direct")
    return {
        "concurrent_calls": n,
        "api_delay_ms": plan.kube_delay_s * 1e3,
        "pool_workers": workers,
        "ideal_pool_wall_ms": math.ceil(n / workers) * plan.kube_delay_s * 1e3,
        "ideal_serial_wall_ms": n * plan.kube_delay_s * 1e3,
        "rounds": plan.kube_rounds,
        "pool": pool,
        "direct_on_loop": blocked,
        "idle_loop_lag_max_ms": round(max(idle_lag) * 1e3, 3),
        "ratio_wall_median": ratio(blocked["wall"]["median_ms"], pool["wall"]["median_ms"]),
        "ratio_lag_median": ratio(blocked["loop_lag_median_ms"], pool["loop_lag_median_ms"]),
    }


# --------------------------------------------------------------------------------------------
# 4. Guarded throughput under concurrency
# --------------------------------------------------------------------------------------------


async def throughput(*, guarded: Client[Any], plain: Client[Any], plan: Plan) -> dict[str, Any]:
    """Bursts of `plan.burst` concurrent calls on one MCP session; calls per second per burst."""

    async def burst(client: Client[Any]) -> None:
        await asyncio.gather(*(call_ok(client) for _ in range(plan.burst)))

    await burst(plain)
    await burst(guarded)
    rates: dict[str, list[float]] = {"unguarded": [], "guarded": []}
    sides = [("unguarded", plain), ("guarded", guarded)]
    for round_ in range(plan.bursts):
        for name, client in sides if round_ % 2 == 0 else sides[::-1]:
            rates[name].append(plan.burst / await timed(functools.partial(burst, client)))
    plain_rate, guarded_rate = statistics.median(rates["unguarded"]), statistics.median(rates["guarded"])
    return {
        "concurrency": plan.burst,
        "bursts": plan.bursts,
        "unguarded_calls_per_s": round(plain_rate, 1),
        "guarded_calls_per_s": round(guarded_rate, 1),
        "ratio_guarded_over_unguarded": ratio(guarded_rate, plain_rate),
    }


# --------------------------------------------------------------------------------------------
# Putting it together
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class CpuSnapshot:
    """CPU seconds used so far by the whole machine, by this process and by OPA (Linux /proc)."""

    wall: float
    machine_busy: float
    ours: float
    opa: float

    @classmethod
    def take(cls, opa_pid: int | None) -> CpuSnapshot | None:
        tick = os.sysconf("SC_CLK_TCK")
        try:
            # cpu user nice system idle iowait irq softirq steal ...: busy is all but idle and iowait.
            fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
            opa_ticks = 0
            if opa_pid is not None:
                stat = Path(f"/proc/{opa_pid}/stat").read_text()
                opa_ticks = sum(int(v) for v in stat.rsplit(")", 1)[1].split()[11:13])  # utime, stime
        except (OSError, ValueError, IndexError):
            return None
        ours = os.times()
        return cls(
            wall=time.monotonic(),
            machine_busy=(sum(fields) - fields[3] - fields[4]) / tick,
            ours=ours.user + ours.system,
            opa=opa_ticks / tick,
        )

    def others_share(self, later: CpuSnapshot) -> float:
        """The share of the machine's CPU that neither we nor OPA used in between: the noise."""
        others = (later.machine_busy - self.machine_busy) - (later.ours - self.ours) - (later.opa - self.opa)
        return max(0.0, others) / ((later.wall - self.wall) * (os.cpu_count() or 1))


def machine_info(opa: Path) -> dict[str, Any]:
    """Enough to tell two results files apart: where, what, which versions, which commit."""
    opa_version = subprocess.run([opa, "version"], capture_output=True, text=True, check=True).stdout
    match = re.search(r"^Version:\s*(\S+)", opa_version, re.MULTILINE)
    cpu_model = None
    with contextlib.suppress(OSError):
        found = re.search(r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.MULTILINE)
        cpu_model = found.group(1).strip() if found else None
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=REPO_ROOT, check=False
    )
    dirty = subprocess.run(["git", "status", "--porcelain"], capture_output=True, text=True, cwd=REPO_ROOT, check=False)
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "cpu_count": os.cpu_count(),
        "cpu_model": cpu_model,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "opa": match.group(1) if match else opa_version.strip(),
        "fastmcp": version("fastmcp"),
        "httpx": version("httpx"),
        "kubernetes": version("kubernetes"),
        "git_commit": (commit.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")) or None,
    }


async def run(*, opa: OpaServer, api: SlowKubeApi, workdir: Path, plan: Plan) -> dict[str, Any]:
    settings = Settings.model_validate(
        {
            **opa.settings(),
            "audit_path": workdir / "audit.jsonl",
            "mode": "readonly",
            "dry_run": False,
            "namespaces": None,
            "principal": "bench",
        }
    )
    gateway = Gateway.open(settings, kube=InstantKube())
    plain_kube = InstantKube()
    results: dict[str, Any] = {}
    try:
        async with Client(gateway.server) as guarded, Client(unguarded_server(plain_kube)) as plain:
            step("1/4 policy check cost per call")
            results["policy_check"] = await policy_check_cost(guarded=guarded, plain=plain, plan=plan)
            step("1/4 … where the added time goes")
            minimal = await MinimalOpaClient(
                url=opa.url, decision_path=settings.opa_decision_path, token=opa.token
            ).open()
            try:
                decomposition, document = await guard_decomposition(
                    gateway=gateway, guarded=guarded, plain=plain, minimal=minimal, plan=plan
                )
            finally:
                await minimal.aclose()
            decomposition["opa_self_reported"] = await opa_server_time(
                opa_url=opa.url,
                token=opa.token,
                decision_path=settings.opa_decision_path,
                document=document,
                n=plan.decisions // 3,
            )
            results["guard_decomposition"] = decomposition
            results["opa_client_cost"] = await opa_client_cost(
                opa_url=opa.url, token=opa.token, settings=settings, document=document, plan=plan
            )
            step("2/4 connection reuse to OPA")
            results["opa_connection_reuse"] = await connection_reuse(
                settings=settings, token=opa.token, document=document, plan=plan
            )
            step("3/4 event loop vs. a 50 ms Kubernetes API")
            results["kube_event_loop"] = await event_loop_blocking(api_url=api.url, plan=plan)
            results["kube_event_loop"]["pod_lists_served_by_stub"] = api.served
            step("4/4 throughput under concurrency")
            results["throughput"] = await throughput(guarded=guarded, plain=plain, plan=plan)
            # One call at a time, from measurement 1: does concurrency buy anything at all?
            for side in ("unguarded", "guarded"):
                sequential = 1e3 / results["policy_check"][side]["median_ms"]
                results["throughput"][f"{side}_sequential_calls_per_s"] = round(sequential, 1)
                results["throughput"][f"{side}_concurrency_gain"] = ratio(
                    results["throughput"][f"{side}_calls_per_s"], sequential
                )
    finally:
        await gateway.aclose()
        plain_kube.close()
    results["audit_records_written"] = len((workdir / "audit.jsonl").read_bytes().splitlines())
    return results


def step(text: str) -> None:
    print(f"  … {text}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------------------------


def _ms(stats: dict[str, Any]) -> str:
    return f"{stats['median_ms']:.3f} / {stats['p95_ms']:.3f} ms"


def table_rows(results: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(measurement, baseline, gateway, ratio) rows shared by the console table and results.md."""
    check, reuse, loop, rate = (
        results["policy_check"],
        results["opa_connection_reuse"],
        results["kube_event_loop"],
        results["throughput"],
    )
    pool, blocked = loop["pool"], loop["direct_on_loop"]
    n, delay, workers = loop["concurrent_calls"], loop["api_delay_ms"], loop["pool_workers"]
    return [
        (
            "`list_pods` per call, in-memory MCP client, instant fake kube (median / p95)",
            f"no guard: {_ms(check['unguarded'])}",
            f"guard + OPA + audit: {_ms(check['guarded'])}",
            f"{check['ratio_median']:.2f}x (+{check['added_ms_median']:.3f} ms per call)",
        ),
        (
            "One OPA decision through `PolicyClient.decide` (median / p95)",
            f"new client per decision: {_ms(reuse['new_client_per_decision'])}",
            f"one kept-alive client: {_ms(reuse['reused_client'])}",
            f"{reuse['ratio_median']:.1f}x faster",
        ),
        (
            f"{n} concurrent pod listings, API answers in {delay:g} ms (wall median; worst loop lag)",
            f"sync call on the event loop: {blocked['wall']['median_ms']:.0f} ms; "
            f"loop stalled {blocked['loop_lag_max_ms']:.0f} ms",
            f"`Kube.call`, {workers} threads: {pool['wall']['median_ms']:.0f} ms; "
            f"loop stalled {pool['loop_lag_max_ms']:.1f} ms",
            f"{loop['ratio_wall_median']:.1f}x faster",
        ),
        (
            f"Throughput, {rate['concurrency']} concurrent `list_pods` on one session (median of bursts)",
            f"no guard: {rate['unguarded_calls_per_s']:.0f} calls/s",
            f"guard + OPA + audit: {rate['guarded_calls_per_s']:.0f} calls/s",
            f"{rate['ratio_guarded_over_unguarded']:.2f}x",
        ),
    ]


def _cpu(stats: dict[str, Any]) -> str:
    return f"{_ms(stats)}, CPU {stats['cpu_ms_mean']:.3f} ms"


def breakdown_lines(results: dict[str, Any]) -> list[str]:
    """The figures behind the table: where the guard's time goes, and why the ratios are what they are."""
    check, parts = results["policy_check"], results["guard_decomposition"]
    steps, opa_self = parts["steps_ms"], parts["opa_self_reported"]
    shipped = parts["opa_via_policy_client"]
    client = results["opa_client_cost"]
    reuse = results["opa_connection_reuse"]["new_client_steps"]
    rate = results["throughput"]
    loop = results["kube_event_loop"]
    return [
        "the same guarded call, with the guard's question answered by (call median / p95):",
        f"  nobody, no guard:                      {_ms(parts['unguarded']['call'])}",
        f"  the guard itself, in process:          {_ms(parts['decision_in_process']['call'])}"
        f"  -> guard logic + audit {steps['guard_logic_and_audit']:+.3f} ms",
        f"  a 0.5 ms wait on another thread:       {_ms(parts['decision_after_0.5ms_thread_wait']['call'])}"
        f"  -> one idle wait {steps['one_idle_wait_of_0.5ms']:+.3f} ms",
        f"  OPA, via a minimal HTTP/1.1 client:    {_ms(parts['opa_via_minimal_client']['call'])}"
        f"  -> OPA instead of the wait {steps['opa_instead_of_the_wait']:+.3f} ms",
        f"  OPA, via PolicyClient (httpx), shipped: {_ms(shipped['call'])}"
        f"  -> httpx instead of minimal {steps['httpx_policy_client_instead_of_minimal']:+.3f} ms",
        f"  inside the shipped call: decide {_ms(shipped['decide'])}, audit record {_ms(shipped['audit_record'])}, "
        f"rest {_ms(shipped['rest_of_call'])}",
        f"  OPA's own handler time: {_ms(opa_self['server_handler'])} (Rego eval {_ms(opa_self['rego_eval'])})",
        "one decision alone, three clients (median / p95, this process's CPU per decision):",
        f"  PolicyClient.decide as shipped:      {_cpu(client['policy_client_as_shipped'])}",
        f"  same, with `import sniffio` working: {_cpu(client['policy_client_with_sniffio_importable'])}"
        f" (sniffio installed: {client['sniffio_installed']}, sys.path entries: {client['sys_path_entries']})",
        f"  MinimalOpaClient:                    {_cpu(client['minimal_client'])}",
        f"new PolicyClient per decision: build {_ms(reuse['build_client'])} "
        f"(an SSL context alone: {_ms(reuse['of_which_ssl_context'])}), "
        f"connect+decide {_ms(reuse['connect_and_decide'])}, close {_ms(reuse['close_client'])}; "
        f"connect+decide vs. reused {results['opa_connection_reuse']['ratio_connect_and_decide_median']:.2f}x",
        f"one call at a time: unguarded {rate['unguarded_sequential_calls_per_s']:.0f} calls/s, "
        f"guarded {rate['guarded_sequential_calls_per_s']:.0f} calls/s; {rate['concurrency']} at once: "
        f"{rate['unguarded_concurrency_gain']:.2f}x / {rate['guarded_concurrency_gain']:.2f}x of that",
        f"CPU of this process per call, one at a time: unguarded {check['unguarded']['cpu_ms_mean']:.3f} ms, "
        f"guarded {check['guarded']['cpu_ms_mean']:.3f} ms",
        f"5 ms ticker on an idle loop, worst lag (reference): {loop['idle_loop_lag_max_ms']:.2f} ms",
        f"audit records written: {results['audit_records_written']}",
    ]


def print_report(report: dict[str, Any]) -> None:
    machine = report["machine"]
    print(
        f"\nk8s-mcp-gateway benchmark — {machine['date']}, {machine['cpu_count']} CPUs ({machine['cpu_model']}), "
        f"Python {machine['python']}, OPA {machine['opa']}, commit {machine['git_commit']}\n"
    )
    rows = [("measurement", "baseline", "gateway", "ratio"), *table_rows(report["results"])]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for index, row in enumerate(rows):
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
        if index == 0:
            print("  ".join("-" * width for width in widths))
    print("\nWhere the guard's time goes:")
    for line in breakdown_lines(report["results"]):
        print(f"  {line}")
    print(f"\ntook {report['elapsed_s']:.1f} s")
    others = machine["cpu_share_used_by_other_processes"]
    if others is not None:
        print(f"CPU used by other processes during the run: {others:.0%} of the machine")
        if others > NOISY:
            print(
                "warning: the machine was not idle; absolute figures are inflated, the cross-process ones "
                "(OPA) most, and ratios drift too. Run again on an idle machine for figures to publish."
            )


def markdown(report: dict[str, Any]) -> str:
    machine = report["machine"]
    lines = [
        "| Measurement | Baseline | Gateway | Ratio |",
        "|---|---|---|---|",
        *(f"| {' | '.join(row)} |" for row in table_rows(report["results"])),
        "",
        f"One run of `{COMMAND}` ({report['elapsed_s']:.0f} s) on {machine['cpu_count']} CPUs "
        f"({machine['cpu_model']}), Python {machine['python']}, OPA {machine['opa']}, {machine['date']}. "
        "Everything on loopback: a real `opa run --server` with `policies/`, the gateway as `Gateway.open` "
        "builds it, a fake kube answering instantly (rows 1, 2, 4) and a threaded stub of the Kubernetes API "
        "(row 3). Ratios compare figures taken in the same run, interleaved round by round; the absolute "
        "figures depend on the machine. Raw numbers: `bench/results.json`.",
        "",
        where_the_time_goes(report["results"]),
        "",
    ]
    return "\n".join(lines)


def where_the_time_goes(results: dict[str, Any]) -> str:
    """One paragraph for the README: what the added milliseconds are made of."""
    check, parts = results["policy_check"], results["guard_decomposition"]
    steps, client = parts["steps_ms"], results["opa_client_cost"]
    shipped, minimal = client["policy_client_as_shipped"], client["minimal_client"]
    return (
        f"Where the guard's +{check['added_ms_median']:.2f} ms go (medians, from swapping what answers the "
        f"guard's question): the guard's own work and the audit record {steps['guard_logic_and_audit']:.2f} ms; "
        f"letting the event loop go idle once for a 0.5 ms wait {steps['one_idle_wait_of_0.5ms']:.2f} ms; "
        f"asking the real OPA instead of that wait {steps['opa_instead_of_the_wait']:+.2f} ms "
        f"(OPA's own handler: {parts['opa_self_reported']['server_handler']['median_ms']:.2f} ms); "
        f"httpx instead of a minimal hand-written HTTP/1.1 client {steps['httpx_policy_client_instead_of_minimal']:.2f}"
        f" ms. Alone, one decision costs this process {shipped['cpu_ms_mean']:.2f} ms of CPU through httpx and "
        f"{minimal['cpu_ms_mean']:.2f} ms through the minimal client. The unguarded call never waits (instant fake "
        f"kube, in-memory transport), so it never pays for a wake-up; a real Kubernetes call always does."
    )


@contextlib.contextmanager
def stop_on_sigterm() -> Iterator[None]:
    """Turn SIGTERM into SystemExit so the `with` blocks below still stop OPA and the stub server."""

    def handler(signum: int, _: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a few iterations of each, to check the script runs")
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    for name in [name for name in os.environ if name.startswith("K8S_MCP_")]:
        del os.environ[name]  # the gateway's documented defaults, not the developer's shell
    started = time.perf_counter()
    with (
        stop_on_sigterm(),
        tempfile.TemporaryDirectory(prefix="k8s-mcp-bench-") as tmp,
        OpaServer(log_dir=Path(tmp)) as opa,
        SlowKubeApi(delay_s=plan.kube_delay_s) as api,
    ):
        step(f"OPA on {opa.url}, Kubernetes API stub on {api.url}")
        gc.collect()
        before = CpuSnapshot.take(opa.process.pid)
        results = asyncio.run(run(opa=opa, api=api, workdir=Path(tmp), plan=plan))
        after = CpuSnapshot.take(opa.process.pid)
    others = before.others_share(after) if before is not None and after is not None else None
    report = {
        "machine": {
            **machine_info(find_binary("opa")),
            "load_1min_at_end": round(os.getloadavg()[0], 2),
            "cpu_share_used_by_other_processes": round(others, 3) if others is not None else None,
        },
        "command": COMMAND,
        "plan": asdict(plan),
        "elapsed_s": round(time.perf_counter() - started, 1),
        "results": results,
    }
    print_report(report)
    if args.quick:
        print("(--quick: nothing written)")
        return 0
    (BENCH_DIR / "results.json").write_text(json.dumps(report, indent=2) + "\n")
    (BENCH_DIR / "results.md").write_text(markdown(report))
    chart = "" if importlib.util.find_spec("matplotlib") else " (no chart: matplotlib is not in the venv)"
    print(f"wrote {BENCH_DIR / 'results.json'} and {BENCH_DIR / 'results.md'}{chart}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
