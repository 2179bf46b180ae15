"""policies/examples/ never changes the decision the gateway asks for.

Whatever loads the whole policies/ directory (the sandbox OPA, `opa run policies/`) also loads
the examples; the sidecar's ConfigMap and the signed bundle carry only the shipped files. Every
example lives under data.mcp.examples and nothing in data.mcp.authz reads it, so
data.mcp.authz.decision must be the same either way. These tests ask both OPAs over the REST API.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from gateway.sandbox.binaries import REPO_ROOT
from gateway.sandbox.opa import OpaServer
from gateway.settings import Settings

pytestmark = pytest.mark.integration

DEPLOY = REPO_ROOT / "deploy"


def deployed_policy_files() -> tuple[Path, ...]:
    """The files of the sidecar's policy ConfigMap (deploy/kustomization.yaml), i.e. what ships."""
    kustomization = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())
    [generator] = [g for g in kustomization["configMapGenerator"] if g["name"] == "opa-policy"]
    return tuple((DEPLOY / name).resolve() for name in generator["files"])


@pytest.fixture(scope="module")
def shipped_opa(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpaServer]:
    """OPA with only the deployed policy files: no tests, no examples."""
    with OpaServer(paths=deployed_policy_files(), log_dir=tmp_path_factory.mktemp("shipped-opa")) as server:
        yield server


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
    "unauthenticated read": {**READ_STAGING, "principal": {"sub": "bob", "groups": [], "authenticated": False}},
    "write in kube-system": call("restart_deployment", {**WRITE, "namespace": "kube-system"}),
    "scale to 11 by a developer": call(
        "scale_deployment",
        {**WRITE, "subresource": "scale", "namespace": "staging"},
        arguments={"deployment_name": "web", "namespace": "staging", "replicas": 11},
        principal={"sub": "dave", "groups": ["dev"], "authenticated": True},
    ),
    "read in staging": READ_STAGING,
}


def decide(opa: OpaServer, path: str, document: dict[str, Any]) -> Any:
    response = httpx.post(f"{opa.url}/v1/data/{path}", json={"input": document}, timeout=5)
    response.raise_for_status()
    return response.json()["result"]


@pytest.mark.parametrize("sample", SAMPLES)
def test_examples_leave_the_decision_unchanged(opa: OpaServer, shipped_opa: OpaServer, sample: str) -> None:
    path = Settings().opa_decision_path

    assert decide(opa, path, SAMPLES[sample]) == decide(shipped_opa, path, SAMPLES[sample])


def test_examples_leave_the_visible_tools_unchanged(opa: OpaServer, shipped_opa: OpaServer) -> None:
    listing = {key: READ_STAGING[key] for key in ("version", "request", "principal", "gateway")}
    listing["catalog"] = [{"tool": {"name": "list_pods"}, "action": {**READ_STAGING["action"], "namespace": None}}]
    path = Settings().opa_visibility_path

    assert decide(opa, path, listing) == decide(shipped_opa, path, listing) == ["list_pods"]


def test_the_sandbox_has_the_examples_and_they_decide_otherwise(opa: OpaServer, shipped_opa: OpaServer) -> None:
    """Else the comparisons above would prove nothing: the sandbox did load the examples."""
    unauthenticated = SAMPLES["unauthenticated read"]
    layered = decide(opa, "mcp/examples/authenticated_only/decision", unauthenticated)

    assert decide(opa, Settings().opa_decision_path, unauthenticated)["allow"] is True
    assert layered["allow"] is False
    assert layered["reasons"] == ['caller "bob" is not authenticated: this gateway serves only verified identities']
    assert "result" not in httpx.get(f"{shipped_opa.url}/v1/data/mcp/examples", timeout=5).json()
