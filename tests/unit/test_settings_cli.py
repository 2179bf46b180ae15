"""Settings from flags and K8S_MCP_* variables: bad values stop the gateway, naming what is wrong."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gateway import __version__, cli
from gateway.settings import Settings
from tests.conftest import GatewayFactory
from tests.support import CLUSTER, OpaStub, write_kubeconfig

GATEWAY_BIN = Path(sys.executable).with_name("k8s-mcp-gateway")


@pytest.mark.parametrize(
    ("flags", "env", "names"),
    [
        ([], {"K8S_MCP_PORT": "abc"}, ["--port / K8S_MCP_PORT", "integer"]),
        (["--port", "70000"], {}, ["--port / K8S_MCP_PORT", "65535"]),
        ([], {"K8S_MCP_MODE": "banana"}, ["--mode / K8S_MCP_MODE", "'readonly' or 'readwrite'"]),
        ([], {"K8S_MCP_NAMESPACES": "Prod"}, ["--namespaces / K8S_MCP_NAMESPACES", "'Prod' is not a DNS-1123 label"]),
        (["--namespaces", "staging,../prod"], {}, ["--namespaces / K8S_MCP_NAMESPACES", "'../prod'"]),
        (["--opa-timeout", "0"], {}, ["--opa-timeout / K8S_MCP_OPA_TIMEOUT", "greater than 0"]),
        ([], {"K8S_MCP_OPA_TIMEOUT": "-1"}, ["--opa-timeout / K8S_MCP_OPA_TIMEOUT", "greater than 0"]),
        (["--opa-url", "not a url"], {}, ["--opa-url / K8S_MCP_OPA_URL", "URL"]),
        (["--opa-decision-path", "../admin"], {}, ["--opa-decision-path / K8S_MCP_OPA_DECISION_PATH"]),
        ([], {"K8S_MCP_DRY_RUN": "perhaps"}, ["--dry-run / K8S_MCP_DRY_RUN", "boolean"]),
        (["--kube-workers", "0"], {}, ["--kube-workers / K8S_MCP_KUBE_WORKERS"]),
        (["--http-path", "mcp"], {}, ["--http-path / K8S_MCP_HTTP_PATH"]),
        ([], {"K8S_MCP_OPA_TOKEN": ""}, ["--opa-token / K8S_MCP_OPA_TOKEN", "one word of visible ASCII"]),
        (["--opa-token", "two words"], {}, ["--opa-token / K8S_MCP_OPA_TOKEN", "one word of visible ASCII"]),
        (
            ["--opa-token", "t0ken"],
            {"K8S_MCP_OPA_TOKEN_FILE": "/run/opa-token/token"},
            ["--opa-token / K8S_MCP_OPA_TOKEN", "K8S_MCP_OPA_TOKEN_FILE is set too"],
        ),
        (["--max-log-lines", "0"], {}, ["--max-log-lines / K8S_MCP_MAX_LOG_LINES", "greater than or equal to 1"]),
        ([], {"K8S_MCP_MAX_LOG_LINES": "10001"}, ["--max-log-lines / K8S_MCP_MAX_LOG_LINES", "10000"]),
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
    for name in names:
        assert name in message


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
