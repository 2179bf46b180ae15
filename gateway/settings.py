"""The gateway's settings: environment variables `K8S_MCP_*`, each also a `serve` flag.

One `BaseSettings` class is the single source of names, defaults and help text; the CLI and the
README table are generated from it. These settings describe the *gateway*; what is allowed is the
policy's business. `mode`, `dry_run` and `namespaces` are the gateway's own state, sent to OPA in
`input.gateway`, so the gateway can be started stricter than the policy but never looser.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AnyHttpUrl, Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from gateway.opa_token import check_token
from gateway.validation import DNS1123_LABEL


def _default_audit_path() -> Path:
    state = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(state) / "k8s-mcp-gateway" / "audit.jsonl"


class Settings(BaseSettings):
    """Every knob of the gateway. Invalid values fail at start, naming the setting."""

    model_config = SettingsConfigDict(
        env_prefix="K8S_MCP_",
        env_nested_delimiter="__",
        extra="ignore",
        frozen=True,
    )

    transport: Literal["stdio", "http"] = Field("stdio", description="MCP transport: stdio or streamable HTTP.")
    host: str = Field("127.0.0.1", description="Address the HTTP transport listens on.")
    port: int = Field(8080, ge=1, le=65535, description="Port the HTTP transport listens on.")
    http_path: str = Field("/mcp", pattern=r"^/", description="URL path of the streamable HTTP endpoint.")

    opa_url: AnyHttpUrl = Field(AnyHttpUrl("http://127.0.0.1:8181"), description="Base URL of the OPA sidecar.")
    opa_decision_path: str = Field(
        "mcp/authz/decision", pattern=r"^[A-Za-z0-9_/]+$", description="Data API path of the decision rule."
    )
    opa_visibility_path: str = Field(
        "mcp/authz/visible_tools",
        pattern=r"^[A-Za-z0-9_/]+$",
        description="Data API path of the rule that filters tools/list.",
    )
    opa_timeout: float = Field(
        1.0,
        gt=0,
        le=30,
        description="Seconds one OPA answer may take, connect to last byte, "
        "before failing closed (policy unavailable).",
    )
    opa_token_file: Path | None = Field(
        None,
        description="File holding the bearer token OPA's API expects from the gateway; read once at start "
        "(unreadable or empty: the gateway does not start).",
    )
    opa_token: SecretStr | None = Field(
        None,
        description="The bearer token itself, for secrets injected as variables; never printed. "
        "Set this or the file, not both.",
    )
    max_log_lines: int = Field(
        500,
        ge=1,
        le=10_000,
        description="The gateway's own cap on tail_lines of log reads; a policy cap can only lower it.",
    )

    mode: Literal["readonly", "readwrite"] = Field(
        "readonly", description="Gateway mode; the policy takes the stricter of this and its own mode."
    )
    dry_run: bool = Field(False, description="Run every write as a server-side dry run.")
    namespaces: Annotated[list[str] | None, NoDecode] = Field(
        None,
        description="The gateway's own namespace allowlist (comma-separated), on top of the policy's.",
    )

    principal: str | None = Field(
        None, description="Who the stdio principal is (default: the OS user running the gateway)."
    )
    principal_groups: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Groups of the stdio principal (comma-separated)."
    )

    audit_path: Path = Field(
        default_factory=_default_audit_path, description="JSON Lines audit file; one record per tool call."
    )
    audit_max_value_bytes: int = Field(
        8192,
        ge=1024,
        le=1_048_576,
        description="Longest value (bytes of JSON) kept whole in an audit record; longer: length, sha256, prefix.",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Log level (stderr).")

    kubeconfig: Path | None = Field(None, description="Kubeconfig file (default: in-cluster, then ~/.kube/config).")
    context: str | None = Field(None, description="Kubeconfig context to use.")
    kube_timeout: float = Field(10.0, gt=0, le=300, description="Seconds before a Kubernetes API call times out.")
    kube_workers: int = Field(
        8, ge=1, le=64, description="Threads for Kubernetes calls, so they never block the event loop."
    )

    approvals_path: Path | None = Field(
        None, description="SQLite file of approval requests (default: approvals.db beside the audit file)."
    )
    approvals_max_wait: int = Field(
        300, ge=0, le=3600, description="Most seconds a write may wait for its approval (its wait_seconds)."
    )
    approvals_confirm_timeout: float = Field(
        120.0, gt=0, le=3600, description="Seconds to wait for the user to answer a confirmation request."
    )

    @property
    def approvals_file(self) -> Path:
        """The approval store: `approvals_path`, or approvals.db in the audit file's directory."""
        return self.approvals_path or self.audit_path.with_name("approvals.db")

    @field_validator("namespaces", "principal_groups", mode="before")
    @classmethod
    def _split_commas(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("opa_token")
    @classmethod
    def _one_usable_token(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        if value is None:
            return value
        if info.data.get("opa_token_file") is not None:
            raise ValueError("K8S_MCP_OPA_TOKEN_FILE is set too; give the token one way only")
        check_token(value.get_secret_value())
        return value

    @field_validator("namespaces")
    @classmethod
    def _namespaces_are_labels(cls, value: list[str] | None) -> list[str] | None:
        for name in value or ():
            if not DNS1123_LABEL.fullmatch(name):
                raise ValueError(f"{name!r} is not a DNS-1123 label")
        return value
