"""A stdio gateway starts without the typed Kubernetes API and its models.

Clients spawn a stdio gateway for every session, so what its start imports is paid again and
again before the first `tools/list`. The kubernetes client's typed API classes import a few hundred
pydantic models; the gateway builds them on first use, in its Kubernetes thread pool (naming a
method on the event loop imports nothing), and reads its lists from the API's JSON.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.fakes.kube import write_kubeconfig
from tests.gateways import served_env

OPEN_AND_REPORT = """
import json, sys
from gateway.cli import load_settings
from gateway.server import Gateway

gateway = Gateway.open(load_settings({}))
# What a tool does on the event loop before Kube.call runs the method in the pool: name it.
assert gateway.contexts.default.kube.core.read_namespaced_pod.__name__ == "read_namespaced_pod"
print(json.dumps(sorted(sys.modules)))
"""

# /readyz asks the API server's version: that small API class and its one model may be loaded.
READINESS = {"kubernetes.client.api.version_api", "kubernetes.client.models.version_info"}


def _modules_after_open(tmp_path: Path) -> set[str]:
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", server="https://127.0.0.1:9")
    env = {**served_env(tmp_path, opa="http://127.0.0.1:9", kubeconfig=kubeconfig), "K8S_MCP_TRANSPORT": "stdio"}
    done = subprocess.run(
        [sys.executable, "-c", OPEN_AND_REPORT], env=env, capture_output=True, text=True, timeout=120, check=True
    )
    return set(json.loads(done.stdout.splitlines()[-1]))


def test_a_stdio_gateway_opens_and_names_api_methods_without_the_typed_api_or_its_models(tmp_path: Path) -> None:
    modules = _modules_after_open(tmp_path)

    typed = {m for m in modules if m.startswith(("kubernetes.client.api.", "kubernetes.client.models."))}
    assert "gateway.server" in modules  # the gateway did open in that process
    assert typed <= READINESS, sorted(typed - READINESS)
