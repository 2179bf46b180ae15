"""`/readyz` over HTTP: ready only while OPA gives a decision and the default context's API server answers.

OPA is stubbed (respx) and the API server is either the fake kube, a real unreachable address,
or a loopback server answering what a test wants. The requests go through the gateway's own
Starlette app, as the kubelet's would.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpcore
import httpx
import pytest

from gateway.readiness import PROBE_PRINCIPAL
from tests.catalog import STUB_OPA_URL
from tests.conftest import GatewayFactory
from tests.fakes.http import Reply, StubHttpServer
from tests.fakes.kube import CountingKube, passthrough_kube, write_kubeconfig
from tests.fakes.opa import OpaStub, decision, opa_answer
from tests.gateways import Harness

READY = {"status": "ready", "checks": {"opa": "ok", "kubernetes": "ok"}}


@pytest.fixture
async def get() -> AsyncIterator[Callable[[Harness, str], Any]]:
    """GET a path of a gateway's HTTP app (routes as `serve --transport http` mounts them)."""
    clients: list[httpx.AsyncClient] = []

    async def get_(harness: Harness, path: str) -> httpx.Response:
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=harness.gateway.server.http_app()), base_url="http://gateway.test"
        )
        clients.append(client)
        return await client.get(path)

    yield get_
    for client in clients:
        await client.aclose()


async def test_ready_when_opa_decides_and_the_api_server_answers(
    gateway: Harness, opa_stub: OpaStub, get: Callable[[Harness, str], Any]
) -> None:
    response = await get(gateway, "/readyz")

    assert (response.status_code, response.json()) == (200, READY)
    assert opa_stub.decision_route.call_count == 1
    assert gateway.kube.methods == ["get_code"]


async def test_a_denying_decision_is_still_ready(
    gateway: Harness, opa_stub: OpaStub, get: Callable[[Harness, str], Any]
) -> None:
    """The probe asks whether the policy can be asked, not what it says."""
    opa_stub.decide(decision(allow=False, reasons=["principal is not allowed"]))

    response = await get(gateway, "/readyz")

    assert (response.status_code, response.json()) == (200, READY)


async def test_the_probe_asks_a_fixed_well_formed_decision_and_calls_no_tool(
    gateway: Harness, opa_stub: OpaStub, get: Callable[[Harness, str], Any]
) -> None:
    await get(gateway, "/readyz")
    await get(gateway, "/readyz")

    first, second = opa_stub.decision_inputs
    assert first == second
    assert first["version"] == 1
    assert first["principal"]["sub"] == PROBE_PRINCIPAL
    assert first["principal"]["authenticated"] is False
    assert first["tool"]["name"] == "list_namespaces"
    assert first["action"] == {
        "verb": "list",
        "group": "",
        "resource": "namespaces",
        "subresource": "",
        "namespace": None,
        "name": None,
        "cluster_scoped": True,
        "write": False,
    }
    assert first["gateway"]["cluster"] == gateway.kube.cluster
    assert first["approval"] is None
    assert opa_stub.listing_inputs == []
    assert gateway.kube.methods == ["get_code", "get_code"]
    assert gateway.audit() == []


@pytest.mark.parametrize(
    "answer",
    [
        httpcore.ConnectError,
        httpcore.ReadTimeout,
        httpx.Response(500, json={"code": "internal_error", "message": "eval_conflict_error at authz.rego:42"}),
        httpx.Response(200, text="<html>proxy error</html>"),
        httpx.Response(200, json={}),
        httpx.Response(200, json={"result": {"allow": "yes"}}),
        opa_answer(True),
    ],
    ids=["down", "timeout", "http-500", "not-json", "undefined", "wrong-types", "not-an-object"],
)
async def test_not_ready_when_opa_gives_no_decision(
    gateway: Harness, opa_stub: OpaStub, get: Callable[[Harness, str], Any], answer: Any
) -> None:
    opa_stub.break_route(opa_stub.decision_route, answer)

    response = await get(gateway, "/readyz")

    assert response.status_code == 503
    # Exactly this body: no error text, URL or exception from OPA reaches the caller.
    assert response.json() == {"status": "not ready", "checks": {"opa": "unavailable", "kubernetes": "ok"}}


async def test_liveness_stays_up_while_not_ready(
    gateway: Harness, opa_stub: OpaStub, get: Callable[[Harness, str], Any]
) -> None:
    opa_stub.break_route(opa_stub.decision_route, httpcore.ConnectError)

    assert (await get(gateway, "/readyz")).status_code == 503
    healthz = await get(gateway, "/healthz")
    assert (healthz.status_code, healthz.json()) == (200, {"status": "ok"})


async def test_not_ready_when_the_api_server_is_unreachable(
    open_gateway: GatewayFactory,
    opa_stub: OpaStub,
    get: Callable[[Harness, str], Any],
    tmp_path: Path,
    unused_tcp_port: int,
) -> None:
    server = f"https://127.0.0.1:{unused_tcp_port}"
    kube = passthrough_kube(write_kubeconfig(tmp_path / "kubeconfig", server=server))
    gateway = await open_gateway(opa_url=STUB_OPA_URL, kube=kube)

    response = await get(gateway, "/readyz")

    assert response.status_code == 503
    assert response.json() == {"status": "not ready", "checks": {"opa": "ok", "kubernetes": "unavailable"}}
    assert str(unused_tcp_port) not in response.text
    assert kube.methods == ["get_code"]


VERSION = {
    "major": "1",
    "minor": "37",
    "gitVersion": "v1.37.0",
    "gitCommit": "0" * 40,
    "gitTreeState": "clean",
    "buildDate": "2026-01-01T00:00:00Z",
    "goVersion": "go1.26",
    "compiler": "gc",
    "platform": "linux/amd64",
}


@pytest.mark.parametrize(
    ("reply", "kubernetes"),
    [
        (Reply(status=200, body=VERSION), "ok"),
        (Reply(status=401, body={"kind": "Status", "code": 401, "message": "Unauthorized"}), "unavailable"),
        (Reply(status=500, body={"kind": "Status", "code": 500, "message": "etcdserver: no leader"}), "unavailable"),
        (Reply(status=200, body=VERSION, delay=2.0), "unavailable"),
    ],
    ids=["answers", "token-rejected", "server-error", "slow"],
)
async def test_the_api_server_must_answer_version_with_the_gateway_credentials(
    open_gateway: GatewayFactory,
    opa_stub: OpaStub,
    get: Callable[[Harness, str], Any],
    tmp_path: Path,
    reply: Reply,
    kubernetes: str,
) -> None:
    api_server = StubHttpServer(lambda _method, _path: reply).start()
    try:
        kube = passthrough_kube(write_kubeconfig(tmp_path / "kubeconfig", server=api_server.url))
        gateway = await open_gateway(opa_url=STUB_OPA_URL, kube=kube)

        response = await get(gateway, "/readyz")
    finally:
        api_server.stop()

    assert response.json() == {
        "status": "ready" if kubernetes == "ok" else "not ready",
        "checks": {"opa": "ok", "kubernetes": kubernetes},
    }
    assert response.status_code == (200 if kubernetes == "ok" else 503)
    assert api_server.requests == [("GET", "/version/")]
    assert "etcdserver" not in response.text


@pytest.mark.parametrize(
    ("east_up", "west_up", "status", "kubernetes"),
    [(True, True, 200, "ok"), (True, False, 200, "degraded"), (False, True, 503, "unavailable")],
    ids=["both", "west-down", "default-down"],
)
async def test_every_context_is_asked_and_the_default_decides(
    open_gateway: GatewayFactory,
    opa_stub: OpaStub,
    get: Callable[[Harness, str], Any],
    tmp_path: Path,
    unused_tcp_port: int,
    east_up: bool,
    west_up: bool,
    status: int,
    kubernetes: str,
) -> None:
    """Another context down leaves the gateway ready, since its other clusters' calls still run."""
    unreachable = f"https://127.0.0.1:{unused_tcp_port}"

    def kube(name: str, up: bool) -> CountingKube:
        return (
            CountingKube(cluster=name)
            if up
            else passthrough_kube(write_kubeconfig(tmp_path / name, server=unreachable))
        )

    east, west = kube("east", east_up), kube("west", west_up)
    gateway = await open_gateway(opa_url=STUB_OPA_URL, kube=east, others={"west": west})

    response = await get(gateway, "/readyz")

    assert response.status_code == status
    assert response.json() == {
        "status": "ready" if status == 200 else "not ready",
        "checks": {"opa": "ok", "kubernetes": kubernetes},
    }
    assert "west" not in response.text
    assert str(unused_tcp_port) not in response.text
    assert east.methods == west.methods == ["get_code"]
