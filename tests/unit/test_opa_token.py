"""The token that locks OPA's API to the gateway: made by `opa-token`, read once by `serve`, never printed."""

from __future__ import annotations

import hashlib
import json
import stat
import subprocess
from pathlib import Path

import pytest

from tests.gateways import GATEWAY_BIN

SENTINEL = "SENTINEL-opa-token-value"


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(GATEWAY_BIN), *args],
        capture_output=True,
        text=True,
        timeout=30,
        env={"PATH": "/usr/bin:/bin", "HOME": "/nonexistent", **(env or {})},
        check=False,
    )


def test_opa_token_writes_the_token_and_opa_s_digest_of_it(tmp_path: Path) -> None:
    directory = tmp_path / "opa-token"

    finished = run("opa-token", str(directory))

    assert finished.returncode == 0, finished.stderr
    token = (directory / "token").read_text().strip()
    assert len(token) >= 43  # 256 random bits, URL-safe base64
    data = json.loads((directory / "opa-token.json").read_text())
    assert data == {"system": {"gateway": {"token_sha256": hashlib.sha256(token.encode()).hexdigest()}}}
    for name in ("token", "opa-token.json"):
        assert stat.S_IMODE((directory / name).stat().st_mode) == 0o440, name
    assert sorted(path.name for path in directory.iterdir()) == ["opa-token.json", "token"]
    assert token not in finished.stderr + finished.stdout


def test_opa_token_keeps_the_token_a_running_opa_has_loaded(tmp_path: Path) -> None:
    assert run("opa-token", str(tmp_path)).returncode == 0
    first = (tmp_path / "token").read_text()

    assert run("opa-token", str(tmp_path)).returncode == 0

    assert (tmp_path / "token").read_text() == first


def test_each_new_directory_gets_its_own_token(tmp_path: Path) -> None:
    for name in ("a", "b"):
        assert run("opa-token", str(tmp_path / name)).returncode == 0

    assert (tmp_path / "a" / "token").read_text() != (tmp_path / "b" / "token").read_text()


def test_opa_token_refuses_an_unusable_token_it_finds(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("two words\n")

    finished = run("opa-token", str(tmp_path))

    assert finished.returncode == 1
    assert "one word of visible ASCII" in finished.stderr
    assert "Traceback" not in finished.stderr


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (None, "cannot read"),
        ("", "is empty"),
        ("  \n", "is empty"),
        ("two words\n", "one word of visible ASCII"),
        ("t\u00f6ken\n", "cannot read"),
    ],
    ids=["missing", "empty", "blank", "two words", "not ASCII"],
)
def test_serve_refuses_to_start_on_an_unusable_token_file(tmp_path: Path, content: str | None, problem: str) -> None:
    token_file = tmp_path / "token"
    if content is not None:
        token_file.write_text(content)

    finished = run("serve", "--opa-token-file", str(token_file), "--audit-path", str(tmp_path / "audit.jsonl"))

    assert finished.returncode == 1
    assert problem in finished.stderr
    assert f"the OPA token file {token_file} (K8S_MCP_OPA_TOKEN_FILE, --opa-token-file)" in finished.stderr
    assert "Traceback" not in finished.stderr
    assert finished.stdout == ""


def test_serve_refuses_a_token_file_it_cannot_read(tmp_path: Path) -> None:
    finished = run("serve", "--opa-token-file", str(tmp_path), "--audit-path", str(tmp_path / "audit.jsonl"))

    assert finished.returncode == 1
    assert "cannot read the OPA token file" in finished.stderr
    assert "K8S_MCP_OPA_TOKEN_FILE" in finished.stderr


@pytest.mark.parametrize("value", [SENTINEL, f"bad {SENTINEL}"], ids=["valid", "invalid"])
def test_the_token_from_a_variable_is_never_printed(tmp_path: Path, value: str) -> None:
    """A serve that stops early (no kubeconfig here), at debug level, with `--help`: no token anywhere."""
    missing = tmp_path / "no-such-kubeconfig"
    env = {"K8S_MCP_OPA_TOKEN": value, "K8S_MCP_LOG_LEVEL": "DEBUG", "K8S_MCP_KUBECONFIG": str(missing)}

    stopped = run("serve", "--audit-path", str(tmp_path / "audit.jsonl"), env=env)
    helped = run("serve", "--help", env=env)

    assert stopped.returncode == 1
    assert helped.returncode == 0
    for output in (stopped.stdout, stopped.stderr, helped.stdout, helped.stderr):
        assert SENTINEL not in output


def test_serve_without_a_token_warns_that_a_locked_opa_will_deny_everything(tmp_path: Path) -> None:
    finished = run("serve", "--kubeconfig", str(tmp_path / "no-such-kubeconfig"))

    assert finished.returncode == 1
    assert "no OPA token (K8S_MCP_OPA_TOKEN_FILE or K8S_MCP_OPA_TOKEN)" in finished.stderr


def test_serve_with_a_token_does_not_warn(tmp_path: Path) -> None:
    assert run("opa-token", str(tmp_path)).returncode == 0

    finished = run(
        "serve", "--kubeconfig", str(tmp_path / "no-such-kubeconfig"), "--opa-token-file", str(tmp_path / "token")
    )

    assert finished.returncode == 1
    assert "no OPA token" not in finished.stderr
