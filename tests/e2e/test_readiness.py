"""`/readyz` of a real `serve` process, with the real OPA and the real API server as its own identity."""

from __future__ import annotations

import httpx
import pytest

from k8s_mcp_sandbox.cluster import GATEWAY_USER, LocalCluster
from tests.gateways import Served

pytestmark = pytest.mark.e2e


async def test_ready_with_the_real_opa_and_api_server(cluster: LocalCluster, http_gateway: Served) -> None:
    assert isinstance(http_gateway.target, str)
    mark = cluster.audit.mark()
    async with httpx.AsyncClient() as client:
        response = await client.get(http_gateway.target.removesuffix("/mcp") + "/readyz")

    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"opa": "ok", "kubernetes": "ok"}}
    # It asked the API server as the gateway's ServiceAccount, which needs no grant for /version.
    assert cluster.audit.wait_count(1, since=mark, user=GATEWAY_USER) == 1
    asked = [
        event
        for event in cluster.audit.events(since=mark)
        if event["user"]["username"] == GATEWAY_USER and event["requestURI"] == "/version/"
    ]
    assert [event["responseStatus"]["code"] for event in asked] == [200]
