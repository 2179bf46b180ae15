"""The official MCP conformance suite against a real `k8s-mcp-gateway serve --transport http`.

`../shared/conformance.sh` (beside the clone; for a git worktree, beside the clone it belongs
to) runs the suite's server scenarios that apply to a tool gateway, `dns-rebinding-protection`
among them, and prints how many checks passed.

The gateway runs unauthenticated (`K8S_MCP_AUTH=none`, on 127.0.0.1) behind a copy of the
shipped policy whose data sets `allow_unauthenticated_http`: the suite's client connects with
the TypeScript SDK's defaults and has no way to send an Authorization header, and its
DNS-rebinding scenario is defined for loopback servers without authentication. Everything else
(Host/Origin checks, session handling) is the gateway as shipped.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from gateway.binaries import REPO_ROOT
from tests.conftest import PolicyServers
from tests.fakes.kube import write_kubeconfig
from tests.gateways import serve_http, served_env

pytestmark = pytest.mark.integration

SCENARIOS = (
    "server-initialize",
    "ping",
    "tools-list",
    "logging-set-level",
    "server-sse-multiple-streams",
    "dns-rebinding-protection",
)


def conformance_script() -> Path:
    """`../shared/conformance.sh` beside this clone, or beside the clone this worktree belongs to."""
    clones = [REPO_ROOT]
    common = subprocess.run(
        ["git", "-C", str(REPO_ROOT), "rev-parse", "--path-format=absolute", "--git-common-dir"],
        capture_output=True,
        text=True,
        check=False,
    )
    if common.returncode == 0:
        clones.append(Path(common.stdout.strip()).parent)
    candidates = [clone.parent / "shared" / "conformance.sh" for clone in clones]
    found = [path for path in candidates if path.is_file()]
    assert found, f"the conformance script is missing: none of {[str(path) for path in candidates]}"
    return found[0]


def test_every_conformance_check_passes(tmp_path: Path, policy_opa: PolicyServers) -> None:
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", server="https://127.0.0.1:1")
    env = served_env(tmp_path, opa=policy_opa({"allow_unauthenticated_http": True}), kubeconfig=kubeconfig)

    with serve_http(env, tmp_path, anonymous=True) as served:
        assert isinstance(served.target, str)
        finished = subprocess.run(
            ["bash", str(conformance_script()), served.target],
            capture_output=True,
            text=True,
            timeout=600,
            env=os.environ,
            check=False,
        )

    output = finished.stdout
    assert finished.returncode == 0, finished.stderr
    for scenario in SCENARIOS:
        line = next((line for line in output.splitlines() if line.startswith(f"{scenario}: ")), "")
        passed = re.fullmatch(rf"{scenario}: Passed: (\d+)/(\d+).*", line)
        assert passed, f"{scenario} gave no result:\n{output}"
        assert passed[1] == passed[2], f"{scenario}: {line}\n{output}"
    total = re.search(r"^conformance: (\d+)/(\d+) checks passed$", output, re.MULTILINE)
    assert total, output
    assert total[1] == total[2], output
    assert int(total[2]) >= len(SCENARIOS)
