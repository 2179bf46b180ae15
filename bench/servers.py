"""The servers under measurement, started the same way for both sides.

`Side` says how to start one MCP server over stdio or over HTTP and which tool lists the pods of
a namespace: ours is `k8s-mcp-gateway serve` with the real OPA (its API locked), the shipped
policy and its audit trail on, as its own ServiceAccount; the peer is kubernetes-mcp-server
`--read-only` with the same kubeconfig and its client-side rate limit lifted. Both are reached
through `fastmcp.Client`, the same client code.

`in_process` builds the gateway in this process twice over the same cluster, once as it ships
(the guard in front of every tool) and once with the same tools and no guard, and the gateway's
own OPA client: the three figures whose difference is the guard's own work.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from fastmcp import Client, FastMCP
from fastmcp.client.transports import StdioTransport

from bench import procs
from gateway.auth import issue_token
from gateway.catalog import Catalog
from gateway.server import Gateway, register_tools
from gateway.settings import Settings
from k8s_mcp_sandbox.cluster import GATEWAY_CONTEXT, LocalCluster
from k8s_mcp_sandbox.opa import OpaServer
from k8s_mcp_sandbox.process import ManagedProcess, free_port

Transport = Literal["stdio", "http"]
TRANSPORTS: tuple[Transport, ...] = ("stdio", "http")
NAMESPACE = "staging"
PRINCIPAL = "alice"
START_TIMEOUT = 60.0
GATEWAY_BIN = Path(sys.executable).with_name("k8s-mcp-gateway")
PEER_LIMITS = {"KUBE_CLIENT_QPS": "10000", "KUBE_CLIENT_BURST": "10000"}
"""As shipped the peer's Kubernetes client allows 5 requests/s after a burst of 10; lifted, so the
benchmark measures the server, not a throttle."""


@dataclass(frozen=True, kw_only=True)
class Side:
    """How to start one server: its command over each transport, environment, tool and sidecars."""

    name: Literal["ours", "peer"]
    stdio_argv: list[str]
    http_argv: Callable[[int], list[str]]
    env: dict[str, str]
    tool: str
    arguments: dict[str, Any] = field(default_factory=lambda: {"namespace": NAMESPACE})
    token: str | None = None
    sidecars: tuple[int, ...] = ()
    """Processes that work on every call besides the server's own tree (our OPA)."""

    def environment(self, directory: Path) -> dict[str, str]:
        """The environment of one server process, whose files (our audit trail) go to `directory`."""
        directory.mkdir(parents=True, exist_ok=True)
        files = {"K8S_MCP_AUDIT_PATH": str(directory / "audit.jsonl")} if self.name == "ours" else {}
        return {**self.env, "HOME": str(directory), **files}


PATH = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
"""All a server inherits from this process: nothing of the developer's shell leaks in."""


def ours(*, cluster: LocalCluster, opa: OpaServer, workdir: Path) -> Side:
    """The gateway as it ships: real OPA, shipped policy, audit on; callers on HTTP show a token."""
    workdir.mkdir(parents=True, exist_ok=True)
    token_file = workdir / "tokens.json"
    env = {
        **PATH,
        **opa.environment(),
        "K8S_MCP_KUBECONFIG": str(cluster.gateway_kubeconfig),
        "K8S_MCP_CONTEXT": GATEWAY_CONTEXT,
        "K8S_MCP_PRINCIPAL": PRINCIPAL,
        "K8S_MCP_AUTH_TOKEN_FILE": str(token_file),
    }
    serve = [str(GATEWAY_BIN), "serve", "--transport"]
    return Side(
        name="ours",
        stdio_argv=[*serve, "stdio"],
        http_argv=lambda port: [*serve, "http", "--host", "127.0.0.1", "--port", str(port), "--auth", "tokens"],
        env=env,
        tool="list_pods",
        token=issue_token(token_file, sub=PRINCIPAL, groups=[]),
        sidecars=(opa.process.pid,) if opa.process.pid else (),
    )


def peer(*, binary: Path, cluster: LocalCluster) -> Side:
    """kubernetes-mcp-server, read-only, on the same cluster with the same credentials."""
    common = [str(binary), "--read-only", "--disable-multi-cluster", "--kubeconfig", str(cluster.gateway_kubeconfig)]
    return Side(
        name="peer",
        stdio_argv=common,
        http_argv=lambda port: [*common, "--port", str(port), "--bind-address", "127.0.0.1"],
        env={**PATH, **PEER_LIMITS},
        tool="pods_list_in_namespace",
    )


@dataclass(kw_only=True)
class Running:
    """A started server with an open MCP session."""

    label: str
    side: Side
    client: Client[Any]
    pid: int

    def pids(self) -> list[int]:
        """The server's process tree and its sidecars: what one call costs."""
        return procs.tree(self.pid, *self.side.sidecars)

    def own_pids(self) -> list[int]:
        return procs.tree(self.pid)


class CallFailed(RuntimeError):
    """A pod listing answered with an error (for ours under load: `policy unavailable`)."""


async def call(client: Client[Any], side: Side) -> None:
    """One pod listing; an error answer raises `CallFailed`."""
    result = await client.call_tool(side.tool, side.arguments, raise_on_error=False)
    if result.is_error:
        text = " ".join(getattr(block, "text", "") for block in result.content)
        raise CallFailed(f"{side.tool} failed: {text}")


@contextlib.asynccontextmanager
async def running(side: Side, transport: Transport, directory: Path) -> AsyncIterator[Running]:
    """One server of `side`, started and connected, stopped on exit; its files go to `directory`."""
    label = f"{side.name}-{transport}"
    env = side.environment(directory)
    if transport == "stdio":
        stdio = StdioTransport(
            command=side.stdio_argv[0], args=side.stdio_argv[1:], env=env, keep_alive=False, log_file=directory / "log"
        )
        async with Client(stdio, timeout=START_TIMEOUT) as client:
            yield Running(label=label, side=side, client=client, pid=procs.child_running(side.stdio_argv))
        return
    port = free_port()
    process = ManagedProcess(name=label, log_path=directory / "log")
    process.start(side.http_argv(port), env=env)
    try:
        await _wait_port(port, process)
        async with Client(f"http://127.0.0.1:{port}/mcp", timeout=START_TIMEOUT, auth=side.token) as client:
            assert process.pid is not None
            yield Running(label=label, side=side, client=client, pid=process.pid)
    finally:
        process.stop()


async def _wait_port(port: int, process: ManagedProcess) -> None:
    """Until the server accepts connections, polled every millisecond or so."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if not process.running():
            raise RuntimeError(f"{process.name} exited early:\n{process.log_tail()}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        await asyncio.sleep(0.001)
    raise RuntimeError(f"{process.name} did not listen on {port} within {START_TIMEOUT}s")


async def cold_start(side: Side, transport: Transport, directory: Path) -> float:
    """Seconds from spawning a server to its first `tools/list` answer."""
    env = side.environment(directory)
    started = time.perf_counter()
    if transport == "stdio":
        stdio = StdioTransport(
            command=side.stdio_argv[0], args=side.stdio_argv[1:], env=env, keep_alive=False, log_file=directory / "log"
        )
        async with Client(stdio, timeout=START_TIMEOUT) as client:
            await client.list_tools()
            return time.perf_counter() - started
    port = free_port()
    managed = ManagedProcess(name=f"{side.name}-{transport}-cold", log_path=directory / "log")
    managed.start(side.http_argv(port), env=env)
    try:
        await _wait_port(port, managed)
        async with Client(f"http://127.0.0.1:{port}/mcp", timeout=START_TIMEOUT, auth=side.token) as client:
            await client.list_tools()
            return time.perf_counter() - started
    finally:
        managed.stop()


@dataclass(kw_only=True)
class InProcess:
    """The gateway assembled in this process: as shipped, and the same tools with no guard."""

    guarded: Client[Any]
    unguarded: Client[Any]
    gateway: Gateway


@contextlib.asynccontextmanager
async def in_process(*, cluster: LocalCluster, opa: OpaServer, workdir: Path) -> AsyncIterator[InProcess]:
    settings = Settings(
        **opa.settings(),
        audit_path=workdir / "in-process" / "audit.jsonl",
        kubeconfig=cluster.gateway_kubeconfig,
        context=GATEWAY_CONTEXT,
        principal=PRINCIPAL,
    )
    gateway = Gateway.open(settings)
    bare = FastMCP(name="k8s-mcp-gateway, no guard")
    register_tools(bare, catalog=Catalog(), contexts=gateway.contexts)
    try:
        async with Client(gateway.server) as guarded, Client(bare) as unguarded:
            yield InProcess(guarded=guarded, unguarded=unguarded, gateway=gateway)
    finally:
        await gateway.aclose()


async def decided_input(local: InProcess, side: Side, workdir: Path) -> dict[str, Any]:
    """The input document OPA decided for a real call of `side`'s tool, from the in-process gateway's audit trail."""
    await call(local.guarded, side)
    records = [json.loads(line) for line in (workdir / "in-process" / "audit.jsonl").read_text().splitlines()]
    document: dict[str, Any] = next(record["input"] for record in reversed(records) if "input" in record)
    return document
