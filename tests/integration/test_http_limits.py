"""The HTTP transport's other locks: DNS-rebinding protection, the session cap and timeouts.

As in test_http_identity, each gateway is the app `serve --transport http` runs, under uvicorn in
this process, in front of the real OPA and a fake kube, so a refused request is shown to run no
Kubernetes call. The callers hold a valid token: what stops them here is not identity.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from gateway.auth import issue_token
from k8s_mcp_sandbox.opa import OpaServer
from tests.conftest import HttpGatewayFactory
from tests.gateways import HttpHarness

pytestmark = pytest.mark.integration

PROTOCOL = "2025-06-18"
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": PROTOCOL, "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}},
}
LIST_PODS = {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "list_pods", "arguments": {}}}


class Caller:
    """Raw MCP over HTTP with a valid bearer token, to one gateway."""

    def __init__(self, gateway: HttpHarness, token: str) -> None:
        self.gateway = gateway
        self.headers = {
            "accept": "application/json, text/event-stream",
            "content-type": "application/json",
            "authorization": f"Bearer {token}",
        }

    async def post(self, body: dict[str, Any], **headers: str) -> httpx.Response:
        async with httpx.AsyncClient() as http:
            return await http.post(self.gateway.url, headers={**self.headers, **headers}, json=body)

    async def open_session(self) -> dict[str, str]:
        """Initialize a session; the headers that address it."""
        opened = await self.post(INITIALIZE)
        assert opened.status_code == 200, opened.text
        session = {"mcp-session-id": opened.headers["mcp-session-id"], "mcp-protocol-version": PROTOCOL}
        initialized = await self.post({"jsonrpc": "2.0", "method": "notifications/initialized"}, **session)
        assert initialized.status_code == 202
        return session

    async def delete(self, session: dict[str, str]) -> httpx.Response:
        async with httpx.AsyncClient() as http:
            return await http.delete(self.gateway.url, headers={**self.headers, **session})


@pytest.fixture
def token_file(tmp_path: Path) -> tuple[Path, str]:
    path = tmp_path / "tokens.json"
    return path, issue_token(path, sub="alice", groups=["sre"])


@pytest.fixture
async def serve(
    serve_gateway: HttpGatewayFactory, opa: OpaServer, token_file: tuple[Path, str]
) -> Any:  # an async factory of (gateway, caller)
    path, token = token_file

    async def open_(**overrides: Any) -> tuple[HttpHarness, Caller]:
        gateway = await serve_gateway(**opa.settings(), auth="tokens", auth_token_file=path, **overrides)
        return gateway, Caller(gateway, token)

    return open_


# --------------------------------------------------------------------------------------------
# DNS rebinding: Host and Origin
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"host": "evil.example"}, 421),
        ({"host": "evil.example:8080"}, 421),
        ({"host": "127.0.0.1.evil.example"}, 421),
        ({"host": "localhost.evil.example"}, 421),
        ({"origin": "http://evil.example"}, 403),
        ({"origin": "http://127.0.0.1.evil.example"}, 403),
        ({"origin": "null"}, 403),
        ({"host": "evil.example", "origin": "http://evil.example"}, 421),
    ],
)
async def test_a_foreign_host_or_origin_is_refused_before_anything_runs(
    serve: Any, headers: dict[str, str], status: int
) -> None:
    gateway, caller = await serve()
    session = await caller.open_session()

    refused = await caller.post(LIST_PODS, **session, **headers)
    assert refused.status_code == status
    assert gateway.kube.calls == []
    assert [r for r in gateway.records() if r["event"] == "tool_call"] == []
    allowed = await caller.post(LIST_PODS, **session)  # the same call, from the gateway's own origin
    assert allowed.status_code == 200
    assert gateway.kube.methods == ["list_namespaced_pod"]


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "[::1]", "LOCALHOST:{port}", "localhost:{port}"])
async def test_loopback_hosts_are_allowed_with_or_without_a_port(serve: Any, host: str) -> None:
    gateway, caller = await serve()
    port = str(urlsplit(gateway.base_url).port)

    response = await caller.post(INITIALIZE, host=host.format(port=port), origin=f"http://{host.format(port=port)}")

    assert response.status_code == 200


async def test_allowed_hosts_and_origins_are_settings(serve: Any) -> None:
    gateway, caller = await serve(
        http_allowed_hosts=["mcp.example.com", "*.gateways.example.com"],
        http_allowed_origins=["https://console.example.com"],
    )

    for host in ("mcp.example.com", "mcp.example.com:443", "eu.gateways.example.com"):
        assert (await caller.post(INITIALIZE, host=host)).status_code == 200, host
    origin = await caller.post(INITIALIZE, host="mcp.example.com", origin="https://console.example.com")
    assert origin.status_code == 200
    assert (await caller.post(INITIALIZE, host="example.com")).status_code == 421
    assert (await caller.post(INITIALIZE, origin="https://evil.example.com")).status_code == 403
    assert gateway.kube.calls == []


# --------------------------------------------------------------------------------------------
# Sessions: a cap, and an idle lifetime
# --------------------------------------------------------------------------------------------


async def test_the_session_cap_answers_503_until_a_session_ends(serve: Any) -> None:
    _, caller = await serve(http_max_sessions=2)
    first = await caller.open_session()
    await caller.open_session()

    refused = await caller.post(INITIALIZE)
    assert refused.status_code == 503
    assert refused.json()["error"]["message"] == "Too many open sessions"

    assert (await caller.delete(first)).status_code == 200
    assert (await caller.post(INITIALIZE)).status_code == 200


async def test_an_idle_session_is_closed(serve: Any) -> None:
    gateway, caller = await serve(http_session_idle_timeout=0.3)
    session = await caller.open_session()

    await asyncio.sleep(1.0)
    expired = await caller.post(LIST_PODS, **session)

    assert expired.status_code == 404
    assert gateway.kube.calls == []


# --------------------------------------------------------------------------------------------
# Request bodies: a deadline
# --------------------------------------------------------------------------------------------


async def send_slowly(caller: Caller, body: bytes, *, pause: float, **headers: str) -> bytes:
    """POST `body` on a raw connection in two halves, `pause` seconds apart; the raw response."""
    url = urlsplit(caller.gateway.url)
    assert url.hostname is not None
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    lines = [f"POST {url.path} HTTP/1.1", f"host: {url.netloc}", f"content-length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in {**caller.headers, **headers}.items()]
    try:
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body[: len(body) // 2])
        await writer.drain()
        await asyncio.sleep(pause)
        if not reader.at_eof():
            writer.write(body[len(body) // 2 :])
            await writer.drain()
        return await asyncio.wait_for(reader.read(), timeout=10)
    finally:
        writer.close()


async def test_a_body_sent_too_slowly_gets_408_and_runs_nothing(serve: Any) -> None:
    gateway, caller = await serve(http_body_timeout=0.5)
    session = await caller.open_session()

    answer = await send_slowly(caller, json.dumps(LIST_PODS).encode(), pause=1.5, **session)

    assert answer.startswith(b"HTTP/1.1 408 ")
    assert b"request body not received within 0.5 seconds" in answer
    assert gateway.kube.calls == []


async def test_a_body_sent_in_parts_within_the_deadline_is_served(serve: Any) -> None:
    gateway, caller = await serve(http_body_timeout=2)
    session = await caller.open_session()

    answer = await send_slowly(caller, json.dumps(LIST_PODS).encode(), pause=0.2, connection="close", **session)

    assert answer.startswith(b"HTTP/1.1 200 ")
    assert gateway.kube.methods == ["list_namespaced_pod"]
