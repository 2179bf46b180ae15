"""The gateway's settings: environment variables `K8S_MCP_*`, each also a `serve` flag.

One `BaseSettings` class is the single source of names, defaults and help text; the CLI and the
README table are generated from it. These settings describe the *gateway*; what is allowed is the
policy's business. `mode`, `dry_run` and `namespaces` are the gateway's own state, sent to OPA in
`input.gateway`, so the gateway can be started stricter than the policy but never looser.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AnyHttpUrl, Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from gateway.logs import LogFormat
from gateway.opa_token import check_token
from gateway.validation import DNS1123_LABEL


def is_loopback(host: str) -> bool:
    """True for `localhost` and loopback IP addresses: only this machine can connect to them."""
    name = host.strip().lower().removeprefix("[").removesuffix("]")
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


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

    auth: Literal["none", "tokens", "jwt"] = Field(
        "none",
        description="Who may call over HTTP: `tokens` (a token file), `jwt` (signed JWTs), or `none` (loopback only).",
    )
    auth_token_file: Path | None = Field(
        None, description="JSON file mapping each bearer token to its `sub` and `groups` (for `tokens`)."
    )
    auth_jwks_uri: AnyHttpUrl | None = Field(
        None, description="JWKS URL of the token issuer (for `jwt`; or a public key file)."
    )
    auth_public_key_file: Path | None = Field(
        None, description="PEM public key that signs the tokens (for `jwt`; or a JWKS URL)."
    )
    auth_algorithm: Literal[
        "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "Ed25519"
    ] = Field("RS256", description="The one JWS algorithm accepted (for `jwt`).")
    auth_issuer: str | None = Field(None, description="Required `iss` of every token (for `jwt`).")
    auth_audience: str | None = Field(None, description="Required `aud` of every token (for `jwt`).")
    auth_leeway: int = Field(
        30, ge=0, le=300, description="Seconds of clock skew allowed on `exp`, `nbf` and `iat` (for `jwt`)."
    )
    auth_subject_claim: str = Field("sub", min_length=1, description="JWT claim that names the caller (for `jwt`).")
    auth_groups_claim: str = Field(
        "groups", min_length=1, description="JWT claim listing the caller's groups; missing means none (for `jwt`)."
    )

    http_allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Host header values accepted besides loopback ones (comma-separated, `*` wildcards).",
    )
    http_allowed_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Origin header values accepted besides loopback and same-origin ones (comma-separated, `*`).",
    )
    http_max_sessions: int = Field(
        100, ge=1, le=100_000, description="MCP sessions open at once at most; a request for one more gets 503."
    )
    http_session_idle_timeout: float = Field(
        300.0, gt=0, le=86_400, description="Seconds an MCP session may stay idle before it is closed."
    )
    http_body_timeout: float = Field(
        10.0, gt=0, le=300, description="Seconds a request body may take to arrive in full; a slower one gets 408."
    )

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
    log_format: LogFormat = Field("text", description="Log format on stderr: text lines, or one JSON object per line.")

    kubeconfig: Path | None = Field(None, description="Kubeconfig file (default: in-cluster, then ~/.kube/config).")
    context: str | None = Field(None, description="Kubeconfig context to use.")
    contexts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Kubeconfig contexts the gateway may use (comma-separated, the first is the default); "
        "with more than one, each Kubernetes tool takes a `context` argument. Unset: just `context`.",
    )
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

    @field_validator(
        "namespaces", "principal_groups", "contexts", "http_allowed_hosts", "http_allowed_origins", mode="before"
    )
    @classmethod
    def _split_commas(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("auth")
    @classmethod
    def _none_only_on_loopback(cls, value: str, info: ValidationInfo) -> str:
        host = info.data.get("host")
        if value == "none" and info.data.get("transport") == "http" and host is not None and not is_loopback(host):
            raise ValueError(
                f"'none' lets anyone who reaches the port call the tools, so it is allowed only when the HTTP "
                f"transport listens on a loopback address, not on {host!r} (--host / K8S_MCP_HOST); "
                "set K8S_MCP_AUTH to 'tokens' or 'jwt'"
            )
        return value

    @field_validator("auth_token_file")
    @classmethod
    def _token_file_for_tokens(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        if value is None and info.data.get("auth") == "tokens":
            raise ValueError("required when K8S_MCP_AUTH is 'tokens'")
        return value

    @field_validator("auth_public_key_file")
    @classmethod
    def _one_key_source_for_jwt(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        if info.data.get("auth") == "jwt" and (value is None) == (info.data.get("auth_jwks_uri") is None):
            raise ValueError("K8S_MCP_AUTH 'jwt' needs exactly one of K8S_MCP_AUTH_JWKS_URI and this key file")
        return value

    @field_validator("auth_issuer", "auth_audience")
    @classmethod
    def _bound_tokens_for_jwt(cls, value: str | None, info: ValidationInfo) -> str | None:
        # Without both, a token the issuer minted for another service, or another issuer's
        # token signed by a shared JWKS, would be accepted here.
        if info.data.get("auth") == "jwt" and not value:
            raise ValueError("required when K8S_MCP_AUTH is 'jwt'")
        return value

    @field_validator("http_allowed_hosts")
    @classmethod
    def _hosts_are_names(cls, value: list[str]) -> list[str]:
        for host in value:
            if "/" in host or "@" in host:
                raise ValueError(f"{host!r} is not a host name (no scheme, path or user)")
        return value

    @field_validator("http_allowed_origins")
    @classmethod
    def _origins_are_origins(cls, value: list[str]) -> list[str]:
        for origin in value:
            scheme, _, rest = origin.partition("://")
            if scheme not in ("http", "https") or not rest or "/" in rest:
                raise ValueError(f"{origin!r} is not an origin (scheme://host[:port], no path)")
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

    @field_validator("contexts")
    @classmethod
    def _contexts_once_each(cls, value: list[str]) -> list[str]:
        repeated = sorted({name for name in value if value.count(name) > 1})
        if repeated:
            raise ValueError(f"each context may be named once; repeated: {', '.join(repeated)}")
        return value
