"""A real `opa run --server` on a free loopback port, loaded with the project's policies."""

from __future__ import annotations

import tempfile
from pathlib import Path

from gateway.sandbox.binaries import REPO_ROOT, find_binary
from gateway.sandbox.process import ManagedProcess, Service, free_port

POLICY_DIR = REPO_ROOT / "policies"
OPA_CONFIG = REPO_ROOT / "opa" / "config.yaml"


class OpaServer(Service):
    """OPA as the gateway's sidecar runs it (opa/config.yaml): REST API on loopback, decision logs on.

    Decision logging to the console makes OPA return a `decision_id` with every answer,
    which the gateway copies into its audit records. With `watch`, OPA reloads its policy paths
    when a file in them changes, as a security team's edit reaches a running sidecar.
    """

    def __init__(
        self, *, paths: tuple[Path, ...] = (POLICY_DIR,), log_dir: Path | None = None, watch: bool = False
    ) -> None:
        self.paths = paths
        self.watch = watch
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        log_root = log_dir if log_dir is not None else self._tempdir()
        self.process = ManagedProcess(name="opa", log_path=log_root / "opa.log")

    def _tempdir(self) -> Path:
        self._tmp = tempfile.TemporaryDirectory(prefix="k8s-mcp-opa-")
        return Path(self._tmp.name)

    def start(self) -> OpaServer:
        self.process.start(
            [
                find_binary("opa"),
                "run",
                "--server",
                "--addr",
                f"127.0.0.1:{self.port}",
                "--log-level",
                "error",
                "--skip-version-check",
                "--config-file",
                OPA_CONFIG,
                *(["--watch"] if self.watch else []),
                *self.paths,
            ]
        )
        self.process.wait_http_ready(f"{self.url}/health?bundles=true", timeout=30)
        return self

    def stop(self) -> None:
        self.process.stop()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
