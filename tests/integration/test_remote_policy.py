"""The sidecar in managed mode (opa/remote.yaml): a signed bundle in, decision logs out.

A real `opa run --server` reads the committed opa/remote.yaml (a copy with the verification key
and one-second delays put in; the service URLs come from its environment, as in deploy/bundle/),
and a loopback HTTP server plays the bundle service and the log service. The bundle is what
`make bundle` builds: opa/bundle.sh, run here into a temporary directory. OPA also loads a
`system.authz` file, as a sidecar that locks its REST API does, beside the bundle's root `mcp`.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import io
import json
import os
import subprocess
import tarfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from gateway.binaries import REPO_ROOT, find_binary
from k8s_mcp_sandbox.opa import OpaServer
from k8s_mcp_sandbox.process import ManagedProcess, free_port
from k8s_mcp_sandbox.project import POLICY_DIR
from tests.catalog import arguments_for
from tests.conftest import GatewayFactory

pytestmark = pytest.mark.integration

REMOTE_CONFIG = REPO_ROOT / "opa" / "remote.yaml"
BUNDLE_RESOURCE = "/" + yaml.safe_load(REMOTE_CONFIG.read_text())["bundles"]["mcp"]["resource"]
WAIT_SECONDS = 20
POLICY_READONLY = 'writes are disabled: the policy mode is "readonly"'


# --------------------------------------------------------------------------------------------
# The bundle, as `make bundle` builds it
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Built:
    tarball: bytes
    signing_key: Path
    verification_key: Path


def build_bundle(out: Path, *, revision: str, signing_key: Path | None = None) -> Built:
    """Run opa/bundle.sh into `out`; without `signing_key` it makes a development key pair there."""
    env = {**os.environ, "OPA": str(find_binary("opa")), "BUNDLE_REVISION": revision}
    if signing_key is not None:
        env["BUNDLE_SIGNING_KEY"] = str(signing_key)
    subprocess.run([REPO_ROOT / "opa" / "bundle.sh", out], env=env, check=True, capture_output=True, timeout=60)
    return Built(
        tarball=(out / "bundle-service" / BUNDLE_RESOURCE.lstrip("/")).read_bytes(),
        signing_key=signing_key or out / "signing" / "dev-signing-key.pem",
        verification_key=out / "signing" / "dev-verification-key.pem",
    )


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    return build_bundle(tmp_path_factory.mktemp("bundle"), revision="rev-1")


def members(tarball: bytes) -> dict[str, bytes]:
    """The files of a bundle, by name as stored ("/authz.rego")."""
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
        return {m.name: archive.extractfile(m).read() for m in archive.getmembers() if m.isfile()}  # type: ignore[union-attr]


def repack(tarball: bytes, change: Callable[[dict[str, bytes]], None]) -> bytes:
    """The bundle with `change` applied to its files, packed again without signing it again."""
    files = members(tarball)
    change(files)
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as archive:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
    return out.getvalue()


# --------------------------------------------------------------------------------------------
# The bundle service and log service
# --------------------------------------------------------------------------------------------


@dataclass
class PolicyService:
    """Serves one bundle (replaceable) with an ETag; keeps the decision logs and status reports OPA posts.

    OPA pushes a status report whenever a bundle is activated or rejected, so a test waits on
    those reports (`wait_for`) instead of polling OPA.
    """

    tarball: bytes
    decision_logs: list[dict[str, Any]] = field(default_factory=list)
    log_encodings: set[str] = field(default_factory=set)
    statuses: list[dict[str, Any]] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _changed: threading.Condition = field(default_factory=threading.Condition)

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_port}"

    def logged(self) -> dict[str, dict[str, Any]]:
        """The decision log events received so far, by decision_id."""
        with self._changed:
            return {event["decision_id"]: event for event in self.decision_logs}

    def bundle_status(self) -> dict[str, Any]:
        """The `mcp` bundle in the latest status report that names it."""
        with self._changed:
            reports = [s["bundles"]["mcp"] for s in self.statuses if "mcp" in s.get("bundles", {})]
        return reports[-1] if reports else {}

    def wait_for(self, condition: Callable[[PolicyService], bool], what: str) -> None:
        """Block until `condition(self)` holds after something OPA posted (run it in a thread)."""
        with self._changed:
            if not self._changed.wait_for(lambda: condition(self), timeout=WAIT_SECONDS):
                pytest.fail(f"not within {WAIT_SECONDS}s: {what}")

    def _received(self, path: str, encoding: str, body: bytes) -> None:
        document = json.loads(gzip.decompress(body) if encoding == "gzip" else body)
        with self._changed:
            if path == "/logs":
                self.log_encodings.add(encoding)
                self.decision_logs.extend(document)
            elif path == "/status":
                self.statuses.append(document)
            self._changed.notify_all()

    def start(self) -> PolicyService:
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                tarball = service.tarball
                etag = '"' + hashlib.sha256(tarball).hexdigest() + '"'
                if self.path != BUNDLE_RESOURCE:
                    self._send(404)
                elif self.headers.get("If-None-Match") == etag:
                    self._send(304, etag=etag)
                else:
                    self._send(200, tarball, etag=etag)

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                service._received(self.path, self.headers.get("Content-Encoding", "identity"), body)
                self._send(200)

            def _send(self, status: int, body: bytes = b"", *, etag: str | None = None) -> None:
                self.send_response(status)
                if etag:
                    self.send_header("ETag", etag)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


@pytest.fixture
def service(built: Built) -> Iterator[PolicyService]:
    started = PolicyService(tarball=built.tarball).start()
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture
def remote_config(service: PolicyService, built: Built, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """opa/remote.yaml with the verification key and one-second delays; its URLs point at `service`."""
    config = yaml.safe_load(REMOTE_CONFIG.read_text())
    keyid = config["bundles"]["mcp"]["signing"]["keyid"]
    config["keys"][keyid]["key"] = built.verification_key.read_text()
    config["bundles"]["mcp"]["polling"] = {"min_delay_seconds": 1, "max_delay_seconds": 1}
    config["decision_logs"]["reporting"] = {"min_delay_seconds": 1, "max_delay_seconds": 1}
    config_file = tmp_path / "remote.yaml"
    config_file.write_text(yaml.safe_dump(config))
    monkeypatch.setenv("OPA_BUNDLE_SERVICE_URL", service.url)
    monkeypatch.setenv("OPA_LOG_SERVICE_URL", service.url)
    return config_file


@pytest.fixture
def remote_opa(remote_config: Path, tmp_path: Path) -> Iterator[OpaServer]:
    """OPA on `remote_config`, its API locked by the file-loaded system.authz, once the bundle is active."""
    with OpaServer(paths=(), config_file=remote_config, log_dir=tmp_path) as server:
        yield server


async def wait_for(service: PolicyService, condition: Callable[[PolicyService], bool], what: str) -> None:
    await asyncio.to_thread(service.wait_for, condition, what)


def rejected(service: PolicyService) -> bool:
    return "code" in service.bundle_status()


# --------------------------------------------------------------------------------------------
# The bundle
# --------------------------------------------------------------------------------------------


def test_bundle_holds_the_shipped_policy_only_under_root_mcp(built: Built) -> None:
    files = members(built.tarball)
    manifest = json.loads(files.pop("/.manifest"))
    data = json.loads(files.pop("/data.json"))
    shipped = [p for p in POLICY_DIR.glob("*.rego") if not p.name.endswith("_test.rego")]

    assert (manifest["revision"], manifest["roots"]) == ("rev-1", ["mcp"])
    assert files.pop("/.signatures.json")
    assert files == {f"/{path.name}": path.read_bytes() for path in shipped}
    assert data == json.loads((POLICY_DIR / "data.json").read_text())


def test_make_bundle_keeps_the_signing_key_out_of_the_served_directory(built: Built) -> None:
    out = built.signing_key.parent.parent
    served = [p.relative_to(out / "bundle-service") for p in (out / "bundle-service").rglob("*") if p.is_file()]

    assert served == [Path(BUNDLE_RESOURCE.lstrip("/"))]
    assert built.signing_key.is_relative_to(out / "signing")
    assert built.signing_key.stat().st_mode & 0o777 == 0o600


# --------------------------------------------------------------------------------------------
# Activation, and what a tampered bundle cannot do
# --------------------------------------------------------------------------------------------


async def test_opa_activates_the_signed_bundle_and_decides_with_it(
    remote_opa: OpaServer, service: PolicyService, open_gateway: GatewayFactory
) -> None:
    gateway = await open_gateway(**remote_opa.settings())

    await gateway.ok("list_pods", {"namespace": "staging"})
    message = await gateway.error("list_pods", {"namespace": "prod"})

    assert [method for method, _ in gateway.kube.calls] == ["list_namespaced_pod"]
    assert 'namespace "prod" is not in the allowlist' in message
    async with httpx.AsyncClient(timeout=5) as client:
        assert (await client.get(f"{remote_opa.url}/health?bundles")).status_code == 200
    status = service.bundle_status()
    assert status["active_revision"] == "rev-1"
    assert "code" not in status


def test_file_loaded_system_authz_sits_beside_the_bundle(remote_opa: OpaServer) -> None:
    """The bundle owns only data.mcp: the API lock loaded from a file still decides every request."""
    bearer = {"Authorization": f"Bearer {remote_opa.token}"}
    with httpx.Client(base_url=remote_opa.url, timeout=5) as client:
        decision = client.post("/v1/data/mcp/authz/decision", json={"input": {}}, headers=bearer)
        config_read = client.get("/v1/data/mcp/config", headers=bearer)
        policy_write = client.put("/v1/policies/allow", content=b"package mcp.authz\n", headers=bearer)
        anonymous = client.post("/v1/data/mcp/authz/decision", json={"input": {}})

    assert decision.status_code == 200
    assert decision.json()["result"]["allow"] is False
    assert (config_read.status_code, policy_write.status_code, anonymous.status_code) == (401, 401, 401)


def allow_everything(files: dict[str, bytes]) -> None:
    rego = files["/authz.rego"].decode()
    assert "default _allow := false" in rego
    files["/authz.rego"] = rego.replace("default _allow := false", "default _allow := true").encode()


def enable_writes(files: dict[str, bytes]) -> None:
    data = json.loads(files["/data.json"])
    data["mcp"]["config"].update(mode="readwrite", approval={"default": {"required": False}})
    files["/data.json"] = json.dumps(data).encode()


def add_a_rule(files: dict[str, bytes]) -> None:
    files["/zz.rego"] = b'package mcp.authz\n\n_reasons := set() if input.tool.name == "scale_deployment"\n'


def drop_the_signatures(files: dict[str, bytes]) -> None:
    del files["/.signatures.json"]


TAMPERING = {
    "a changed rule": (allow_everything, "authz.rego: digest mismatch"),
    "changed data": (enable_writes, "data.json: digest mismatch"),
    "an added file": (add_a_rule, "file zz.rego not included in bundle signature"),
    "no signatures": (drop_the_signatures, "bundle missing .signatures.json file"),
}


@pytest.mark.parametrize("tampering", TAMPERING)
async def test_tampered_bundle_is_rejected_and_the_signed_one_kept(
    remote_opa: OpaServer, service: PolicyService, built: Built, open_gateway: GatewayFactory, tampering: str
) -> None:
    change, error = TAMPERING[tampering]
    service.tarball = repack(built.tarball, change)

    await wait_for(service, rejected, "OPA reports the tampered bundle")

    reported = service.bundle_status()
    assert reported["code"] == "bundle_error"
    assert error in reported["message"]
    assert reported["active_revision"] == "rev-1"
    gateway = await open_gateway(**remote_opa.settings(), mode="readwrite")
    message = await gateway.error("scale_deployment", arguments_for("scale_deployment", namespace="staging"))
    assert POLICY_READONLY in message
    assert gateway.kube.calls == []


async def test_bundle_signed_with_another_key_is_rejected(
    remote_opa: OpaServer, service: PolicyService, tmp_path: Path
) -> None:
    forged = build_bundle(tmp_path / "forged", revision="rev-forged")
    service.tarball = forged.tarball

    await wait_for(service, rejected, "OPA reports the forged bundle")

    reported = service.bundle_status()
    assert reported["code"] == "bundle_error"
    assert "failed to verify JWT signature" in reported["message"]
    assert reported["active_revision"] == "rev-1"


async def test_a_new_revision_signed_with_the_key_replaces_the_active_one(
    remote_opa: OpaServer, service: PolicyService, built: Built, tmp_path: Path
) -> None:
    service.tarball = build_bundle(tmp_path / "next", revision="rev-2", signing_key=built.signing_key).tarball

    await wait_for(service, lambda s: s.bundle_status()["active_revision"] == "rev-2", "OPA activates rev-2")

    status = service.bundle_status()
    assert status["active_revision"] == "rev-2"
    assert "code" not in status


async def test_without_a_verified_bundle_every_call_is_denied(
    service: PolicyService, built: Built, remote_config: Path, tmp_path: Path, open_gateway: GatewayFactory
) -> None:
    """A sidecar that never activated a bundle has no decision: the gateway fails closed."""
    service.tarball = repack(built.tarball, allow_everything)
    port = free_port()
    opa = ManagedProcess(name="opa", log_path=tmp_path / "opa.log")
    opa.start(
        [
            find_binary("opa"),
            "run",
            "--server",
            "--skip-version-check",
            "--addr",
            f"127.0.0.1:{port}",
            "--config-file",
            remote_config,
        ]
    )
    try:
        opa.wait_http_ready(f"http://127.0.0.1:{port}/health", timeout=30)
        await wait_for(service, rejected, "OPA reports the tampered bundle")
        gateway = await open_gateway(opa_url=f"http://127.0.0.1:{port}")
        message = await gateway.error("list_pods", {"namespace": "staging"})
    finally:
        opa.stop()

    assert "policy unavailable" in message
    assert gateway.kube.calls == []
    assert gateway.last_call()["outcome"] == "policy_unavailable"
    assert "active_revision" not in service.bundle_status()


# --------------------------------------------------------------------------------------------
# Decision logs
# --------------------------------------------------------------------------------------------


async def test_decision_logs_reach_the_log_service_and_join_the_audit_trail(
    remote_opa: OpaServer, service: PolicyService, open_gateway: GatewayFactory
) -> None:
    gateway = await open_gateway(**remote_opa.settings())
    await gateway.ok("list_pods", {"namespace": "staging"})
    await gateway.error("list_pods", {"namespace": "prod"})
    records = gateway.tool_calls()
    ids = [record["decision_id"] for record in records]

    await wait_for(service, lambda s: set(ids) <= s.logged().keys(), "the decision logs reach the log service")

    assert len(set(ids)) == 2
    assert service.log_encodings == {"gzip"}
    for record in records:
        event = service.logged()[record["decision_id"]]
        assert event["path"] == "mcp/authz/decision"
        assert event["input"]["request"]["id"] == record["request_id"]
        assert event["input"]["action_digest"] == record["action_digest"]
        assert (event["result"]["allow"], event["result"]["reasons"]) == (record["allow"], record["reasons"])
        assert event["bundles"] == {"mcp": {"revision": "rev-1"}}
