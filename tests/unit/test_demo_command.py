"""`k8s-mcp-gateway demo` where it cannot run: it says what is missing and what to do, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys

DEMO_WITHOUT = """
import sys
from pathlib import Path
from gateway import binaries
from gateway.cli import main
for module in sys.argv[1:]:
    sys.modules[module] = None  # as if the package were not installed
binaries.TOOLS_BIN = Path("/nonexistent")  # no checkout build to fall back to
main(["demo", "--once"])
"""


def run_demo_without(*modules: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": "/nonexistent"}
    return subprocess.run(
        [sys.executable, "-c", DEMO_WITHOUT, *modules], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_without_the_demo_extra_it_names_what_to_install() -> None:
    done = run_demo_without("yaml")

    assert done.returncode == 1
    assert done.stderr.strip() == (
        "the demo needs the package's demo extra (yaml is not installed): "
        "pip install 'k8s-mcp-gateway[demo]', or run `make demo` in a checkout"
    )


def test_without_the_sandbox_package_it_names_what_to_install() -> None:
    done = run_demo_without("k8s_mcp_sandbox")

    assert done.returncode == 1
    assert "(k8s_mcp_sandbox is not installed): pip install 'k8s-mcp-gateway[demo]'" in done.stderr
    assert "Traceback" not in done.stderr


def test_without_the_binaries_it_says_which_is_missing_and_where_it_looked() -> None:
    done = run_demo_without()

    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith("the demo could not start its stack: etcd not found on PATH")
    assert done.stdout == ""
