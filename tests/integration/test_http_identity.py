"""Who may call over HTTP: bearer tokens from a token file or signed JWTs, checked before any session.

Each gateway here is the app `serve --transport http` runs, under uvicorn in the test's process,
in front of the real OPA with the shipped policy and a fake kube that counts Kubernetes calls:
every refused caller is shown to cost no Kubernetes call, and the audit trail to name the check
that failed without ever holding the token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from joserfc import jwk, jwt
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateway.identity import authenticate_request
from gateway.server import Gateway
from k8s_mcp_sandbox.opa import OpaServer
from tests.conftest import HttpGatewayFactory, PolicyServers
from tests.fakes.http import Reply, StubHttpServer
from tests.gateways import HttpHarness, error_text, serve_in_process

pytestmark = pytest.mark.integration

ISSUER = "https://issuer.test"
AUDIENCE = "k8s-mcp-gateway"
MCP_HEADERS = {"accept": "application/json, text/event-stream", "content-type": "application/json"}
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}},
}
ALICE_TOKEN = "alice-0123456789abcdef-token"
BOB_TOKEN = "bob-fedcba9876543210-token"


def bearer(token: str) -> dict[str, str]:
    return {**MCP_HEADERS, "authorization": f"Bearer {token}"}


async def post_initialize(gateway: HttpHarness, headers: dict[str, str]) -> httpx.Response:
    async with httpx.AsyncClient() as http:
        return await http.post(gateway.url, headers=headers, json=INITIALIZE)


def assert_refused(gateway: HttpHarness, response: httpx.Response, check: str, secret: str | None = None) -> None:
    """401, one audit record naming `check`, no Kubernetes call, and `secret` written nowhere."""
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"].startswith('Bearer realm="k8s-mcp-gateway"')
    record = gateway.records()[-1]
    assert record["event"] == "authentication"
    assert (record["outcome"], record["check"], record["transport"]) == ("unauthenticated", check, "http")
    assert record["principal"] is None
    assert record["reasons"]
    assert gateway.kube.calls == []
    if secret is not None:
        assert secret not in gateway.harness.audit_path.read_text()
        assert secret not in response.text


# --------------------------------------------------------------------------------------------
# A token file
# --------------------------------------------------------------------------------------------


@pytest.fixture
def token_file(tmp_path: Path) -> Path:
    path = tmp_path / "tokens.json"
    path.write_text(json.dumps({ALICE_TOKEN: {"sub": "alice", "groups": ["sre", "oncall"]}, BOB_TOKEN: {"sub": "bob"}}))
    return path


@pytest.fixture
async def tokens_gateway(serve_gateway: HttpGatewayFactory, opa: OpaServer, token_file: Path) -> HttpHarness:
    return await serve_gateway(**opa.settings(), auth="tokens", auth_token_file=token_file)


async def test_without_a_token_the_endpoint_answers_401_and_audits_it(tokens_gateway: HttpHarness) -> None:
    response = await post_initialize(tokens_gateway, MCP_HEADERS)

    assert_refused(tokens_gateway, response, "missing")
    assert response.headers["www-authenticate"] == 'Bearer realm="k8s-mcp-gateway"'  # RFC 6750: no error
    assert response.json()["error"] == "unauthorized"


@pytest.mark.parametrize(
    ("authorization", "check"),
    [
        ("Bearer not-in-the-file-0123456789", "unknown_token"),
        (f"Bearer {ALICE_TOKEN[:-1]}", "unknown_token"),
        (f"Bearer {ALICE_TOKEN}x", "unknown_token"),
        (f"Basic {ALICE_TOKEN}", "missing"),
        ("Bearer", "missing"),
    ],
)
async def test_a_refused_token_is_audited_by_its_check_never_by_its_value(
    tokens_gateway: HttpHarness, authorization: str, check: str
) -> None:
    response = await post_initialize(tokens_gateway, {**MCP_HEADERS, "authorization": authorization})

    assert_refused(tokens_gateway, response, check, secret=authorization.partition(" ")[2] or None)


async def test_a_refused_call_inside_a_session_runs_nothing(tokens_gateway: HttpHarness) -> None:
    """A session opened with a valid token; the same tools/call with a bad token never runs."""
    call = {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "list_pods", "arguments": {}}}
    async with httpx.AsyncClient() as http:
        opened = await http.post(tokens_gateway.url, headers=bearer(ALICE_TOKEN), json=INITIALIZE)
        session = {"mcp-session-id": opened.headers["mcp-session-id"], "mcp-protocol-version": "2025-06-18"}
        initialized = {"jsonrpc": "2.0", "method": "notifications/initialized"}
        await http.post(tokens_gateway.url, headers={**bearer(ALICE_TOKEN), **session}, json=initialized)
        refused = await http.post(
            tokens_gateway.url, headers={**bearer("forged-0123456789abcdef"), **session}, json=call
        )
        assert_refused(tokens_gateway, refused, "unknown_token", secret="forged-0123456789abcdef")
        allowed = await http.post(tokens_gateway.url, headers={**bearer(ALICE_TOKEN), **session}, json=call)

    assert allowed.status_code == 200
    assert '"isError":false' in allowed.text
    assert tokens_gateway.kube.methods == ["list_namespaced_pod"]  # the same call, once it was allowed


async def test_refused_callers_open_no_session(
    serve_gateway: HttpGatewayFactory, opa: OpaServer, token_file: Path
) -> None:
    """With room for one session, refused initializes leave it free; the cap then holds."""
    gateway = await serve_gateway(**opa.settings(), auth="tokens", auth_token_file=token_file, http_max_sessions=1)
    for headers in (MCP_HEADERS, bearer("forged-0123456789abcdef"), bearer(ALICE_TOKEN.upper())):
        for _ in range(3):
            assert (await post_initialize(gateway, headers)).status_code == 401

    first = await post_initialize(gateway, bearer(ALICE_TOKEN))
    second = await post_initialize(gateway, bearer(BOB_TOKEN))

    assert (first.status_code, second.status_code) == (200, 503)


async def test_each_token_file_entry_reaches_the_policy_as_its_caller(tokens_gateway: HttpHarness) -> None:
    for token, sub, groups in ((ALICE_TOKEN, "alice", ["sre", "oncall"]), (BOB_TOKEN, "bob", [])):
        async with tokens_gateway.client(token) as client:
            result = await client.call_tool("list_pods", {"namespace": "staging"}, raise_on_error=False)

        assert not result.is_error
        record = tokens_gateway.records()[-1]
        assert record["event"] == "tool_call"
        assert record["decision_id"]  # the principal below is the one OPA decided on
        principal = {key: record["principal"][key] for key in ("sub", "groups", "authenticated")}
        assert principal == {"sub": sub, "groups": groups, "authenticated": True}
    assert tokens_gateway.kube.methods == ["list_namespaced_pod", "list_namespaced_pod"]


async def test_a_session_belongs_to_the_caller_who_opened_it(tokens_gateway: HttpHarness) -> None:
    async with httpx.AsyncClient() as http:
        opened = await http.post(tokens_gateway.url, headers=bearer(ALICE_TOKEN), json=INITIALIZE)
        session = {"mcp-session-id": opened.headers["mcp-session-id"], "mcp-protocol-version": "2025-06-18"}
        listing = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}
        as_bob = await http.post(tokens_gateway.url, headers={**bearer(BOB_TOKEN), **session}, json=listing)

    assert as_bob.status_code == 404


# --------------------------------------------------------------------------------------------
# Signed JWTs
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def signing_key() -> jwk.RSAKey:
    return jwk.RSAKey.generate_key(2048)


@pytest.fixture(scope="module")
def other_key() -> jwk.RSAKey:
    return jwk.RSAKey.generate_key(2048)


def claims(**changes: Any) -> dict[str, Any]:
    """Valid claims for the gateway of these tests; a change to None drops the claim."""
    issued = int(time.time())
    base = {"iss": ISSUER, "aud": AUDIENCE, "sub": "carol", "groups": ["sre"], "iat": issued, "exp": issued + 300}
    return {key: value for key, value in {**base, **changes}.items() if value is not None}


def sign(key: jwk.RSAKey, payload: dict[str, Any], **header: Any) -> str:
    return jwt.encode({"alg": "RS256", **header}, payload, key)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def compact(header: dict[str, Any], payload: dict[str, Any], sign_input: Callable[[bytes], bytes]) -> str:
    """A JWT put together by hand, for headers a JOSE library refuses to write."""
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}"
    return f"{signing_input}.{b64(sign_input(signing_input.encode()))}"


def unsigned(payload: dict[str, Any]) -> str:
    """`alg: none`: a header, the claims and an empty signature."""
    return compact({"alg": "none", "typ": "JWT"}, payload, lambda _: b"")


def hmac_with(secret: bytes, payload: dict[str, Any]) -> str:
    """HS256 keyed with `secret`: the algorithm-confusion attack when the secret is the public key."""
    return compact({"alg": "HS256"}, payload, lambda data: hmac.new(secret, data, hashlib.sha256).digest())


def rs256_by_hand(key: jwk.RSAKey, header: dict[str, Any], payload: dict[str, Any]) -> str:
    """A correctly signed RS256 token with any header."""
    return compact(
        {"alg": "RS256", **header},
        payload,
        lambda data: key.private_key.sign(data, padding.PKCS1v15(), hashes.SHA256()),
    )


@pytest.fixture
def public_key_file(tmp_path: Path, signing_key: jwk.RSAKey) -> Path:
    path = tmp_path / "issuer.pem"
    path.write_bytes(signing_key.as_pem(private=False))
    return path


@pytest.fixture
async def jwt_gateway(serve_gateway: HttpGatewayFactory, opa: OpaServer, public_key_file: Path) -> HttpHarness:
    return await serve_gateway(
        **opa.settings(),
        auth="jwt",
        auth_public_key_file=public_key_file,
        auth_issuer=ISSUER,
        auth_audience=AUDIENCE,
        auth_leeway=30,
    )


@dataclass(frozen=True)
class Keys:
    signing: jwk.RSAKey
    other: jwk.RSAKey
    public_pem: bytes


@pytest.fixture
def keys(signing_key: jwk.RSAKey, other_key: jwk.RSAKey, public_key_file: Path) -> Keys:
    return Keys(signing_key, other_key, public_key_file.read_bytes())


def now() -> int:
    return int(time.time())


BAD_TOKENS: list[tuple[str, Callable[[Keys], str], str]] = [
    ("garbage", lambda _: "not-a-jwt", "malformed"),
    ("three garbage parts", lambda _: "a.b.c", "malformed"),
    ("expired", lambda k: sign(k.signing, claims(exp=now() - 120)), "expired"),
    ("no exp", lambda k: sign(k.signing, claims(exp=None)), "claims"),
    ("wrong audience", lambda k: sign(k.signing, claims(aud="another-service")), "audience"),
    ("no audience", lambda k: sign(k.signing, claims(aud=None)), "claims"),
    ("wrong issuer", lambda k: sign(k.signing, claims(iss="https://evil.test")), "issuer"),
    ("not yet valid", lambda k: sign(k.signing, claims(nbf=now() + 600)), "not_yet_valid"),
    ("issued in the future", lambda k: sign(k.signing, claims(iat=now() + 600)), "not_yet_valid"),
    ("no subject", lambda k: sign(k.signing, claims(sub=None)), "subject"),
    ("wrong signature", lambda k: sign(k.other, claims()), "signature"),
    ("alg none", lambda _: unsigned(claims()), "algorithm"),
    ("HS256 keyed with the public key", lambda k: hmac_with(k.public_pem, claims()), "algorithm"),
    ("critical header", lambda k: rs256_by_hand(k.signing, {"crit": ["x-bind"], "x-bind": 1}, claims()), "malformed"),
]


@pytest.mark.parametrize(("make", "check"), [case[1:] for case in BAD_TOKENS], ids=[case[0] for case in BAD_TOKENS])
async def test_a_bad_jwt_is_refused_naming_the_check(
    jwt_gateway: HttpHarness, keys: Keys, make: Callable[[Keys], str], check: str
) -> None:
    token = make(keys)

    response = await post_initialize(jwt_gateway, bearer(token))

    assert_refused(jwt_gateway, response, check, secret=token)
    assert response.json() == {"error": "invalid_token", "error_description": f"bearer token refused: {check}"}


async def test_a_valid_jwt_names_the_caller_to_the_policy(jwt_gateway: HttpHarness, signing_key: jwk.RSAKey) -> None:
    async with jwt_gateway.client(sign(signing_key, claims(groups=["sre", "oncall"]))) as client:
        result = await client.call_tool("list_pods", {"namespace": "staging"}, raise_on_error=False)

    assert not result.is_error
    principal = jwt_gateway.records()[-1]["principal"]
    assert (principal["sub"], principal["groups"], principal["authenticated"]) == ("carol", ["sre", "oncall"], True)
    assert jwt_gateway.kube.methods == ["list_namespaced_pod"]


@pytest.mark.parametrize(
    ("groups", "expected"),
    [(None, []), ("sre", ["sre"]), (7, []), (["sre", 7, ""], ["sre"])],
    ids=["missing", "one string", "a number", "mixed"],
)
async def test_the_groups_claim_is_read_strictly(
    jwt_gateway: HttpHarness, signing_key: jwk.RSAKey, groups: object, expected: list[str]
) -> None:
    """No groups claim is no groups, still authenticated; a string is one group; non-strings drop."""
    async with jwt_gateway.client(sign(signing_key, claims(groups=groups))) as client:
        await client.call_tool("list_pods", {"namespace": "staging"}, raise_on_error=False)

    principal = jwt_gateway.records()[-1]["principal"]
    assert (principal["authenticated"], principal["groups"]) == (True, expected)
    assert jwt_gateway.kube.methods == ["list_namespaced_pod"]


async def test_the_leeway_accepts_a_token_just_expired(jwt_gateway: HttpHarness, signing_key: jwk.RSAKey) -> None:
    just_expired = sign(signing_key, claims(exp=int(time.time()) - 10))  # within the 30 s leeway

    async with jwt_gateway.client(just_expired) as client:
        assert await client.list_tools()


async def test_subject_and_groups_claims_are_settings(
    serve_gateway: HttpGatewayFactory, opa: OpaServer, public_key_file: Path, signing_key: jwk.RSAKey
) -> None:
    gateway = await serve_gateway(
        **opa.settings(),
        auth="jwt",
        auth_public_key_file=public_key_file,
        auth_issuer=ISSUER,
        auth_audience=AUDIENCE,
        auth_subject_claim="preferred_username",
        auth_groups_claim="roles",
    )
    token = sign(signing_key, claims(preferred_username="dave", roles=["sre-leads"], groups=["ignored"]))

    async with gateway.client(token) as client:
        await client.call_tool("list_pods", {"namespace": "staging"}, raise_on_error=False)

    principal = gateway.records()[-1]["principal"]
    assert (principal["sub"], principal["groups"]) == ("dave", ["sre-leads"])
    gateway.kube.reset()
    without = await post_initialize(gateway, bearer(sign(signing_key, claims())))
    assert_refused(gateway, without, "subject")


@pytest.fixture
def jwks_server(signing_key: jwk.RSAKey, other_key: jwk.RSAKey) -> Iterator[StubHttpServer]:
    """An issuer's JWKS endpoint publishing two keys, `k1` and `k2`."""
    keys = [
        {**signing_key.as_dict(private=False), "kid": "k1", "use": "sig"},
        {**other_key.as_dict(private=False), "kid": "k2", "use": "sig"},
    ]
    server = StubHttpServer(lambda _method, _path: Reply(body={"keys": keys})).start()
    try:
        yield server
    finally:
        server.stop()


async def test_keys_come_from_the_jwks_uri_by_key_id(
    serve_gateway: HttpGatewayFactory,
    opa: OpaServer,
    jwks_server: StubHttpServer,
    signing_key: jwk.RSAKey,
    other_key: jwk.RSAKey,
) -> None:
    gateway = await serve_gateway(
        **opa.settings(),
        auth="jwt",
        auth_jwks_uri=f"{jwks_server.url}/jwks.json",
        auth_issuer=ISSUER,
        auth_audience=AUDIENCE,
    )

    for key, kid in ((signing_key, "k1"), (other_key, "k2")):
        async with gateway.client(sign(key, claims(), kid=kid)) as client:
            assert await client.list_tools()
    assert_refused(gateway, await post_initialize(gateway, bearer(sign(signing_key, claims(), kid="k2"))), "signature")
    assert_refused(gateway, await post_initialize(gateway, bearer(sign(signing_key, claims(), kid="k9"))), "key")


# --------------------------------------------------------------------------------------------
# No authentication (loopback only) and the shipped policy
# --------------------------------------------------------------------------------------------


async def test_without_auth_the_shipped_policy_refuses_http_callers(
    serve_gateway: HttpGatewayFactory, opa: OpaServer
) -> None:
    gateway = await serve_gateway(**opa.settings())  # K8S_MCP_AUTH defaults to none, on loopback

    async with gateway.client() as client:
        tools = await client.list_tools()
        result = await client.call_tool("list_pods", {"namespace": "staging"}, raise_on_error=False)

    assert tools == []
    assert "the caller is not authenticated" in error_text(result)
    record = gateway.records()[-1]
    assert (record["outcome"], record["principal"]["sub"]) == ("denied", "system:anonymous")
    assert record["principal"]["authenticated"] is False
    assert gateway.kube.calls == []


async def test_policy_data_can_admit_unauthenticated_http_callers(
    serve_gateway: HttpGatewayFactory, policy_opa: PolicyServers
) -> None:
    gateway = await serve_gateway(**policy_opa({"allow_unauthenticated_http": True}).settings())

    async with gateway.client() as client:
        result = await client.call_tool("list_pods", {"namespace": "staging"}, raise_on_error=False)

    assert not result.is_error
    assert gateway.kube.methods == ["list_namespaced_pod"]


# --------------------------------------------------------------------------------------------
# authenticate_request: the check for routes beside the MCP endpoint
# --------------------------------------------------------------------------------------------


def whoami_app(gateway: Gateway) -> Starlette:
    """A route as an approvals API would write it: 401 unless `authenticate_request` names a caller."""

    async def whoami(request: Request) -> Response:
        principal = await authenticate_request(request, gateway.verifier)
        if principal is None:
            return Response(status_code=401)
        return JSONResponse({"sub": principal.sub, "groups": list(principal.groups), "auth": principal.authenticated})

    return Starlette(routes=[Route("/whoami", whoami)])


@pytest.mark.parametrize(
    ("headers", "status", "body"),
    [
        ({"authorization": f"Bearer {ALICE_TOKEN}"}, 200, {"sub": "alice", "groups": ["sre", "oncall"], "auth": True}),
        ({"authorization": f"bearer {BOB_TOKEN}"}, 200, {"sub": "bob", "groups": [], "auth": True}),
        ({}, 401, None),
        ({"authorization": "Bearer forged-0123456789abcdef"}, 401, None),
        ({"authorization": f"Basic {ALICE_TOKEN}"}, 401, None),
    ],
)
async def test_authenticate_request_names_the_caller_of_any_route(
    tokens_gateway: HttpHarness, headers: dict[str, str], status: int, body: dict[str, Any] | None
) -> None:
    async with serve_in_process(whoami_app(tokens_gateway.harness.gateway)) as base_url, httpx.AsyncClient() as http:
        response = await http.get(f"{base_url}/whoami", headers=headers)

    assert response.status_code == status
    if body is not None:
        assert response.json() == body


async def test_authenticate_request_without_a_verifier_is_anonymous(
    serve_gateway: HttpGatewayFactory, opa: OpaServer
) -> None:
    gateway = await serve_gateway(**opa.settings())
    async with serve_in_process(whoami_app(gateway.harness.gateway)) as base_url, httpx.AsyncClient() as http:
        response = await http.get(f"{base_url}/whoami", headers={"authorization": f"Bearer {ALICE_TOKEN}"})

    assert response.json() == {"sub": "system:anonymous", "groups": [], "auth": False}
