"""policies/examples/ never changes the decision the gateway asks for.

Whatever loads the whole policies/ directory (the sandbox OPA, `opa run policies/`) also loads
the examples; the sidecar's ConfigMap and the signed bundle carry only the shipped files. Every
example lives under data.mcp.examples and nothing in data.mcp.authz reads it, so
data.mcp.authz.decision must be the same either way. The sidecar's REST API answers only the
gateway's two queries, so these tests ask the real `opa eval` over both sets of files.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway.binaries import REPO_ROOT, find_binary
from gateway.settings import Settings
from k8s_mcp_sandbox.project import POLICY_DIR

pytestmark = pytest.mark.integration

DEPLOY = REPO_ROOT / "deploy"


def deployed_policy_files() -> tuple[Path, ...]:
    """The files of the sidecar's policy ConfigMap (deploy/kustomization.yaml), i.e. what ships."""
    kustomization = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())
    [generator] = [g for g in kustomization["configMapGenerator"] if g["name"] == "opa-policy"]
    return tuple((DEPLOY / name).resolve() for name in generator["files"])


WHOLE_DIRECTORY = (POLICY_DIR,)
"""What the sandbox OPA and `opa run policies/` load: the examples included."""


def call(tool: str, action: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """An input document of contract version 1 (README, "The policy contract")."""
    document: dict[str, Any] = {
        "version": 1,
        "request": {"id": "0b8f4f0e-5a3c-4c1e-9d2a-1f7f5e6a7b8c", "time": "2026-11-28T10:00:00Z", "transport": "http"},
        "principal": {"sub": "alice", "groups": ["sre"], "authenticated": True, "client": {"name": "t"}},
        "tool": {"name": tool, "read_only": not action["write"], "destructive": action["write"], "idempotent": True},
        "arguments": {"namespace": action["namespace"]},
        "action": {"group": "", "subresource": "", "name": None, "cluster_scoped": False, **action},
        "gateway": {"mode": "readwrite", "dry_run": False, "cluster": "kind-dev", "namespaces": None},
        "action_digest": "sha256:" + "0" * 64,
        "approval": None,
    }
    return {**document, **changes}


READ_STAGING = call("list_pods", {"verb": "list", "resource": "pods", "namespace": "staging", "write": False})
WRITE = {"verb": "patch", "group": "apps", "resource": "deployments", "name": "web", "write": True}

# Inputs that one example or another would decide differently from the shipped policy.
SAMPLES = {
    # on stdio, where the shipped policy admits a configured (unverified) caller
    "unauthenticated read": {
        **READ_STAGING,
        "request": {**READ_STAGING["request"], "transport": "stdio"},
        "principal": {"sub": "bob", "groups": [], "authenticated": False},
    },
    "write in kube-system": call("restart_deployment", {**WRITE, "namespace": "kube-system"}),
    "scale to 11 by a developer": call(
        "scale_deployment",
        {**WRITE, "subresource": "scale", "namespace": "staging"},
        arguments={"deployment_name": "web", "namespace": "staging", "replicas": 11},
        principal={"sub": "dave", "groups": ["dev"], "authenticated": True},
    ),
    "read in staging": READ_STAGING,
}


def decide(paths: tuple[Path, ...], path: str, document: dict[str, Any]) -> Any:
    """The value of data.<path> for `document`, or None when it is undefined."""
    command = [find_binary("opa"), "eval", "--format=json", "--stdin-input", "data." + path.replace("/", ".")]
    for data in paths:
        command[2:2] = ["--data", str(data)]
    done = subprocess.run(command, input=json.dumps(document), capture_output=True, text=True, check=True)
    results = json.loads(done.stdout).get("result")
    return results[0]["expressions"][0]["value"] if results else None


@pytest.mark.parametrize("sample", SAMPLES)
def test_examples_leave_the_decision_unchanged(sample: str) -> None:
    path = Settings().opa_decision_path

    assert decide(WHOLE_DIRECTORY, path, SAMPLES[sample]) == decide(deployed_policy_files(), path, SAMPLES[sample])


def test_examples_leave_the_visible_tools_unchanged() -> None:
    listing = {key: READ_STAGING[key] for key in ("version", "request", "principal", "gateway")}
    listing["catalog"] = [{"tool": {"name": "list_pods"}, "action": {**READ_STAGING["action"], "namespace": None}}]
    path = Settings().opa_visibility_path

    assert decide(WHOLE_DIRECTORY, path, listing) == decide(deployed_policy_files(), path, listing) == ["list_pods"]


def test_the_whole_directory_has_the_examples_and_they_decide_otherwise() -> None:
    """Else the comparisons above would prove nothing: the whole directory does load the examples."""
    unauthenticated = SAMPLES["unauthenticated read"]
    layered = decide(WHOLE_DIRECTORY, "mcp/examples/authenticated_only/decision", unauthenticated)

    assert decide(WHOLE_DIRECTORY, Settings().opa_decision_path, unauthenticated)["allow"] is True
    assert layered["allow"] is False
    assert layered["reasons"] == ['caller "bob" is not authenticated: this gateway serves only verified identities']
    assert decide(deployed_policy_files(), "mcp/examples", unauthenticated) is None
