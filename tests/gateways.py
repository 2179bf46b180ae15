"""The gateway under test, opened every way the tests need it.

- `Harness`: one open gateway, its in-memory MCP client, its fake kube and its audit file.
- `serve_stdio`, `serve_http`: the real `k8s-mcp-gateway serve` process; `serve_in_process`: the
  gateway's own HTTP app under uvicorn in the test's event loop, in front of a fake kube.
- `raw_stdio`: the serve process spoken to line by line, below any MCP client.

Fixtures live in `conftest.py`; this module holds what they are built from, so that tests can
also import the types for annotations.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import sys
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mcp_types
import uvicorn
from fastmcp import Client
from fastmcp.client.client import CallToolResult
from fastmcp.client.transports import StdioTransport
from starlette.types import ASGIApp

from gateway import cli
from gateway.auth import issue_token
from gateway.opa_token import TOKEN_FILE, write_token
from gateway.server import Gateway
from gateway.settings import Settings
from k8s_mcp_sandbox.opa import OpaServer
from k8s_mcp_sandbox.process import ManagedProcess, free_port
from tests.fakes.kube import CountingKube

# --------------------------------------------------------------------------------------------
# The gateway under test
# --------------------------------------------------------------------------------------------


def read_audit(path: Path) -> list[dict[str, Any]]:
    """Every record of a JSON Lines audit file (a missing file has none)."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@dataclass(kw_only=True)
class Harness:
    """One open gateway with its in-memory MCP client, fake kube and audit file.

    A harness is `reset` when it opens (so `audit` starts after the gateway's own `audit_open`
    record) and, when shared between tests, before each: the fake kube forgets its calls and
    `audit` shows only the records written since.
    """

    gateway: Gateway
    client: Client[Any]
    kube: CountingKube
    audit_path: Path
    audit_start: int = 0

    def reset(self) -> Harness:
        self.kube.reset()
        self.audit_start = len(read_audit(self.audit_path))
        return self

    async def call(self, tool: str, arguments: Mapping[str, Any] | None = None) -> CallToolResult:
        return await self.client.call_tool(tool, dict(arguments or {}), raise_on_error=False)

    async def error(self, tool: str, arguments: Mapping[str, Any] | None = None) -> str:
        """Call `tool`, which must fail, and return the message the agent sees."""
        return error_text(await self.call(tool, arguments))

    async def ok(self, tool: str, arguments: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Call `tool`, which must succeed, and return its structured result."""
        result = await self.call(tool, arguments)
        assert not result.is_error, result.content
        assert isinstance(result.structured_content, dict)
        return result.structured_content

    async def tool_names(self) -> set[str]:
        return {tool.name for tool in await self.client.list_tools()}

    def audit(self) -> list[dict[str, Any]]:
        return read_audit(self.audit_path)[self.audit_start :]

    def tool_calls(self) -> list[dict[str, Any]]:
        return [record for record in self.audit() if record["event"] == "tool_call"]

    def events(self, approval_id: str) -> list[str]:
        """The approval steps the audit trail records for `approval_id`, oldest first."""
        return [r["event"] for r in self.audit() if r.get("approval_id") == approval_id and r["event"] != "tool_call"]

    async def approvals(self, *argv: str, principal: str = "bob", groups: str = "sre-leads") -> CliRun:
        """`k8s-mcp-gateway approvals ARGV` on this gateway's store and audit file, as `principal`."""
        store = ["--approvals-path", str(self.gateway.approvals.path), "--audit-path", str(self.audit_path)]
        return await run_cli("approvals", *argv, "--principal", principal, "--principal-groups", groups, *store)

    def last_call(self) -> dict[str, Any]:
        records = self.tool_calls()
        assert records, "no tool_call audit record"
        return records[-1]


@contextlib.asynccontextmanager
async def open_harness(
    settings: Settings, *, kube: CountingKube | None = None, others: Mapping[str, CountingKube] | None = None
) -> AsyncIterator[Harness]:
    """Open a gateway on `settings` in front of a fake kube (the default context, with `others`
    after it by name), connect a client, close both after."""
    kube = kube if kube is not None else CountingKube()
    gateway = Gateway.open(settings, kube={kube.cluster: kube, **others} if others else kube)
    try:
        async with Client(gateway.server) as client:
            yield Harness(gateway=gateway, client=client, kube=kube, audit_path=settings.audit_path).reset()
    finally:
        await gateway.aclose()


@dataclass(frozen=True, kw_only=True)
class HttpHarness:
    """A gateway served over real HTTP in this process (`serve_in_process`), with its fake kube."""

    harness: Harness
    base_url: str

    @property
    def url(self) -> str:
        """The MCP endpoint."""
        return self.base_url + self.harness.gateway.settings.http_path

    @property
    def kube(self) -> CountingKube:
        return self.harness.kube

    def client(self, token: str | None = None) -> Client[Any]:
        """An MCP client over streamable HTTP, presenting `token` as its bearer token."""
        return Client(self.url, auth=token, timeout=STARTUP_TIMEOUT)

    def records(self) -> list[dict[str, Any]]:
        return read_audit(self.harness.audit_path)


async def wait_until(condition: Callable[[], object], *, seconds: float = 10.0) -> None:
    """Poll `condition` on the event loop until it holds; fail after `seconds`."""
    async with asyncio.timeout(seconds):
        while True:
            if condition():
                return
            await asyncio.sleep(0.01)


@dataclass(frozen=True, kw_only=True)
class CliRun:
    """How one command line ended: its exit status and what it wrote."""

    code: int
    out: str
    err: str


async def run_cli(*argv: str) -> CliRun:
    """`k8s-mcp-gateway ARGV` run by `gateway.cli.main` in a worker thread (it runs its own event loop)."""

    def run() -> CliRun:
        out, err = io.StringIO(), io.StringIO()
        code: int = 0
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                cli.main(list(argv))
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
                if isinstance(exc.code, str):
                    err.write(exc.code)
        return CliRun(code=code, out=out.getvalue(), err=err.getvalue())

    return await asyncio.to_thread(run)


async def replay(audit: Path, *options: str) -> tuple[CliRun, dict[str, Any]]:
    """`policy replay --audit AUDIT OPTIONS --format json`, which must not fail: how it ended, and its report."""
    ran = await run_cli("policy", "replay", "--audit", str(audit), *options, "--format", "json")
    assert ran.code in (0, 1), ran.err
    return ran, json.loads(ran.out)


def error_text(result: CallToolResult) -> str:
    assert result.is_error, f"expected an error, got {result.structured_content!r}"
    content = result.content[0]
    assert isinstance(content, mcp_types.TextContent)
    return content.text


# What a traceback or a leaked exception would look like in a message to the agent.
TRACEBACK_MARKERS = ("Traceback", 'File "', "Error calling tool", "ApiException", "urllib3")


# --------------------------------------------------------------------------------------------
# The real `k8s-mcp-gateway serve` process, over stdio or streamable HTTP
# --------------------------------------------------------------------------------------------

GATEWAY_BIN = Path(sys.executable).with_name("k8s-mcp-gateway")
STARTUP_TIMEOUT = 30.0


@dataclass(frozen=True, kw_only=True)
class Served:
    """How to reach one gateway process, who its clients are, and where it writes its audit trail.

    `token` is the bearer token `client()` presents (HTTP with a token file); `authenticated`
    says whether the gateway verified who the principal is.
    """

    transport: str
    target: StdioTransport | str
    audit_path: Path
    principal: str
    authenticated: bool = False
    token: str | None = None

    def client(self) -> Client[Any]:
        return Client(self.target, timeout=STARTUP_TIMEOUT, auth=self.token)

    def records(self) -> list[dict[str, Any]]:
        return read_audit(self.audit_path)

    def last_record(self) -> dict[str, Any]:
        return self.records()[-1]


def served_env(directory: Path, *, opa: OpaServer | str, kubeconfig: Path) -> dict[str, str]:
    """A clean environment for a gateway process of `opa`: nothing of the developer's shell leaks in.

    `opa` is a running OPA, or the URL of one that is not there (with a token of its own), for
    tests of a gateway that cannot get a decision.
    """
    directory.mkdir(parents=True, exist_ok=True)
    if isinstance(opa, str):
        write_token(directory / "opa-token")
        opa_environment = {"K8S_MCP_OPA_URL": opa, "K8S_MCP_OPA_TOKEN_FILE": str(directory / "opa-token" / TOKEN_FILE)}
    else:
        opa_environment = opa.environment()
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(directory),
        **opa_environment,
        "K8S_MCP_AUDIT_PATH": str(directory / "audit.jsonl"),
        "K8S_MCP_KUBECONFIG": str(kubeconfig),
        "K8S_MCP_LOG_LEVEL": "DEBUG",
    }


@contextlib.asynccontextmanager
async def serve_stdio(env: Mapping[str, str], directory: Path, *, principal: str) -> AsyncIterator[Served]:
    """A stdio gateway the client spawns, kept alive across connections, closed on exit."""
    transport = StdioTransport(
        command=str(GATEWAY_BIN),
        args=["serve", "--transport", "stdio"],
        env=dict(env),
        keep_alive=True,
        log_file=directory / "stderr.log",
    )
    try:
        audit_path = Path(env["K8S_MCP_AUDIT_PATH"])
        yield Served(transport="stdio", target=transport, audit_path=audit_path, principal=principal)
    finally:
        await transport.close()


@contextlib.contextmanager
def serve_http(env: Mapping[str, str], directory: Path, *, anonymous: bool = False) -> Iterator[Served]:
    """An HTTP gateway on a free loopback port, ready when `/healthz` answers, stopped on exit.

    Its callers authenticate with a bearer token from a token file, as the principal `env`
    configures for stdio (`K8S_MCP_PRINCIPAL`, `K8S_MCP_PRINCIPAL_GROUPS`), so both transports
    call as the same person. `anonymous=True` runs it with `K8S_MCP_AUTH=none` instead.
    """
    port = free_port()
    env = dict(env)
    if anonymous:
        principal, token = "system:anonymous", None
        env["K8S_MCP_AUTH"] = "none"
    else:
        principal = env.get("K8S_MCP_PRINCIPAL", "alice")
        groups = [group for group in env.get("K8S_MCP_PRINCIPAL_GROUPS", "").split(",") if group]
        token_file = directory / "tokens.json"
        token = issue_token(token_file, sub=principal, groups=groups)
        env.update(K8S_MCP_AUTH="tokens", K8S_MCP_AUTH_TOKEN_FILE=str(token_file))
    process = ManagedProcess(name="k8s-mcp-gateway", log_path=directory / "gateway.log")
    process.start([GATEWAY_BIN, "serve", "--transport", "http", "--host", "127.0.0.1", "--port", str(port)], env=env)
    try:
        process.wait_http_ready(f"http://127.0.0.1:{port}/healthz", timeout=STARTUP_TIMEOUT)
        yield Served(
            transport="http",
            target=f"http://127.0.0.1:{port}/mcp",
            audit_path=Path(env["K8S_MCP_AUDIT_PATH"]),
            principal=principal,
            authenticated=not anonymous,
            token=token,
        )
    finally:
        process.stop()


@contextlib.asynccontextmanager
async def serve_in_process(app: ASGIApp) -> AsyncIterator[str]:
    """Run `app` under uvicorn on a free loopback port in this event loop; yield its base URL.

    For tests that need the gateway's HTTP transport and, in the same process, its fake kube.
    """
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="on", ws="none", log_config=None)
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(STARTUP_TIMEOUT):
            while not server.started:
                assert not serving.done(), "uvicorn stopped before it started"
                await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await serving


RAW_PROTOCOL_VERSION = "2025-06-18"
RAW_LINE_LIMIT = 1 << 22
"""The longest line read from a raw stdio gateway: `tools/list`, with every tool's input and output
schema, is one line of some 200 KB, well past asyncio's default of 64 KiB."""


@dataclass
class RawStdio:
    """A `k8s-mcp-gateway serve` process spoken to in raw newline-delimited JSON-RPC.

    For what no MCP client sends: malformed requests, and a look at every byte on stdout
    (`lines` keeps each line read).
    """

    process: asyncio.subprocess.Process
    lines: list[bytes] = field(default_factory=list)

    async def send(self, message: Mapping[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps({"jsonrpc": "2.0", **message}).encode() + b"\n")
        await self.process.stdin.drain()

    async def response_to(self, request_id: int) -> dict[str, Any]:
        assert self.process.stdout is not None
        while True:
            line = await asyncio.wait_for(self.process.stdout.readline(), STARTUP_TIMEOUT)
            assert line, "the gateway closed stdout"
            self.lines.append(line)
            message = json.loads(line)
            if message.get("id") == request_id:
                return dict(message)

    async def initialize(self, *, request_id: int = 1) -> dict[str, Any]:
        """The MCP handshake as a client named `raw-client` makes it; returns the `initialize` answer."""
        await self.send(
            {
                "id": request_id,
                "method": "initialize",
                "params": {
                    "protocolVersion": RAW_PROTOCOL_VERSION,
                    "capabilities": {},
                    "clientInfo": {"name": "raw-client", "version": "1.0"},
                },
            }
        )
        answer = await self.response_to(request_id)
        await self.send({"method": "notifications/initialized"})
        return answer

    async def close(self) -> int:
        """End the input (the gateway shuts down), keep what is left on stdout, return the exit code."""
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.close()
        rest = await asyncio.wait_for(self.process.stdout.read(), STARTUP_TIMEOUT)
        self.lines.extend(rest.splitlines())
        return await asyncio.wait_for(self.process.wait(), STARTUP_TIMEOUT)


@contextlib.asynccontextmanager
async def raw_stdio(env: Mapping[str, str], directory: Path) -> AsyncIterator[RawStdio]:
    """A stdio gateway process with raw pipes; killed on exit if it is still running."""
    with (directory / "stderr.log").open("wb") as stderr:
        process = await asyncio.create_subprocess_exec(
            str(GATEWAY_BIN),
            "serve",
            "--transport",
            "stdio",
            env=dict(env),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=stderr,
            limit=RAW_LINE_LIMIT,
        )
    try:
        yield RawStdio(process)
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()
