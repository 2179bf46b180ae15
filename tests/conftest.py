"""Shared fixtures: the fake kube, OPA (stubbed or real), and gateways with in-memory clients."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol

import pytest
import respx

from gateway.settings import Settings
from k8s_mcp_sandbox.opa import OpaServer
from tests.fakes.kube import CountingKube, write_kubeconfig
from tests.fakes.opa import OpaStub, policy_copy
from tests.gateways import (
    Harness,
    HttpHarness,
    Served,
    open_harness,
    serve_http,
    serve_in_process,
    serve_stdio,
    served_env,
)


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No K8S_MCP_* variable of the developer's shell leaks into a test's settings."""
    for name in list(os.environ):
        if name.startswith("K8S_MCP_"):
            monkeypatch.delenv(name)


# --------------------------------------------------------------------------------------------
# OPA
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def opa() -> Iterator[OpaServer]:
    """A real `opa run --server` with the project's policies/, shared by the whole session.

    Its API is locked to its own token: a gateway reaches it with `**opa.settings()` (or the
    variables of `opa.environment()`).
    """
    with OpaServer() as server:
        yield server


class PolicyServers(Protocol):
    def __call__(self, config_patch: Mapping[str, Any]) -> OpaServer: ...


@pytest.fixture(scope="session")
def policy_opa(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PolicyServers]:
    """Start (once per distinct patch) a real OPA on a copy of policies/ with changed policy data.

    `policy_opa({"mode": "readwrite"})` returns a running, locked OPA whose data.mcp.config is the
    project's with `mode` replaced; nested mappings are merged, lists replaced.
    """
    servers: dict[str, OpaServer] = {}

    def start(config_patch: Mapping[str, Any]) -> OpaServer:
        key = json.dumps(config_patch, sort_keys=True)
        if key not in servers:
            directory = policy_copy(tmp_path_factory.mktemp("policy"), config_patch)
            servers[key] = OpaServer(paths=(directory,)).start()
        return servers[key]

    try:
        yield start
    finally:
        for server in servers.values():
            server.stop()


@pytest.fixture
def opa_stub() -> Iterator[OpaStub]:
    """OPA's Data API stubbed with respx: allow everything, show every tool, unless told otherwise."""
    with respx.mock(base_url=OpaStub.url, assert_all_called=False) as router:
        yield OpaStub(router)


# --------------------------------------------------------------------------------------------
# Gateways
# --------------------------------------------------------------------------------------------


class GatewayFactory(Protocol):
    async def __call__(
        self,
        *,
        opa_url: str,
        kube: CountingKube | None = None,
        others: Mapping[str, CountingKube] | None = None,
        settings: Settings | None = None,
        **overrides: Any,
    ) -> Harness: ...


@pytest.fixture
async def open_gateway(tmp_path: Path) -> AsyncIterator[GatewayFactory]:
    """Open gateways (each with its own audit file and fake kube) and close them after the test.

    Without `settings`, they are built from `opa_url`, a fresh audit path and `overrides` (for a
    real OPA, `**opa.settings()` gives its URL and token file); with `settings`, those are used
    as given (for tests of settings read from the environment).
    """
    async with contextlib.AsyncExitStack() as stack:
        opened = 0

        async def open_(
            *,
            opa_url: str,
            kube: CountingKube | None = None,
            others: Mapping[str, CountingKube] | None = None,
            settings: Settings | None = None,
            **overrides: Any,
        ) -> Harness:
            nonlocal opened
            opened += 1
            if settings is None:
                values = {"audit_path": tmp_path / f"audit-{opened}.jsonl", **overrides}
                settings = Settings(opa_url=opa_url, **values)
            return await stack.enter_async_context(open_harness(settings, kube=kube, others=others))

        yield open_


class HttpGatewayFactory(Protocol):
    async def __call__(self, *, opa_url: str, kube: CountingKube | None = None, **overrides: Any) -> HttpHarness: ...


@pytest.fixture
async def serve_gateway(open_gateway: GatewayFactory) -> AsyncIterator[HttpGatewayFactory]:
    """Gateways opened as `open_gateway` opens them (transport http), each served over real HTTP.

    The app is the one `serve --transport http` runs (`Gateway.http_app`), under uvicorn on a free
    loopback port of this process, so a test can speak raw HTTP to it and still count the fake
    kube's calls. Servers stop before their gateways close.
    """
    async with contextlib.AsyncExitStack() as stack:

        async def serve(*, opa_url: str, kube: CountingKube | None = None, **overrides: Any) -> HttpHarness:
            harness = await open_gateway(opa_url=opa_url, kube=kube, transport="http", **overrides)
            base_url = await stack.enter_async_context(serve_in_process(harness.gateway.http_app()))
            return HttpHarness(harness=harness, base_url=base_url)

        yield serve


# Opening a gateway costs ~0.1 s (tool schemas, an SSL context), so the default ones are opened
# once per session and reset before each test that uses them.


@pytest.fixture(scope="session")
async def _stub_gateway(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Harness]:
    audit_path = tmp_path_factory.mktemp("stub-gateway") / "audit.jsonl"
    async with open_harness(Settings(opa_url=OpaStub.url, audit_path=audit_path, mode="readwrite")) as harness:
        yield harness


@pytest.fixture(scope="session")
async def _live_gateway(tmp_path_factory: pytest.TempPathFactory, opa: OpaServer) -> AsyncIterator[Harness]:
    audit_path = tmp_path_factory.mktemp("live-gateway") / "audit.jsonl"
    async with open_harness(Settings(**opa.settings(), audit_path=audit_path)) as harness:
        yield harness


@pytest.fixture
def gateway(_stub_gateway: Harness, opa_stub: OpaStub) -> Harness:
    """A readwrite gateway (no dry run, no namespace restriction) in front of the OPA stub.

    Its own floor lets everything through, so what happens is what the stub decides.
    """
    return _stub_gateway.reset()


@pytest.fixture
def live_gateway(_live_gateway: Harness) -> Harness:
    """A default gateway in front of the real OPA with the project's policies."""
    return _live_gateway.reset()


def gateway_env(directory: Path, opa: OpaServer) -> dict[str, str]:
    """A clean environment: the real OPA, a private audit file, an unreachable cluster."""
    directory.mkdir(parents=True, exist_ok=True)
    kubeconfig = write_kubeconfig(directory / "kubeconfig", server="https://127.0.0.1:1")
    return {
        **served_env(directory, opa=opa, kubeconfig=kubeconfig),
        "K8S_MCP_KUBE_TIMEOUT": "2",
        "K8S_MCP_PRINCIPAL": "alice",
        "K8S_MCP_PRINCIPAL_GROUPS": "sre",
    }


class ServedEnvironment(Protocol):
    def __call__(self, directory: Path) -> dict[str, str]: ...


@pytest.fixture(scope="session")
def served_environment(opa: OpaServer) -> ServedEnvironment:
    """The environment of the `stdio_gateway` and `http_gateway` processes: the real OPA and an unreachable cluster.

    tests/e2e overrides it to point them at its cluster.
    """
    return lambda directory: gateway_env(directory, opa)


@pytest.fixture(scope="module")
async def stdio_gateway(
    tmp_path_factory: pytest.TempPathFactory, served_environment: ServedEnvironment
) -> AsyncIterator[Served]:
    """One stdio gateway process, kept alive across the module's client connections.

    Module-scoped, not session-scoped: tests/e2e gives these processes another environment, and a
    session's cached process would keep the first one it was started with.
    """
    directory = tmp_path_factory.mktemp("stdio-gateway")
    async with serve_stdio(served_environment(directory), directory, principal="alice") as served:
        yield served


@pytest.fixture(scope="module")
def http_gateway(tmp_path_factory: pytest.TempPathFactory, served_environment: ServedEnvironment) -> Iterator[Served]:
    directory = tmp_path_factory.mktemp("http-gateway")
    with serve_http(served_environment(directory), directory) as served:
        yield served


@pytest.fixture(params=["stdio", "http"])
def served(request: pytest.FixtureRequest) -> Served:
    """The default gateway (shipped policy: read-only, default + staging) on each transport."""
    gateway: Served = request.getfixturevalue(f"{request.param}_gateway")
    return gateway
