"""The packaging: Dockerfile, docker-compose.yml and deploy/, loaded by the tools' own libraries.

`packaging-check` (containers/check, built into .tools/bin by `make setup`) loads each file with
compose-go, BuildKit's Dockerfile parser and linter, and kustomize, failing on any error or
warning. These tests read what it prints and hold it against the rest of the project: the
settings the gateway really has, the console script, the Makefile's OPA pin, the policy files.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path, PurePosixPath
from typing import Any

import httpx
import pytest
import yaml
from pydantic import ValidationError

from gateway import __version__
from gateway.binaries import REPO_ROOT, find_binary
from gateway.opa_token import DATA_FILE, TOKEN_FILE, read_token_file
from gateway.readiness import CHECK_TIMEOUT
from gateway.settings import Settings
from k8s_mcp_sandbox.process import ManagedProcess, free_port
from k8s_mcp_sandbox.project import API_AUTHZ
from tests.fakes.opa import policy_input
from tests.gateways import GATEWAY_BIN

pytestmark = pytest.mark.integration

NAMESPACE = "k8s-mcp-gateway"
SETTING_VARIABLES = {f"K8S_MCP_{name.upper()}" for name in Settings.model_fields}


def packaging_check(command: str) -> str:
    """Run one `packaging-check` command on the repository; it must succeed."""
    result = subprocess.run(
        [find_binary("packaging-check"), "-C", REPO_ROOT, command],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def makefile_opa_version() -> str:
    match = re.search(r"^OPA_VERSION\s*:?=\s*v?(\S+)\s*$", (REPO_ROOT / "Makefile").read_text(), re.MULTILINE)
    assert match, "Makefile sets no OPA_VERSION"
    return match.group(1)


def image_tag(image: str) -> str:
    name, _, tag = image.rpartition(":")
    assert name, f"{image} has no tag"
    assert "/" not in tag, f"{image} has no tag"
    return tag


def settings_from(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> Settings:
    """The settings a gateway started with exactly `env` would have (invalid values raise)."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return Settings()


# --------------------------------------------------------------------------------------------
# docker-compose.yml
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    """The normalised Compose project (paths resolved, short syntax expanded)."""
    project: dict[str, Any] = json.loads(packaging_check("compose"))
    return project


def test_compose_runs_opa_k3s_and_the_gateway(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == {"opa-token", "opa", "k3s", "gateway"}


def test_compose_opa_is_the_version_the_makefile_pins(compose: dict[str, Any]) -> None:
    image = compose["services"]["opa"]["image"]

    assert image.startswith("openpolicyagent/opa:")
    assert image_tag(image) == makefile_opa_version()


def test_compose_opa_serves_the_policies_with_the_project_config(compose: dict[str, Any]) -> None:
    opa = compose["services"]["opa"]
    command = opa["command"]
    mounts = {volume["target"]: volume for volume in opa["volumes"]}

    assert command[:2] == ["run", "--server"]
    assert command[command.index("--addr") + 1] == "0.0.0.0:8181"
    policies = mounts[command[-1]]
    assert Path(policies["source"]) == REPO_ROOT / "policies"
    assert policies["read_only"] is True
    config = mounts[command[command.index("--config-file") + 1]]
    assert Path(config["source"]) == REPO_ROOT / "opa" / "config.yaml"
    assert config["read_only"] is True


def test_compose_locks_opa_api_to_a_token_made_before_opa_and_the_gateway_start(
    compose: dict[str, Any], dockerfile: dict[str, Any]
) -> None:
    services = compose["services"]
    maker, opa, gateway = services["opa-token"], services["opa"], services["gateway"]
    command = opa["command"]
    [program, subcommand, directory] = maker["entrypoint"]
    [made] = [v for v in maker["volumes"] if v["target"] == directory]
    opa_mounts = {volume["target"]: volume for volume in opa["volumes"]}

    assert {"--authentication=token", "--authorization=basic"} <= set(command)
    assert Path(opa_mounts["/api-authz/authz.rego"]["source"]) == API_AUTHZ
    assert "/api-authz/authz.rego" in command
    # The init service is the gateway's own image running `k8s-mcp-gateway opa-token DIR`.
    assert (program, subcommand) == ("k8s-mcp-gateway", "opa-token")
    assert maker["image"] == gateway["image"]
    assert made["type"] == "volume"
    assert not made.get("read_only")
    assert maker["network_mode"] == "none"
    # OPA loads the digest from that volume; the gateway reads the token from it; neither writes.
    for service, path in ((opa, f"{directory}/{DATA_FILE}"), (gateway, f"{directory}/{TOKEN_FILE}")):
        [mounted] = [v for v in service["volumes"] if v["source"] == made["source"]]
        assert mounted["read_only"] is True
        assert PurePosixPath(path).parent == PurePosixPath(mounted["target"])
        assert service["depends_on"]["opa-token"]["condition"] == "service_completed_successfully"
    assert f"{directory}/{DATA_FILE}" in command
    assert gateway["environment"]["K8S_MCP_OPA_TOKEN_FILE"] == f"{directory}/{TOKEN_FILE}"
    # The files are the gateway user's (mode 0440): OPA runs as that user, and the image owns the
    # mount point, so a fresh named volume starts out writable by the init service.
    assert opa["user"] == final_stage(dockerfile, "user")[-1]["value"]
    runs = [shlex.split(i["args"][0]) for i in final_stage(dockerfile, "run")]
    assert any(directory in argv and "gateway" in argv and "install" in argv for argv in runs)


def test_compose_opa_is_reachable_from_the_gateway_only(compose: dict[str, Any]) -> None:
    services = compose["services"]
    policy_networks = set(services["opa"]["networks"])
    members = {name for name, service in services.items() if policy_networks & set(service.get("networks") or {})}

    assert "ports" not in services["opa"]
    assert members == {"opa", "gateway"}
    for network in policy_networks:
        assert compose["networks"][network]["internal"] is True


def test_compose_opa_and_k3s_have_exec_form_healthchecks(compose: dict[str, Any]) -> None:
    for name in ("opa", "k3s"):
        test = compose["services"][name]["healthcheck"]["test"]
        # CMD, not CMD-SHELL: neither image has a shell to run a string in.
        assert test[0] == "CMD", name
        assert len(test) > 1, name


def test_compose_gateway_waits_for_a_healthy_opa_and_k3s(compose: dict[str, Any]) -> None:
    depends_on = compose["services"]["gateway"]["depends_on"]

    assert depends_on["opa"]["condition"] == "service_healthy"
    assert depends_on["k3s"]["condition"] == "service_healthy"


def test_compose_gateway_is_built_here_and_published_on_8080(compose: dict[str, Any]) -> None:
    gateway = compose["services"]["gateway"]

    assert Path(gateway["build"]["context"]) == REPO_ROOT
    assert gateway["build"]["dockerfile"] == "Dockerfile"
    assert image_tag(gateway["image"]) == __version__
    [port] = gateway["ports"]
    assert (port["target"], port["published"], port["protocol"]) == (8080, "8080", "tcp")
    assert port["host_ip"] == "127.0.0.1"


def test_compose_gateway_environment_names_real_settings(compose: dict[str, Any]) -> None:
    environment = compose["services"]["gateway"]["environment"]

    assert set(environment) <= SETTING_VARIABLES


def test_compose_gateway_environment_is_a_valid_http_configuration(
    monkeypatch: pytest.MonkeyPatch, compose: dict[str, Any]
) -> None:
    settings = settings_from(monkeypatch, compose["services"]["gateway"]["environment"])

    assert settings.transport == "http"
    assert settings.host == "0.0.0.0"
    assert settings.port == 8080
    assert str(settings.opa_url).rstrip("/") == "http://opa:8181"
    # The audit file outlives the container: it is on a named volume.
    [audit] = [v for v in compose["services"]["gateway"]["volumes"] if v["target"] == str(settings.audit_path.parent)]
    assert audit["type"] == "volume"
    assert audit["source"] in compose["volumes"]


def test_compose_gateway_callers_need_a_token_from_the_secret(
    monkeypatch: pytest.MonkeyPatch, compose: dict[str, Any]
) -> None:
    gateway = compose["services"]["gateway"]
    settings = settings_from(monkeypatch, gateway["environment"])
    [secret] = [s for s in gateway["secrets"] if s["target"] == str(settings.auth_token_file)]

    assert settings.auth == "tokens"
    assert compose["secrets"][secret["source"]]["environment"] == "MCP_GATEWAY_TOKENS"


def test_compose_gateway_reads_the_kubeconfig_k3s_writes(compose: dict[str, Any], dockerfile: dict[str, Any]) -> None:
    k3s, gateway = compose["services"]["k3s"], compose["services"]["gateway"]
    written = PurePosixPath(k3s["environment"]["K3S_KUBECONFIG_OUTPUT"])
    [shared] = [v for v in k3s["volumes"] if v["type"] == "volume" and v["target"] == str(written.parent)]
    [mounted] = [v for v in gateway["volumes"] if v["source"] == shared["source"]]
    script = shlex.split(gateway["entrypoint"][-1])

    assert gateway["entrypoint"][:2] == ["/bin/sh", "-c"]
    sed, _expression, source, redirect, target = script[:5]
    assert sed == "sed"
    assert source == str(PurePosixPath(mounted["target"]) / written.name)
    assert redirect == ">"
    assert target == gateway["environment"]["K8S_MCP_KUBECONFIG"]
    assert script[5:7] == ["&&", "exec"]
    [entrypoint] = final_stage(dockerfile, "entrypoint")
    assert script[7:] == entrypoint["args"]
    # k3s's certificate names the service, so the rewritten server URL verifies.
    assert k3s["command"][k3s["command"].index("--tls-san") + 1] == "k3s"
    assert k3s["privileged"] is True
    assert k3s["environment"]["K3S_KUBECONFIG_MODE"] == "644"
    assert re.fullmatch(r"rancher/k3s:v\d+\.\d+\.\d+-k3s\d+", k3s["image"])


def test_compose_sed_points_the_k3s_kubeconfig_at_the_k3s_service(compose: dict[str, Any], tmp_path: Path) -> None:
    expression = shlex.split(compose["services"]["gateway"]["entrypoint"][-1])[1]
    kubeconfig = tmp_path / "kubeconfig.yaml"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    server: https://127.0.0.1:6443\n  name: default\n"
    )

    rewritten = subprocess.run(["sed", expression, kubeconfig], capture_output=True, text=True, check=True).stdout

    assert yaml.safe_load(rewritten)["clusters"][0]["cluster"]["server"] == "https://k3s:6443"


# --------------------------------------------------------------------------------------------
# Dockerfile and .dockerignore
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dockerfile() -> dict[str, Any]:
    """The parsed Dockerfile: stages and their instructions (lint-clean, or this fails)."""
    report: dict[str, Any] = json.loads(packaging_check("dockerfile"))
    return report


def final_stage(dockerfile: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [i for i in dockerfile["stages"][-1]["instructions"] if i["name"] == name]


def final_env(dockerfile: dict[str, Any]) -> dict[str, str]:
    return {pair["key"]: pair["value"] for env in final_stage(dockerfile, "env") for pair in env["env"]}


def test_dockerfile_builds_on_python_slim_in_stages(dockerfile: dict[str, Any]) -> None:
    stages = dockerfile["stages"]

    assert len(stages) >= 2
    assert {stage["base"] for stage in stages} == {"python:3.11-slim"}


def test_dockerfile_entrypoint_is_the_console_script_serving(dockerfile: dict[str, Any]) -> None:
    scripts = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    [entrypoint] = final_stage(dockerfile, "entrypoint")

    assert entrypoint["shell_form"] is False
    assert entrypoint["args"] == [*scripts, "serve"]


def test_dockerfile_copies_only_files_that_exist(dockerfile: dict[str, Any]) -> None:
    stage_names: list[str] = []
    for stage in dockerfile["stages"]:
        for copy in (i for i in stage["instructions"] if i["name"] == "copy"):
            if copy.get("from"):
                assert copy["from"] in stage_names, copy["original"]
            else:
                for source in copy["sources"]:
                    assert (REPO_ROOT / source).exists(), copy["original"]
        stage_names.append(stage["name"])


def test_dockerfile_installs_the_package_with_the_pinned_constraints(dockerfile: dict[str, Any]) -> None:
    runs = [shlex.split(i["args"][0]) for i in dockerfile["stages"][0]["instructions"] if i["name"] == "run"]
    [install] = [argv for argv in runs if argv[1:3] == ["install", "-c"]]

    assert install[0].endswith("/pip")
    assert install[3:] == ["constraints.txt", "."]


def test_dockerfile_runs_as_an_unprivileged_numeric_user(dockerfile: dict[str, Any]) -> None:
    user = final_stage(dockerfile, "user")[-1]["value"]
    uid, _, gid = user.partition(":")

    assert uid.isdigit()
    assert gid.isdigit()
    assert int(uid) != 0
    assert int(gid) != 0


def test_dockerfile_defaults_to_http_on_all_interfaces(
    monkeypatch: pytest.MonkeyPatch, dockerfile: dict[str, Any]
) -> None:
    env = {key: value for key, value in final_env(dockerfile).items() if key.startswith("K8S_MCP_")}
    [expose] = final_stage(dockerfile, "expose")

    assert set(env) <= SETTING_VARIABLES
    # All interfaces need a caller check the image cannot choose: `serve` refuses to start without one.
    with pytest.raises(ValidationError, match="allowed only when the HTTP transport listens on a loopback"):
        settings_from(monkeypatch, env)
    settings = settings_from(monkeypatch, {**env, "K8S_MCP_AUTH": "tokens", "K8S_MCP_AUTH_TOKEN_FILE": "/tokens"})
    assert (settings.transport, settings.host) == ("http", "0.0.0.0")
    assert expose["ports"] == [str(settings.port)]


class _Health(BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        self.send_response(self.status if self.path == "/healthz" else 404)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def health_server() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.mark.parametrize(("status", "healthy"), [(200, True), (503, False)])
def test_dockerfile_healthcheck_asks_healthz_on_the_configured_port(
    dockerfile: dict[str, Any],
    health_server: ThreadingHTTPServer,
    monkeypatch: pytest.MonkeyPatch,
    status: int,
    healthy: bool,
) -> None:
    [healthcheck] = final_stage(dockerfile, "healthcheck")
    kind, program, *args = healthcheck["args"]
    assert (kind, program) == ("CMD", "python")
    monkeypatch.setattr(_Health, "status", status)
    port = health_server.server_address[1]

    result = subprocess.run([sys.executable, *args], env={"K8S_MCP_PORT": str(port)}, capture_output=True, check=False)

    assert (result.returncode == 0) is healthy


def test_dockerfile_healthcheck_fails_when_nothing_listens(dockerfile: dict[str, Any]) -> None:
    [healthcheck] = final_stage(dockerfile, "healthcheck")

    result = subprocess.run(
        [sys.executable, *healthcheck["args"][2:]],
        env={"K8S_MCP_PORT": str(free_port())},
        capture_output=True,
        check=False,
    )

    assert result.returncode != 0


def test_dockerignore_keeps_local_state_out_of_the_build_context() -> None:
    lines = {
        line.strip()
        for line in (REPO_ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }

    assert {".git", ".venv", ".tools", ".pytest_cache", ".mypy_cache", ".ruff_cache"} <= lines


# --------------------------------------------------------------------------------------------
# deploy/ (kustomize build)
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def manifests() -> list[dict[str, Any]]:
    """`kustomize build deploy/` (load restrictor off), one dict per object."""
    return [doc for doc in yaml.safe_load_all(packaging_check("kustomize")) if doc]


def find(manifests: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    matches = [m for m in manifests if m["kind"] == kind and m["metadata"]["name"] == name]
    assert len(matches) == 1, f"{kind}/{name}: {len(matches)} found"
    return matches[0]


def generated_configmap(manifests: list[dict[str, Any]], prefix: str) -> dict[str, Any]:
    """A configMapGenerator output: `<prefix>-<content hash>`."""
    [configmap] = [
        m
        for m in manifests
        if m["kind"] == "ConfigMap" and re.fullmatch(rf"{prefix}-[a-z0-9]{{10}}", m["metadata"]["name"])
    ]
    return configmap


@pytest.fixture(scope="module")
def pod(manifests: list[dict[str, Any]]) -> dict[str, Any]:
    deployment = find(manifests, "Deployment", "k8s-mcp-gateway")
    assert deployment["metadata"]["namespace"] == NAMESPACE
    spec: dict[str, Any] = deployment["spec"]["template"]["spec"]
    return spec


def container(pod: dict[str, Any], name: str) -> dict[str, Any]:
    [found] = [c for c in pod["containers"] if c["name"] == name]
    return found


def volume_mounted_at(pod: dict[str, Any], c: dict[str, Any], path: str) -> dict[str, Any]:
    """The pod volume behind the mount of `c` that contains `path`."""
    mounts = [m for m in c.get("volumeMounts", []) if path == m["mountPath"] or path.startswith(m["mountPath"] + "/")]
    assert mounts, f"{c['name']} mounts nothing at {path}"
    mount = max(mounts, key=lambda m: len(m["mountPath"]))
    [volume] = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    return volume


def init_container(pod: dict[str, Any]) -> dict[str, Any]:
    [found] = pod["initContainers"]
    return found


def opa_flag(opa: dict[str, Any], flag: str) -> str:
    [value] = [arg.split("=", 1)[1] for arg in opa["args"] if arg.startswith(f"{flag}=")]
    return value


def test_deploy_has_the_deployment_with_gateway_and_opa_containers(pod: dict[str, Any]) -> None:
    assert [c["name"] for c in pod["containers"]] == ["gateway", "opa"]
    assert [c["name"] for c in pod["initContainers"]] == ["opa-token"]
    assert image_tag(container(pod, "gateway")["image"]) == __version__
    assert container(pod, "opa")["image"] == f"openpolicyagent/opa:{makefile_opa_version()}"
    assert init_container(pod)["image"] == container(pod, "gateway")["image"]


def test_deploy_runs_as_the_least_privilege_service_account(
    manifests: list[dict[str, Any]], pod: dict[str, Any]
) -> None:
    account = find(manifests, "ServiceAccount", pod["serviceAccountName"])
    subject = {"kind": "ServiceAccount", "name": pod["serviceAccountName"], "namespace": NAMESPACE}
    cluster_binding = find(manifests, "ClusterRoleBinding", "k8s-mcp-gateway")

    assert account["metadata"]["namespace"] == NAMESPACE
    assert cluster_binding["subjects"] == [subject]
    find(manifests, "ClusterRole", cluster_binding["roleRef"]["name"])
    for binding in (m for m in manifests if m["kind"] == "RoleBinding"):
        assert binding["subjects"] == [subject]
        find(manifests, binding["roleRef"]["kind"], binding["roleRef"]["name"])


def test_deploy_role_bindings_stay_in_the_namespaces_the_policy_allows(manifests: list[dict[str, Any]]) -> None:
    """The build must not move them into the gateway's namespace (kustomize's `namespace:` would)."""
    allowed = json.loads((REPO_ROOT / "policies" / "data.json").read_text())["mcp"]["config"]["namespaces"]
    bindings = [m for m in manifests if m["kind"] == "RoleBinding"]

    assert sorted(b["metadata"]["namespace"] for b in bindings) == sorted(allowed)
    assert NAMESPACE not in allowed
    assert all(m["metadata"]["namespace"] == NAMESPACE for m in manifests if m["kind"] in {"ConfigMap", "Service"})


def test_deploy_gives_the_api_token_to_the_gateway_only(pod: dict[str, Any]) -> None:
    token_dir = "/var/run/secrets/kubernetes.io/serviceaccount"

    assert pod["automountServiceAccountToken"] is False
    volume = volume_mounted_at(pod, container(pod, "gateway"), token_dir)
    sources = volume["projected"]["sources"]
    assert {"path": "token", "expirationSeconds": 3600} in [s.get("serviceAccountToken") for s in sources]
    assert all(not m["mountPath"].startswith("/var/run/secrets") for m in container(pod, "opa")["volumeMounts"])


def test_deploy_opa_loads_the_generated_policy_configmap(manifests: list[dict[str, Any]], pod: dict[str, Any]) -> None:
    opa = container(pod, "opa")
    policy = generated_configmap(manifests, "opa-policy")
    config = generated_configmap(manifests, "opa-config")

    assert opa["args"][:2] == ["run", "--server"]
    assert volume_mounted_at(pod, opa, opa["args"][-1])["configMap"]["name"] == policy["metadata"]["name"]
    config_file = opa_flag(opa, "--config-file")
    assert volume_mounted_at(pod, opa, config_file)["configMap"]["name"] == config["metadata"]["name"]
    assert PurePosixPath(config_file).name in config["data"]
    # A ConfigMap volume also holds each file under a hidden `..<timestamp>` directory.
    assert "--ignore=.*" in opa["args"]


def test_deploy_opa_api_is_locked_by_the_shipped_authz_policy(
    manifests: list[dict[str, Any]], pod: dict[str, Any]
) -> None:
    opa = container(pod, "opa")
    paths = [arg for arg in opa["args"] if not arg.startswith("-")][1:]
    loaded = {volume_mounted_at(pod, opa, path).get("configMap", {}).get("name") for path in paths}
    api_authz = generated_configmap(manifests, "opa-api-authz")

    assert {"--authentication=token", "--authorization=basic"} <= set(opa["args"])
    assert api_authz["metadata"]["name"] in loaded
    assert api_authz["data"] == {API_AUTHZ.name: API_AUTHZ.read_text()}


def test_deploy_token_is_made_in_the_pod_and_only_read_by_gateway_and_opa(
    monkeypatch: pytest.MonkeyPatch, pod: dict[str, Any]
) -> None:
    maker, gateway, opa = init_container(pod), container(pod, "gateway"), container(pod, "opa")
    program, subcommand, directory = maker["command"]
    volume = volume_mounted_at(pod, maker, directory)
    settings = settings_from(monkeypatch, {env["name"]: env["value"] for env in gateway["env"]})

    assert (program, subcommand) == ("k8s-mcp-gateway", "opa-token")
    assert volume["emptyDir"]["medium"] == "Memory"
    assert settings.opa_token_file == Path(directory) / TOKEN_FILE
    assert f"{directory}/{DATA_FILE}" in opa["args"]
    for c, path in ((maker, directory), (gateway, str(settings.opa_token_file)), (opa, f"{directory}/{DATA_FILE}")):
        assert volume_mounted_at(pod, c, path) == volume, c["name"]
        [mount] = [m for m in c["volumeMounts"] if m["name"] == volume["name"]]
        assert mount.get("readOnly", False) is (c is not maker), c["name"]


def test_deploy_policy_configmap_is_exactly_the_policy_files(manifests: list[dict[str, Any]]) -> None:
    policy_dir = REPO_ROOT / "policies"
    expected = {p.name for p in policy_dir.glob("*.rego") if not p.name.endswith("_test.rego")} | {"data.json"}
    data = generated_configmap(manifests, "opa-policy")["data"]
    config = generated_configmap(manifests, "opa-config")["data"]

    assert set(data) == expected
    for name, content in data.items():
        assert content == (policy_dir / name).read_text(), name
    assert config == {"config.yaml": (REPO_ROOT / "opa" / "config.yaml").read_text()}


def test_deploy_gateway_environment_names_real_settings(pod: dict[str, Any]) -> None:
    names = {env["name"] for env in container(pod, "gateway")["env"]}

    assert names <= SETTING_VARIABLES


def test_deploy_gateway_asks_the_sidecar_on_loopback(monkeypatch: pytest.MonkeyPatch, pod: dict[str, Any]) -> None:
    gateway = container(pod, "gateway")
    settings = settings_from(monkeypatch, {env["name"]: env["value"] for env in gateway["env"]})

    assert settings.transport == "http"
    assert f"{settings.opa_url.host}:{settings.opa_url.port}" == opa_flag(container(pod, "opa"), "--addr")
    assert settings.opa_url.host == "127.0.0.1"
    assert "emptyDir" in volume_mounted_at(pod, gateway, str(settings.audit_path))
    assert [p["containerPort"] for p in gateway["ports"] if p["name"] == "http"] == [settings.port]


def test_deploy_gateway_callers_need_a_token_from_a_secret(
    monkeypatch: pytest.MonkeyPatch, pod: dict[str, Any]
) -> None:
    gateway = container(pod, "gateway")
    settings = settings_from(monkeypatch, {env["name"]: env["value"] for env in gateway["env"]})

    assert settings.auth == "tokens"
    assert settings.auth_token_file is not None
    assert volume_mounted_at(pod, gateway, str(settings.auth_token_file))["secret"]["secretName"]
    assert "k8s-mcp-gateway.k8s-mcp-gateway.svc" in settings.http_allowed_hosts


def test_deploy_probes_readiness_on_readyz_and_liveness_on_healthz(pod: dict[str, Any]) -> None:
    gateway = container(pod, "gateway")

    assert gateway["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert gateway["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    # The kubelet must wait longer than /readyz's own checks may take.
    assert gateway["readinessProbe"]["timeoutSeconds"] > CHECK_TIMEOUT
    for probe in ("readinessProbe", "livenessProbe"):
        assert container(pod, "opa")[probe]["httpGet"]["port"] == "diagnostics"


def test_deploy_containers_are_locked_down(pod: dict[str, Any], dockerfile: dict[str, Any]) -> None:
    uid, _, gid = final_stage(dockerfile, "user")[-1]["value"].partition(":")

    assert pod["securityContext"]["runAsNonRoot"] is True
    assert (pod["securityContext"]["runAsUser"], pod["securityContext"]["runAsGroup"]) == (int(uid), int(gid))
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    for c in [*pod["initContainers"], *pod["containers"]]:
        context = c["securityContext"]
        assert context["readOnlyRootFilesystem"] is True, c["name"]
        assert context["runAsNonRoot"] is True, c["name"]
        assert context["allowPrivilegeEscalation"] is False, c["name"]
        assert context["capabilities"] == {"drop": ["ALL"]}, c["name"]
        assert c["resources"]["requests"], c["name"]
        assert c["resources"]["limits"]["memory"], c["name"]


def test_deploy_service_fronts_the_gateway_pods(manifests: list[dict[str, Any]]) -> None:
    service = find(manifests, "Service", "k8s-mcp-gateway")
    template = find(manifests, "Deployment", "k8s-mcp-gateway")["spec"]["template"]

    assert service["metadata"]["namespace"] == NAMESPACE
    assert service["spec"]["type"] == "ClusterIP"
    assert service["spec"]["selector"].items() <= template["metadata"]["labels"].items()
    assert service["spec"]["ports"] == [{"name": "http", "port": 8080, "targetPort": "http"}]


def test_deploy_network_policy_admits_only_labelled_clients_to_the_gateway_port(
    manifests: list[dict[str, Any]], pod: dict[str, Any]
) -> None:
    policy = find(manifests, "NetworkPolicy", "k8s-mcp-gateway")
    template = find(manifests, "Deployment", "k8s-mcp-gateway")["spec"]["template"]
    client = {"k8s-mcp-gateway.io/client": "true"}

    assert policy["metadata"]["namespace"] == NAMESPACE
    assert policy["spec"]["podSelector"]["matchLabels"].items() <= template["metadata"]["labels"].items()
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    [rule] = policy["spec"]["ingress"]
    # One peer with both selectors (an AND): a labelled pod in a labelled namespace. Two peers
    # would admit every pod of a labelled namespace, or labelled pods of any namespace.
    assert rule["from"] == [{"namespaceSelector": {"matchLabels": client}, "podSelector": {"matchLabels": client}}]
    # The gateway's HTTP port only: neither OPA's diagnostics port nor anything else.
    assert rule["ports"] == [{"protocol": "TCP", "port": "http"}]
    assert [p["name"] for p in container(pod, "gateway")["ports"]] == ["http"]
    assert all(p["name"] != "http" for p in container(pod, "opa")["ports"])


def write_configmap_volume(directory: Path, data: dict[str, str]) -> None:
    """Lay `data` out as the kubelet does: a timestamped directory, `..data`, a symlink per key."""
    payload = directory / "..2026_01_01_00_00_00.000000000"
    payload.mkdir(parents=True)
    for key, content in data.items():
        (payload / key).write_text(content)
    (directory / "..data").symlink_to(payload.name)
    for key in data:
        (directory / key).symlink_to(f"..data/{key}")


# A read the shipped policy data allows: decided `allow` only if policies/data.json was loaded.
LIST_PODS_IN_STAGING = policy_input(
    {"verb": "list", "resource": "pods", "namespace": "staging", "write": False}, tool="list_pods"
)


@pytest.mark.integration
def test_deploy_opa_sidecar_decides_with_its_args_and_volumes(
    monkeypatch: pytest.MonkeyPatch, manifests: list[dict[str, Any]], pod: dict[str, Any], tmp_path: Path
) -> None:
    """The Pod as written, on this machine: the init container's command makes the token in the
    shared volume, the real `opa` runs the sidecar's args on its volumes, and it answers the
    gateway's token (from the gateway container's settings) and nobody else."""
    opa, gateway, maker = container(pod, "opa"), container(pod, "gateway"), init_container(pod)
    configmaps = {m["metadata"]["name"]: m["data"] for m in manifests if m["kind"] == "ConfigMap"}
    for volume in pod["volumes"]:
        if "configMap" in volume:
            write_configmap_volume(tmp_path / volume["name"], configmaps[volume["configMap"]["name"]])
    api, diagnostics = free_port(), free_port()
    opa_addr, diagnostic_addr = opa_flag(opa, "--addr"), opa_flag(opa, "--diagnostic-addr")

    def localise(c: dict[str, Any], arg: str) -> str:
        flag, eq, value = arg.rpartition("=") if arg.startswith("--") else ("", "", arg)
        value = {opa_addr: f"127.0.0.1:{api}", diagnostic_addr: f"127.0.0.1:{diagnostics}"}.get(value, value)
        for mount in c.get("volumeMounts", []):
            if value == mount["mountPath"] or value.startswith(mount["mountPath"] + "/"):
                value = str(tmp_path / mount["name"]) + value[len(mount["mountPath"]) :]
        return f"{flag}{eq}{value}"

    program, *arguments = maker["command"]
    made = [GATEWAY_BIN.with_name(program), *(localise(maker, a) for a in arguments)]
    subprocess.run(made, check=True, capture_output=True, timeout=30)
    environment = {env["name"]: localise(gateway, env["value"]) for env in gateway["env"]}
    token_file = settings_from(monkeypatch, environment).opa_token_file
    assert token_file is not None
    token = read_token_file(token_file)
    process = ManagedProcess(name="opa", log_path=tmp_path / "opa.log")
    process.start([find_binary("opa"), *(localise(opa, arg) for arg in opa["args"])])
    try:
        readiness = opa["readinessProbe"]["httpGet"]["path"]
        process.wait_http_ready(f"http://127.0.0.1:{diagnostics}{readiness}", timeout=30)
        with httpx.Client(base_url=f"http://127.0.0.1:{api}", timeout=5) as client:
            decision_url = f"/v1/data/{Settings().opa_decision_path}"
            as_gateway = {"Authorization": f"Bearer {token}"}
            empty = client.post(decision_url, json={"input": {}}, headers=as_gateway)
            staging = client.post(decision_url, json={"input": LIST_PODS_IN_STAGING}, headers=as_gateway)
            anonymous = client.post(decision_url, json={"input": LIST_PODS_IN_STAGING})
            read_data = client.get("/v1/data/mcp/config", headers=as_gateway)
    finally:
        process.stop()

    assert empty.json()["result"]["allow"] is False
    assert staging.json()["result"]["allow"] is True
    assert (anonymous.status_code, read_data.status_code) == (401, 401)
