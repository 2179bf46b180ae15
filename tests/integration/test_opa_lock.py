"""OPA's REST API is locked to the gateway: only its two queries (and GET /health) are served.

Against a real sandbox OPA of this module's own (a successful attack would change it): every write
of policy or data and every read beyond a decision is refused with no token, with another token,
and with the gateway's own token on a path, method or parameter it may not use; the decision
afterwards is the decision before. A gateway with the right token decides; one with another token
fails closed before Kubernetes. A web page's Host and Origin change nothing: the page has no token.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from k8s_mcp_sandbox.opa import OpaServer
from tests.catalog import DECISION_PATH, OPEN_GRANT, SHIPPED_READS, VISIBILITY_PATH
from tests.conftest import GatewayFactory
from tests.fakes.opa import policy_input
from tests.gateways import Harness

pytestmark = pytest.mark.integration

POLICY_UNAVAILABLE = "denied: policy unavailable"

# What an attacker would load: every call allowed, and policy data opening every namespace to writes.
ALLOW_ALL = """package mcp.authz

decision := {"allow": true, "reasons": [], "obligations": {"max_log_lines": 10000, "dry_run": false},
    "approval": {"required": false, "approvers": [], "count": 0, "ttl_seconds": 0, "kinds": []}}
"""
WIDE_OPEN = {"mode": "readwrite", "grants": [OPEN_GRANT], "namespaces": ["*"], "cluster_reads": ["namespaces", "nodes"]}

# method, path, and how the body is sent (httpx keyword arguments)
Attack = tuple[str, str, dict[str, Any]]

# Refused whoever asks, the gateway included.
ALWAYS_REFUSED: dict[str, Attack] = {
    "PUT an allow-all policy": ("PUT", "/v1/policies/x", {"content": ALLOW_ALL}),
    "PUT a policy over the shipped one": ("PUT", "/v1/policies/policies/authz.rego", {"content": ALLOW_ALL}),
    "DELETE a policy": ("DELETE", "/v1/policies/x", {}),
    "PUT wide-open policy data": ("PUT", "/v1/data/mcp/config", {"json": WIDE_OPEN}),
    "PATCH the mode": (
        "PATCH",
        "/v1/data/mcp/config",
        {"json": [{"op": "replace", "path": "/mode", "value": "readwrite"}]},
    ),
    "DELETE the policy data": ("DELETE", "/v1/data/mcp/config", {}),
    "PUT all data": ("PUT", "/v1/data", {"json": {}}),
    "GET all data": ("GET", "/v1/data", {}),
    "GET the token digest": ("GET", "/v1/data/system/gateway", {}),
    "GET the policies": ("GET", "/v1/policies", {}),
    "POST an ad-hoc query": ("POST", "/v1/query", {"json": {"query": "data"}}),
    "POST a partial evaluation": (
        "POST",
        "/v1/compile",
        {"json": {"query": "data.mcp.authz.decision.allow == true", "unknowns": ["input"]}},
    ),
    "GET OPA's config": ("GET", "/v1/config", {}),
    "POST to the v0 decision": ("POST", "/v0/data/mcp/authz/decision", {"json": {}}),
    "POST to the policy data": ("POST", "/v1/data/mcp/config", {"json": {"input": {}}}),
    "GET the decision": ("GET", DECISION_PATH, {}),
    "PUT over the decision": ("PUT", DECISION_PATH, {"json": {"allow": True}}),
    "POST the decision with an explanation": ("POST", f"{DECISION_PATH}?explain=full", {"json": {"input": {}}}),
}

# Served for the gateway's token only.
GATEWAY_QUERIES: dict[str, Attack] = {
    "POST the decision": ("POST", DECISION_PATH, {"json": {"input": {}}}),
    "POST the visible tools": ("POST", VISIBILITY_PATH, {"json": {"input": {}}}),
}

# A write (restart) in staging and a read in prod: both denied by the shipped policy, and not if an attack worked.
PROBES: dict[str, dict[str, Any]] = {
    "write": policy_input(
        {"verb": "patch", "group": "apps", "resource": "deployments", "namespace": "staging", "write": True},
        tool="restart_deployment",
        gateway_mode="readwrite",
    ),
    "read in prod": policy_input(
        {"verb": "list", "resource": "pods", "namespace": "prod", "write": False}, tool="list_pods"
    ),
}

ATTACKER_PAGE = {"Host": "attacker.example:8181", "Origin": "http://attacker.example:8181"}


@pytest.fixture(scope="module")
def locked_opa() -> Iterator[OpaServer]:
    with OpaServer() as server:
        yield server


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def credentials(opa: OpaServer) -> dict[str, dict[str, str]]:
    return {"no token": {}, "another token": bearer("not-the-gateway-token"), "the gateway's token": bearer(opa.token)}


def send(opa: OpaServer, attack: Attack, headers: dict[str, str]) -> httpx.Response:
    method, path, body = attack
    return httpx.request(method, f"{opa.url}{path}", headers=headers, timeout=5, **body)


def decisions(opa: OpaServer) -> dict[str, Any]:
    """The decision for each probe, asked as the gateway asks."""
    answers = {}
    for name, document in PROBES.items():
        response = httpx.post(f"{opa.url}{DECISION_PATH}", json={"input": document}, headers=bearer(opa.token))
        response.raise_for_status()
        answers[name] = response.json()["result"]
    return answers


@pytest.fixture(scope="module")
def baseline(locked_opa: OpaServer) -> dict[str, Any]:
    before = decisions(locked_opa)
    assert before["write"]["reasons"] == [
        'no write grant (data.mcp.config.grants) lets "alice" call "restart_deployment" in namespace "staging"',
        'writes are disabled: the policy mode is "readonly"',
    ]
    assert before["read in prod"]["reasons"] == ['namespace "prod" is not in the allowlist']
    return before


def assert_refused(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.json()["code"] == "unauthorized"


@pytest.mark.parametrize("who", ["no token", "another token", "the gateway's token"])
@pytest.mark.parametrize("attack", ALWAYS_REFUSED.values(), ids=ALWAYS_REFUSED.keys())
def test_policy_and_data_cannot_be_read_or_changed_through_the_api(
    locked_opa: OpaServer, baseline: dict[str, Any], attack: Attack, who: str
) -> None:
    response = send(locked_opa, attack, credentials(locked_opa)[who])

    assert_refused(response)
    assert decisions(locked_opa) == baseline


@pytest.mark.parametrize("who", ["no token", "another token"])
@pytest.mark.parametrize("query", GATEWAY_QUERIES.values(), ids=GATEWAY_QUERIES.keys())
def test_the_gateway_queries_need_the_gateway_token(locked_opa: OpaServer, query: Attack, who: str) -> None:
    assert_refused(send(locked_opa, query, credentials(locked_opa)[who]))


@pytest.mark.parametrize("query", GATEWAY_QUERIES.values(), ids=GATEWAY_QUERIES.keys())
def test_the_gateway_token_is_served_its_queries(locked_opa: OpaServer, query: Attack) -> None:
    response = send(locked_opa, query, bearer(locked_opa.token))

    assert response.status_code == 200, response.text
    assert "result" in response.json()


@pytest.mark.parametrize("who", ["no token", "another token", "the gateway's token"])
def test_health_is_open_to_probes(locked_opa: OpaServer, who: str) -> None:
    for path in ("/health", "/health?bundles=true", "/health?plugins"):
        response = httpx.get(f"{locked_opa.url}{path}", headers=credentials(locked_opa)[who], timeout=5)
        assert response.status_code == 200, path


@pytest.mark.parametrize(
    "attack",
    [*ALWAYS_REFUSED.values(), *GATEWAY_QUERIES.values()],
    ids=[*ALWAYS_REFUSED.keys(), *GATEWAY_QUERIES.keys()],
)
def test_an_attacker_page_host_and_origin_change_nothing(
    locked_opa: OpaServer, baseline: dict[str, Any], attack: Attack
) -> None:
    """What a page reaching OPA by DNS rebinding can send: its own Host and Origin, never the token."""
    assert_refused(send(locked_opa, attack, ATTACKER_PAGE))
    assert_refused(send(locked_opa, attack, {**ATTACKER_PAGE, **bearer("guessed")}))
    assert decisions(locked_opa) == baseline


def test_each_sandbox_opa_has_its_own_token(locked_opa: OpaServer, opa: OpaServer) -> None:
    assert locked_opa.token != opa.token
    assert_refused(send(locked_opa, GATEWAY_QUERIES["POST the decision"], bearer(opa.token)))


async def test_the_gateway_with_the_token_gets_decisions(live_gateway: Harness) -> None:
    await live_gateway.ok("list_pods", {"namespace": "staging"})
    message = await live_gateway.error("list_pods", {"namespace": "prod"})

    assert message == (
        'denied by policy: namespace "prod" is not in the allowlist. '
        "Hint: namespaces you may use for this tool: default, staging"
    )
    assert live_gateway.kube.methods == ["list_namespaced_pod"]
    assert all(record["decision_id"] for record in live_gateway.tool_calls())
    assert await live_gateway.tool_names() == set(SHIPPED_READS)


async def test_the_token_may_come_from_a_variable(open_gateway: GatewayFactory, opa: OpaServer) -> None:
    gateway = await open_gateway(opa_url=opa.url, opa_token=SecretStr(opa.token))

    await gateway.ok("list_pods", {"namespace": "staging"})

    assert gateway.kube.methods == ["list_namespaced_pod"]


@pytest.mark.parametrize(
    "token",
    [{"opa_token": SecretStr("not-the-gateway-token")}, {}],
    ids=["another token", "no token"],
)
async def test_a_gateway_without_the_token_fails_closed(
    open_gateway: GatewayFactory, opa: OpaServer, caplog: pytest.LogCaptureFixture, token: dict[str, Any]
) -> None:
    gateway = await open_gateway(opa_url=opa.url, **token)

    message = await gateway.error("list_pods", {"namespace": "staging"})

    assert message == POLICY_UNAVAILABLE
    assert gateway.kube.calls == []
    record = gateway.last_call()
    assert record["outcome"] == "policy_unavailable"
    assert "OPA refused the gateway's credentials (HTTP 401)" in record["policy_error"]
    assert "K8S_MCP_OPA_TOKEN_FILE" in caplog.text
    assert await gateway.tool_names() == set()
    assert gateway.kube.calls == []
