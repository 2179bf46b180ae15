"""Bearer tokens on the HTTP transport: who the caller is, or which check refused them.

Both verifiers are FastMCP `TokenVerifier`s, so FastMCP's own HTTP auth middleware runs them on
every request. Each also answers `check(token)` with either a `VerifiedToken` (subject and
groups) or a `Rejection` naming the check that failed, for the audit record of a refused caller;
`verify_token`, FastMCP's half, is `check` without the reason.

- `TokenFileVerifier`: FastMCP's `StaticTokenVerifier` over `K8S_MCP_AUTH_TOKEN_FILE`, a JSON
  object mapping each token to `{"sub": ..., "groups": [...]}`.
- `ClaimsJWTVerifier`: FastMCP's `JWTVerifier` for the key (a PEM file, or a JWKS URL with its
  cache and refresh limits); the signature and claims are checked here with joserfc, because the
  gateway needs what `JWTVerifier` does not offer: a leeway on `exp`/`nbf`/`iat`, a configurable
  subject and groups claim, and the reason a token was refused.

Exceptions: `AuthConfigError` (a ValueError) when a setting points at something unusable; it is
raised at start, never per request, and never quotes a token.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from fastmcp.server.auth import AccessToken, TokenVerifier
from fastmcp.server.auth.providers.jwt import JWTVerifier, StaticTokenVerifier
from fastmcp.utilities.auth import decode_jwt_header
from joserfc import jwk, jwt
from joserfc.errors import BadSignatureError, ClaimError, ExpiredTokenError, JoseError, MissingClaimError
from joserfc.jws import JWSRegistry
from pydantic import Field
from starlette.datastructures import Headers

from gateway.settings import Settings

MIN_TOKEN_LENGTH = 16
"""Shorter tokens in the token file are refused at start: they could be guessed."""


class AuthConfigError(ValueError):
    """An auth setting points at a file or key the gateway cannot use."""


class VerifiedToken(AccessToken):
    """An access token the gateway's verifiers accepted, with the caller it names.

    `subject` is the caller (from the configured subject claim); `groups` come from the
    configured groups claim (empty when the token has none).
    """

    groups: list[str] = Field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a bearer token was refused. `check` is a fixed word; `detail` never quotes the token."""

    check: str
    detail: str


MISSING = Rejection("missing", "no bearer token in the Authorization header")


def bearer_token(headers: Headers) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, else None (any other scheme too).

    Read exactly as the MCP SDK's bearer backend reads it, so both see the same token.
    """
    value = headers.get("authorization", "")
    return value[7:] if value[:7].lower() == "bearer " else None


async def check_token(verifier: TokenVerifier, token: str | None) -> VerifiedToken | Rejection:
    """Verify `token` with `verifier`; a verifier other than the gateway's own gives no reason."""
    if not token:
        return MISSING
    if isinstance(verifier, ExplainingVerifier):
        return await verifier.check(token)
    accepted = await verifier.verify_token(token)
    if accepted is None:
        return Rejection("invalid", "the token verifier refused the token")
    groups = (accepted.claims or {}).get("groups")
    return VerifiedToken(**accepted.model_dump(), groups=_strings(groups))


class ExplainingVerifier(TokenVerifier):
    """A FastMCP token verifier that can also say which check refused a token."""

    async def check(self, token: str) -> VerifiedToken | Rejection:
        raise NotImplementedError

    async def verify_token(self, token: str) -> AccessToken | None:
        checked = await self.check(token)
        return checked if isinstance(checked, VerifiedToken) else None


class TokenFileVerifier(ExplainingVerifier, StaticTokenVerifier):
    """Opaque bearer tokens listed in a file, each naming one caller and their groups."""

    @classmethod
    def from_file(cls, path: Path) -> TokenFileVerifier:
        """Load the token file; every problem names the setting, the file and the entry, not the token."""
        where = f"K8S_MCP_AUTH_TOKEN_FILE {path}"
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise AuthConfigError(f"{where} cannot be read: {exc.strerror}") from None
        except ValueError as exc:
            raise AuthConfigError(f"{where} is not JSON: {exc}") from None
        if not isinstance(document, dict) or not document:
            raise AuthConfigError(
                f'{where} must be a non-empty JSON object: {{"<token>": {{"sub": ..., "groups": [...]}}}}'
            )
        tokens: dict[str, dict[str, Any]] = {}
        for number, (token, entry) in enumerate(document.items(), start=1):
            tokens[token] = _token_entry(token, entry, f"{where}, entry {number}")
        return cls(tokens=tokens)

    async def check(self, token: str) -> VerifiedToken | Rejection:
        accepted = await StaticTokenVerifier.verify_token(self, token)
        if accepted is None:
            return Rejection("unknown_token", "the token is not in the token file")
        return VerifiedToken(**accepted.model_dump(), groups=accepted.claims["groups"])


def issue_token(path: Path, *, sub: str, groups: Sequence[str]) -> str:
    """Write a token file (mode 0600) holding one fresh random token for `sub`; return the token."""
    return issue_tokens(path, {sub: groups})[sub]


def issue_tokens(path: Path, callers: Mapping[str, Sequence[str]]) -> dict[str, str]:
    """Write a token file (mode 0600) with a fresh random token for each `sub` of `callers` (with its
    groups); return each `sub`'s token."""
    tokens = {sub: secrets.token_urlsafe(32) for sub in callers}
    document = json.dumps(
        {tokens[sub]: {"sub": sub, "groups": list(groups)} for sub, groups in callers.items()}, indent=2
    )
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(descriptor, 0o600)  # also when the file already existed with another mode
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(document + "\n")
    return tokens


def _token_entry(token: object, entry: object, where: str) -> dict[str, Any]:
    if not isinstance(token, str) or len(token) < MIN_TOKEN_LENGTH or token != token.strip():
        raise AuthConfigError(f"{where}: the token must be at least {MIN_TOKEN_LENGTH} characters, without spaces")
    if not isinstance(entry, dict) or set(entry) - {"sub", "groups"}:
        raise AuthConfigError(f'{where}: the value must be {{"sub": "<name>", "groups": ["<group>", ...]}}')
    sub, groups = entry.get("sub"), entry.get("groups", [])
    if not isinstance(sub, str) or not sub.strip():
        raise AuthConfigError(f"{where}: sub must be a non-empty string")
    if not isinstance(groups, list) or not all(isinstance(group, str) and group for group in groups):
        raise AuthConfigError(f"{where} (sub {sub!r}): groups must be a list of non-empty strings")
    # StaticTokenVerifier's shape: client_id and scopes, the rest become the token's claims.
    return {"client_id": sub, "sub": sub, "groups": list(groups), "scopes": []}


class ClaimsJWTVerifier(ExplainingVerifier, JWTVerifier):
    """Signed JWTs: one algorithm, a required issuer and audience, `exp` required, a clock leeway."""

    def __init__(
        self,
        *,
        public_key: str | None = None,
        jwks_uri: str | None = None,
        algorithm: str,
        issuer: str,
        audience: str,
        leeway: int,
        subject_claim: str,
        groups_claim: str,
    ) -> None:
        super().__init__(
            public_key=public_key, jwks_uri=jwks_uri, algorithm=algorithm, issuer=issuer, audience=audience
        )
        self.leeway = leeway
        self.subject_claim = subject_claim
        self.groups_claim = groups_claim
        self._claims = jwt.JWTClaimsRegistry(
            leeway=leeway,
            iss={"essential": True, "value": issuer},
            aud={"essential": True, "value": audience},
            exp={"essential": True},
        )

    async def check(self, token: str) -> VerifiedToken | Rejection:
        try:
            header = decode_jwt_header(token)
        except (ValueError, RecursionError):
            return Rejection("malformed", "the token is not a JWT (header.payload.signature)")
        if not isinstance(header, dict):
            return Rejection("malformed", "the token's header is not a JSON object")
        if header.get("alg") != self.algorithm:
            shown = json.dumps(header.get("alg"))[:40]
            return Rejection("algorithm", f"algorithm {shown} is not accepted (only {self.algorithm})")
        if "crit" in header:
            return Rejection("malformed", "critical header parameters are not supported")
        try:
            key = jwk.import_key(await self._get_verification_key(token), _key_type(self.algorithm))
        except (ValueError, JoseError) as exc:
            return Rejection("key", f"no usable signing key for the token: {str(exc)[:200]}")
        registry = JWSRegistry(algorithms=[self.algorithm], strict_check_header=False)
        try:
            claims = jwt.decode(token, key, algorithms=[self.algorithm], registry=registry).claims
        except BadSignatureError:
            return Rejection("signature", "the signature does not verify")
        except (JoseError, ValueError):
            return Rejection("malformed", "the token's payload is not a JSON object of claims")
        try:
            self._claims.validate(claims)
        except ClaimError as exc:
            return _claim_rejection(exc)
        subject = claims.get(self.subject_claim)
        if not isinstance(subject, str) or not subject.strip():
            return Rejection("subject", f"the subject claim {self.subject_claim!r} is missing or not a string")
        return VerifiedToken(
            token=token,
            client_id=subject,
            scopes=[],
            # When the gateway stops accepting it: FastMCP's backend compares this with now.
            expires_at=int(claims["exp"]) + self.leeway,
            subject=subject,
            claims=claims,
            groups=_strings(claims.get(self.groups_claim)),
        )


def _claim_rejection(exc: ClaimError) -> Rejection:
    claim = exc.claim
    if isinstance(exc, ExpiredTokenError):
        return Rejection("expired", "the token has expired")
    if isinstance(exc, MissingClaimError):
        return Rejection("claims", f"the token has no {claim} claim")
    words = {"iss": ("issuer", "wrong issuer"), "aud": ("audience", "wrong audience")}
    if claim in words:
        check, detail = words[claim]
        return Rejection(check, detail)
    if claim in ("nbf", "iat"):
        return Rejection("not_yet_valid", f"the token is not valid yet ({claim} is in the future)")
    return Rejection("claims", f"invalid {claim} claim")


def _key_type(algorithm: str) -> Literal["RSA", "EC", "OKP"]:
    if algorithm.startswith(("RS", "PS")):
        return "RSA"
    return "EC" if algorithm.startswith("ES") else "OKP"


def _strings(value: object) -> list[str]:
    """A groups claim as a list: a list keeps its strings, one string is one group, anything else none."""
    if isinstance(value, str):
        return [value] if value else []
    if isinstance(value, list):
        return [item for item in value if isinstance(item, str) and item]
    return []


def build_verifier(settings: Settings) -> TokenVerifier | None:
    """The verifier `K8S_MCP_AUTH` asks for, its files read now; None for `none`."""
    if settings.auth == "tokens":
        assert settings.auth_token_file is not None  # the settings require it
        return TokenFileVerifier.from_file(settings.auth_token_file)
    if settings.auth == "jwt":
        assert settings.auth_issuer is not None  # the settings require both
        assert settings.auth_audience is not None
        return ClaimsJWTVerifier(
            public_key=_public_key(settings.auth_public_key_file, settings.auth_algorithm),
            jwks_uri=str(settings.auth_jwks_uri) if settings.auth_jwks_uri else None,
            algorithm=settings.auth_algorithm,
            issuer=settings.auth_issuer,
            audience=settings.auth_audience,
            leeway=settings.auth_leeway,
            subject_claim=settings.auth_subject_claim,
            groups_claim=settings.auth_groups_claim,
        )
    return None


def _public_key(path: Path | None, algorithm: str) -> str | None:
    if path is None:
        return None
    where = f"K8S_MCP_AUTH_PUBLIC_KEY_FILE {path}"
    try:
        pem = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise AuthConfigError(f"{where} cannot be read: {exc}") from None
    try:
        key = jwk.import_key(pem, _key_type(algorithm))
    except (JoseError, ValueError, TypeError) as exc:
        raise AuthConfigError(f"{where} is not a PEM public key for {algorithm}: {exc}") from None
    if key.is_private:
        raise AuthConfigError(f"{where} holds a private key; give the gateway the public key only")
    return pem
