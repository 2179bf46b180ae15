"""deploy/bundle/: the opt-in kustomize component that feeds the OPA sidecar a signed bundle.

An overlay like the one deploy/bundle/kustomization.yaml tells people to write (deploy/ plus the
component) is built by `packaging-check` (kustomize) and held against the plain deploy/ build and
opa/remote.yaml: only the sidecar changes, it loads no policy files, and it is given exactly
the key and service URLs its config asks for.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway.binaries import REPO_ROOT, find_binary
from tests.integration.test_packaging import (
    container,
    generated_configmap,
    opa_flag,
    packaging_check,
    volume_mounted_at,
)

pytestmark = pytest.mark.integration

REMOTE_CONFIG = REPO_ROOT / "opa" / "remote.yaml"


def build(directory: Path) -> list[dict[str, Any]]:
    result = subprocess.run(
        [find_binary("packaging-check"), "-C", directory.parent, "kustomize", directory.name],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@pytest.fixture(scope="module")
def overlay(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """An overlay outside the repository: deploy/ with the deploy/bundle component."""
    directory = tmp_path_factory.mktemp("overlay") / "with-bundle"
    directory.mkdir()
    repo = os.path.relpath(REPO_ROOT, directory)
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": [f"{repo}/deploy"],
        "components": [f"{repo}/deploy/bundle"],
    }
    (directory / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
    return build(directory)


@pytest.fixture(scope="module")
def base() -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(packaging_check("kustomize")) if doc]


def pod_of(manifests: list[dict[str, Any]]) -> dict[str, Any]:
    [deployment] = [m for m in manifests if m["kind"] == "Deployment"]
    spec: dict[str, Any] = deployment["spec"]["template"]["spec"]
    return spec


def remote_config() -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load(REMOTE_CONFIG.read_text())
    return config


def test_only_the_sidecar_and_its_configmaps_change(base: list[dict[str, Any]], overlay: list[dict[str, Any]]) -> None:
    def others(manifests: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [m for m in manifests if m["kind"] not in ("Deployment", "ConfigMap")]

    assert others(overlay) == others(base)
    assert container(pod_of(overlay), "gateway") == container(pod_of(base), "gateway")
    assert [c["name"] for c in pod_of(overlay)["containers"]] == ["opa", "gateway"]
    [deployment] = [m for m in overlay if m["kind"] == "Deployment"]
    assert deployment["spec"]["template"]["metadata"]["annotations"] == {
        "kubectl.kubernetes.io/default-container": "gateway"
    }


def test_the_sidecar_loads_no_policy_files(base: list[dict[str, Any]], overlay: list[dict[str, Any]]) -> None:
    """Only the API lock stays file-loaded: the base's paths without its policy directory."""
    base_paths = [arg for arg in container(pod_of(base), "opa")["args"][1:] if not arg.startswith("--")]
    opa = container(pod_of(overlay), "opa")

    assert "/policies" in base_paths
    assert [arg for arg in opa["args"][1:] if not arg.startswith("--")] == [p for p in base_paths if p != "/policies"]
    assert not [m for m in overlay if m["kind"] == "ConfigMap" and m["metadata"]["name"].startswith("opa-policy")]
    assert "opa-policy" not in {v["name"] for v in pod_of(overlay)["volumes"]}


def test_the_sidecar_runs_opa_remote_yaml(overlay: list[dict[str, Any]]) -> None:
    opa = container(pod_of(overlay), "opa")
    config = generated_configmap(overlay, "opa-config")
    config_file = opa_flag(opa, "--config-file")

    assert volume_mounted_at(pod_of(overlay), opa, config_file)["configMap"]["name"] == config["metadata"]["name"]
    assert config["data"] == {Path(config_file).name: REMOTE_CONFIG.read_text()}


def test_the_sidecar_args_are_the_base_args_with_the_key_for_the_policy_directory(
    base: list[dict[str, Any]], overlay: list[dict[str, Any]]
) -> None:
    """The base's last arg is its policy directory; the bundle's verification key takes its place."""
    base_args = container(pod_of(base), "opa")["args"]
    keyid = remote_config()["bundles"]["mcp"]["signing"]["keyid"]
    opa = container(pod_of(overlay), "opa")
    key_file = opa_flag(opa, "--set-file").removeprefix(f"keys.{keyid}.key=")

    assert opa["args"] == [
        *base_args[:-1],
        f"--set-file=keys.{keyid}.key={key_file}",
    ]
    assert volume_mounted_at(pod_of(overlay), opa, key_file)["configMap"] == {"name": "opa-bundle-verification-key"}


def test_the_sidecar_gets_every_service_url_remote_yaml_reads(overlay: list[dict[str, Any]]) -> None:
    opa = container(pod_of(overlay), "opa")
    [source] = opa["envFrom"]
    services = generated_configmap(overlay, "opa-services")

    assert source == {"configMapRef": {"name": services["metadata"]["name"]}}
    assert set(services["data"]) == set(re.findall(r"\$\{(\w+)\}", REMOTE_CONFIG.read_text()))
    assert all(url.startswith("https://") for url in services["data"].values())
