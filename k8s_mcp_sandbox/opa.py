"""A real `opa run --server` on a free loopback port, loaded with the project's policies, API locked."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from gateway.binaries import find_binary
from gateway.opa_token import DATA_FILE, TOKEN_FILE, write_token
from k8s_mcp_sandbox.process import ManagedProcess, Service, free_port
from k8s_mcp_sandbox.project import API_AUTHZ, OPA_CONFIG, POLICY_DIR


class OpaServer(Service):
    """OPA as the gateway's sidecar runs it (opa/config.yaml): REST API on loopback, decision logs on.

    Its REST API is locked as in docker-compose.yml and deploy/: `--authentication=token
    --authorization=basic` with opa/system/authz, and a fresh random token per server, which
    `settings()` and `environment()` hand to a gateway. Decision logging to the console makes OPA
    return a `decision_id` with every answer, which the gateway copies into its audit records.
    With `watch`, OPA reloads its policy paths when a file in them changes, as a security team's
    edit reaches a running sidecar.
    """

    def __init__(
        self,
        *,
        paths: tuple[Path, ...] = (POLICY_DIR,),
        log_dir: Path | None = None,
        config_file: Path = OPA_CONFIG,
        watch: bool = False,
    ) -> None:
        self.paths = paths
        self.config_file = config_file
        self.watch = watch
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._tmp: tempfile.TemporaryDirectory[str] | None = tempfile.TemporaryDirectory(prefix="k8s-mcp-opa-")
        private = Path(self._tmp.name)
        self.token = write_token(private / "token")
        self.token_file = private / "token" / TOKEN_FILE
        self._token_data = private / "token" / DATA_FILE
        self.process = ManagedProcess(name="opa", log_path=(log_dir or private) / "opa.log")

    def settings(self) -> dict[str, Any]:
        """The gateway settings that point at this OPA with its token."""
        return {"opa_url": self.url, "opa_token_file": self.token_file}

    def environment(self) -> dict[str, str]:
        """The same, as the variables of a gateway process."""
        return {"K8S_MCP_OPA_URL": self.url, "K8S_MCP_OPA_TOKEN_FILE": str(self.token_file)}

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
                self.config_file,
                "--authentication=token",
                "--authorization=basic",
                *(["--watch"] if self.watch else []),
                *self.paths,
                API_AUTHZ,
                self._token_data,
            ]
        )
        self.process.wait_http_ready(f"{self.url}/health?bundles=true", timeout=30)
        return self

    def stop(self) -> None:
        self.process.stop()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
