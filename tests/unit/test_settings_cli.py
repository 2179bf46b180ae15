"""Settings from flags and K8S_MCP_* variables: bad values stop the gateway, naming what is wrong."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from joserfc import jwk

from gateway import __version__, cli
from gateway.auth import AuthConfigError
from gateway.server import Gateway
from gateway.settings import Settings
from tests.catalog import CLUSTER
from tests.conftest import GatewayFactory
from tests.fakes.kube import CountingKube, write_kubeconfig
from tests.fakes.opa import OpaStub

GATEWAY_BIN = Path(sys.executable).with_name("k8s-mcp-gateway")


@pytest.mark.parametrize(
    ("flags", "env", "names"),
    [
        ([], {"K8S_MCP_PORT": "abc"}, ["--port / K8S_MCP_PORT", "integer"]),
        (["--port", "70000"], {}, ["--port / K8S_MCP_PORT", "65535"]),
        ([], {"K8S_MCP_MODE": "banana"}, ["--mode / K8S_MCP_MODE", "'readonly' or 'readwrite'"]),
        ([], {"K8S_MCP_CONTEXTS": "east,west,east"}, ["--contexts / K8S_MCP_CONTEXTS", "repeated: east"]),
        ([], {"K8S_MCP_NAMESPACES": "Prod"}, ["--namespaces / K8S_MCP_NAMESPACES", "'Prod' is not a DNS-1123 label"]),
        (["--namespaces", "staging,../prod"], {}, ["--namespaces / K8S_MCP_NAMESPACES", "'../prod'"]),
        (["--opa-timeout", "0"], {}, ["--opa-timeout / K8S_MCP_OPA_TIMEOUT", "greater than 0"]),
        ([], {"K8S_MCP_OPA_TIMEOUT": "-1"}, ["--opa-timeout / K8S_MCP_OPA_TIMEOUT", "greater than 0"]),
        (["--opa-url", "not a url"], {}, ["--opa-url / K8S_MCP_OPA_URL", "URL"]),
        (["--opa-decision-path", "../admin"], {}, ["--opa-decision-path / K8S_MCP_OPA_DECISION_PATH"]),
        ([], {"K8S_MCP_DRY_RUN": "perhaps"}, ["--dry-run / K8S_MCP_DRY_RUN", "boolean"]),
        (["--kube-workers", "0"], {}, ["--kube-workers / K8S_MCP_KUBE_WORKERS"]),
        (["--http-path", "mcp"], {}, ["--http-path / K8S_MCP_HTTP_PATH"]),
        (["--transport", "http", "--host", "0.0.0.0"], {}, ["--auth / K8S_MCP_AUTH", "loopback", "'0.0.0.0'"]),
        ([], {"K8S_MCP_TRANSPORT": "http", "K8S_MCP_HOST": "10.0.0.5"}, ["--auth / K8S_MCP_AUTH", "'tokens' or 'jwt'"]),
        (["--auth", "tokens"], {}, ["--auth-token-file / K8S_MCP_AUTH_TOKEN_FILE", "required"]),
        (["--auth", "jwt"], {}, ["--auth-public-key-file / K8S_MCP_AUTH_PUBLIC_KEY_FILE", "exactly one"]),
        (
            ["--auth", "jwt", "--auth-public-key-file", "k.pem", "--auth-jwks-uri", "https://idp.example/jwks"],
            {"K8S_MCP_AUTH_ISSUER": "https://idp.example", "K8S_MCP_AUTH_AUDIENCE": "mcp"},
            ["--auth-public-key-file / K8S_MCP_AUTH_PUBLIC_KEY_FILE", "exactly one"],
        ),
        (
            ["--auth", "jwt", "--auth-jwks-uri", "https://idp.example/jwks", "--auth-issuer", "https://idp.example"],
            {},
            ["--auth-audience / K8S_MCP_AUTH_AUDIENCE", "required"],
        ),
        ([], {"K8S_MCP_AUTH": "kerberos"}, ["--auth / K8S_MCP_AUTH", "'none', 'tokens' or 'jwt'"]),
        ([], {"K8S_MCP_AUTH_ALGORITHM": "HS256"}, ["--auth-algorithm / K8S_MCP_AUTH_ALGORITHM"]),
        (["--auth-leeway", "-1"], {}, ["--auth-leeway / K8S_MCP_AUTH_LEEWAY"]),
        (["--http-allowed-hosts", "https://mcp.example.com"], {}, ["--http-allowed-hosts", "is not a host name"]),
        ([], {"K8S_MCP_HTTP_ALLOWED_ORIGINS": "mcp.example.com"}, ["--http-allowed-origins", "is not an origin"]),
        (["--http-max-sessions", "0"], {}, ["--http-max-sessions / K8S_MCP_HTTP_MAX_SESSIONS"]),
        (["--http-body-timeout", "0"], {}, ["--http-body-timeout / K8S_MCP_HTTP_BODY_TIMEOUT"]),
        ([], {"K8S_MCP_OPA_TOKEN": ""}, ["--opa-token / K8S_MCP_OPA_TOKEN", "one word of visible ASCII"]),
        (["--opa-token", "two words"], {}, ["--opa-token / K8S_MCP_OPA_TOKEN", "one word of visible ASCII"]),
        (
            ["--opa-token", "t0ken"],
            {"K8S_MCP_OPA_TOKEN_FILE": "/run/opa-token/token"},
            ["--opa-token / K8S_MCP_OPA_TOKEN", "K8S_MCP_OPA_TOKEN_FILE is set too"],
        ),
        (["--max-log-lines", "0"], {}, ["--max-log-lines / K8S_MCP_MAX_LOG_LINES", "greater than or equal to 1"]),
        ([], {"K8S_MCP_MAX_LOG_LINES": "10001"}, ["--max-log-lines / K8S_MCP_MAX_LOG_LINES", "10000"]),
        ([], {"K8S_MCP_NAMESPACES": "Bad_NS"}, ["--namespaces / K8S_MCP_NAMESPACES: 'Bad_NS' is not a DNS-1123"]),
    ],
)
def test_an_invalid_setting_stops_the_gateway_naming_flag_and_variable(
    monkeypatch: pytest.MonkeyPatch, flags: list[str], env: dict[str, str], names: list[str]
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    with pytest.raises(SystemExit) as stopped:
        cli.main(["serve", *flags])

    message = str(stopped.value.code)
    assert message.startswith("invalid setting ")
    assert "Value error" not in message
    for name in names:
        assert name in message


def test_serve_help_shows_every_setting_with_its_choices_default_and_variable(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as stopped:
        cli.main(["serve", "--help"])

    assert stopped.value.code == 0
    shown = " ".join(capsys.readouterr().out.split())
    assert "--mode {readonly,readwrite}" in shown
    assert "(default: readonly; env K8S_MCP_MODE)" in shown
    assert "--transport {stdio,http}" in shown
    assert "(default: unset; env K8S_MCP_NAMESPACES)" in shown
    for name in Settings.model_fields:
        assert f"env K8S_MCP_{name.upper()})" in shown


@pytest.mark.parametrize(
    ("flag", "value"), [("--mode", "banana"), ("--transport", "carrier-pigeon"), ("--log-level", "LOUD")]
)
def test_a_value_outside_the_choices_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], flag: str, value: str
) -> None:
    with pytest.raises(SystemExit) as stopped:
        cli.main(["serve", flag, value])

    assert stopped.value.code == 2
    error = capsys.readouterr().err
    assert flag in error
    assert value in error


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        cli.main(["--version"])

    assert stopped.value.code == 0
    assert capsys.readouterr().out.strip() == f"k8s-mcp-gateway {__version__}"


def test_a_flag_beats_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("K8S_MCP_MODE", "readwrite")
    monkeypatch.setenv("K8S_MCP_NAMESPACES", "default")

    args = cli.parser().parse_args(["serve", "--mode", "readonly", "--no-dry-run"])
    settings = cli.load_settings(vars(args))

    assert (settings.mode, settings.dry_run, settings.namespaces) == ("readonly", False, ["default"])


async def test_the_seed_variables_flow_into_the_policy_input(
    monkeypatch: pytest.MonkeyPatch, open_gateway: GatewayFactory, opa_stub: OpaStub, tmp_path: Path
) -> None:
    for name, value in {
        "K8S_MCP_OPA_URL": opa_stub.url,
        "K8S_MCP_AUDIT_PATH": str(tmp_path / "env-audit.jsonl"),
        "K8S_MCP_MODE": "readwrite",
        "K8S_MCP_DRY_RUN": "true",
        "K8S_MCP_NAMESPACES": " staging , default ,",
        "K8S_MCP_PRINCIPAL": "carol",
        "K8S_MCP_PRINCIPAL_GROUPS": "sre,oncall",
    }.items():
        monkeypatch.setenv(name, value)

    gateway = await open_gateway(opa_url=opa_stub.url, settings=Settings())
    await gateway.ok("list_pods")

    [document] = opa_stub.decision_inputs
    assert document["gateway"] == {
        "mode": "readwrite",
        "dry_run": True,
        "cluster": CLUSTER,
        "clusters": [CLUSTER],
        "namespaces": ["staging", "default"],
    }
    assert (document["principal"]["sub"], document["principal"]["groups"]) == ("carol", ["sre", "oncall"])
    assert [r["request_id"] for r in gateway.tool_calls()] == [document["request"]["id"]]
    assert gateway.audit_path == tmp_path / "env-audit.jsonl"


def _serve(*flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(GATEWAY_BIN), "serve", "--opa-url", "http://127.0.0.1:9", *flags],
        capture_output=True,
        text=True,
        timeout=30,
        env={"PATH": "/usr/bin:/bin", "HOME": "/nonexistent"},
        check=False,
    )


def test_a_missing_kubeconfig_stops_the_gateway_with_a_clear_message(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-kubeconfig"

    finished = _serve("--kubeconfig", str(missing), "--audit-path", str(tmp_path / "audit.jsonl"))

    assert finished.returncode == 1
    assert f"no usable Kubernetes configuration in {missing}" in finished.stderr
    assert "--kubeconfig" in finished.stderr
    assert "Traceback" not in finished.stderr
    assert finished.stdout == ""


UNWRITABLE_AUDIT_PATHS: dict[str, tuple[str, str]] = {
    "a file where a directory is needed": ("kubeconfig/audit.jsonl", "File exists"),
    "a directory": (".", "Is a directory"),
    "a full disk": ("/dev/full", "No space left on device"),
}


@pytest.mark.parametrize(("where", "why"), UNWRITABLE_AUDIT_PATHS.values(), ids=UNWRITABLE_AUDIT_PATHS.keys())
def test_an_unwritable_audit_path_stops_the_gateway_with_a_clear_message(tmp_path: Path, where: str, why: str) -> None:
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", server="https://127.0.0.1:1")
    audit_path = tmp_path / where  # an absolute `where` stands alone

    finished = _serve("--kubeconfig", str(kubeconfig), "--audit-path", str(audit_path))

    assert finished.returncode == 1
    assert f"cannot open the audit file {audit_path}" in finished.stderr
    assert why in finished.stderr
    assert "Traceback" not in finished.stderr
    assert finished.stdout == ""


def test_an_unusable_approval_store_stops_the_gateway_with_a_clear_message(tmp_path: Path) -> None:
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", server="https://127.0.0.1:1")
    store = tmp_path / "kubeconfig" / "approvals.db"  # a file where a directory is needed

    finished = _serve(
        "--kubeconfig", str(kubeconfig), "--audit-path", str(tmp_path / "audit.jsonl"), "--approvals-path", str(store)
    )

    assert finished.returncode == 1
    assert f"cannot open the approval store {store}" in finished.stderr
    assert "Traceback" not in finished.stderr
    assert finished.stdout == ""


def test_no_auth_on_a_public_address_is_refused_at_start(tmp_path: Path) -> None:
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", server="https://127.0.0.1:1")

    finished = _serve("--transport", "http", "--host", "0.0.0.0", "--kubeconfig", str(kubeconfig))

    assert finished.returncode == 1
    assert "invalid setting --auth / K8S_MCP_AUTH" in finished.stderr
    assert "set K8S_MCP_AUTH to 'tokens' or 'jwt'" in finished.stderr
    assert "Traceback" not in finished.stderr


def test_an_unusable_token_file_stops_the_gateway_without_quoting_the_token(tmp_path: Path) -> None:
    token_file = tmp_path / "tokens.json"
    token_file.write_text('{"s3cret-short": {"sub": "alice"}}')
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", server="https://127.0.0.1:1")

    finished = _serve("--auth", "tokens", "--auth-token-file", str(token_file), "--kubeconfig", str(kubeconfig))

    assert finished.returncode == 1
    assert f"invalid auth configuration: K8S_MCP_AUTH_TOKEN_FILE {token_file}, entry 1: the token" in finished.stderr
    assert "s3cret" not in finished.stderr
    assert "Traceback" not in finished.stderr


@pytest.mark.parametrize(
    ("content", "said"),
    [
        (None, "cannot be read: No such file or directory"),
        ("alice-token", "is not JSON"),
        ("[]", "must be a non-empty JSON object"),
        ('{"s3cret-short": {"sub": "alice"}}', "entry 1: the token must be at least 16 characters"),
        ('{"s3cret-long-enough-0123": {"sub": "a"}, " s3cret-padded-0123 ": {"sub": "b"}}', "entry 2: the token"),
        ('{"s3cret-long-enough-0123": {"sub": ""}}', "entry 1: sub must be a non-empty string"),
        ('{"s3cret-long-enough-0123": {"sub": "a", "groups": "sre"}}', "entry 1 (sub 'a'): groups must be a list"),
        ('{"s3cret-long-enough-0123": {"sub": "a", "admin": true}}', 'entry 1: the value must be {"sub"'),
    ],
)
def test_a_token_file_problem_names_the_entry_never_the_token(tmp_path: Path, content: str | None, said: str) -> None:
    token_file = tmp_path / "tokens.json"
    if content is not None:
        token_file.write_text(content)
    settings = Settings(auth="tokens", auth_token_file=token_file, audit_path=tmp_path / "audit.jsonl")

    with pytest.raises(AuthConfigError) as refused:
        Gateway.open(settings, kube=CountingKube())

    assert str(refused.value).startswith(f"K8S_MCP_AUTH_TOKEN_FILE {token_file}")
    assert said in str(refused.value)
    assert "s3cret" not in str(refused.value)


@pytest.mark.parametrize(
    ("private", "said"), [(True, "holds a private key"), (False, "is not a PEM public key for RS256")]
)
def test_an_unusable_public_key_file_stops_the_gateway(tmp_path: Path, private: bool, said: str) -> None:
    key_file = tmp_path / "issuer.pem"
    key = jwk.RSAKey.generate_key(2048)
    key_file.write_bytes(key.as_pem(private=True) if private else b"-----BEGIN PUBLIC KEY-----\nnope\n")
    settings = Settings(
        auth="jwt",
        auth_public_key_file=key_file,
        auth_issuer="https://idp.example",
        auth_audience="mcp",
        audit_path=tmp_path / "audit.jsonl",
    )

    with pytest.raises(AuthConfigError) as refused:
        Gateway.open(settings, kube=CountingKube())

    assert str(refused.value).startswith(f"K8S_MCP_AUTH_PUBLIC_KEY_FILE {key_file}")
    assert said in str(refused.value)
    assert "PRIVATE KEY" not in str(refused.value)
