"""The shared secret that locks OPA's REST API to the gateway.

OPA runs with `--authentication=token --authorization=basic`, and its `system.authz` policy
(opa/system/authz/authz.rego) serves a request only when the sha256 of its bearer token equals
`data.system.gateway.token_sha256`. `write_token` creates both halves in one directory, which the
launcher shares between the two processes (a temporary directory in the sandbox, a volume that an
init container fills in docker-compose.yml and deploy/):

    token            the token itself, for the gateway (K8S_MCP_OPA_TOKEN_FILE)
    opa-token.json   {"system": {"gateway": {"token_sha256": ...}}}, a data file for OPA

OPA holds only the digest, so nothing it could be made to reveal is the token. The token never
exists in the repository: it is made from `secrets` where the pair is created.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
import tempfile
from pathlib import Path

TOKEN_FILE = "token"
DATA_FILE = "opa-token.json"

# Sent as `Authorization: Bearer <token>`, which OPA matches with `Bearer\s+(\S+)`.
_TOKEN = re.compile(r"[\x21-\x7e]+")
TOKEN_RULE = "must be one word of visible ASCII characters"


class TokenError(ValueError):
    """The token the gateway was given cannot be used; the message names the setting."""


def check_token(value: str) -> str:
    """`value` if it can be sent as a bearer token, else `ValueError` saying the rule."""
    if not _TOKEN.fullmatch(value):
        raise ValueError(TOKEN_RULE)
    return value


def token_digest(token: str) -> str:
    """What OPA compares: the hex sha256 of the token."""
    return hashlib.sha256(token.encode()).hexdigest()


def read_token_file(path: Path) -> str:
    """The token in `path` (surrounding whitespace dropped); `TokenError` naming the setting if unusable."""
    where = f"the OPA token file {path} (K8S_MCP_OPA_TOKEN_FILE, --opa-token-file)"
    try:
        token = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise TokenError(f"cannot read {where}: {getattr(exc, 'strerror', None) or exc}") from None
    if not token:
        raise TokenError(f"{where} is empty")
    try:
        return check_token(token)
    except ValueError as exc:
        raise TokenError(f"the token in {where} {exc}") from None


def write_token(directory: Path) -> str:
    """Make sure `directory` holds a token and OPA's digest of it; return the token.

    A token already there is kept, so that a container restarted beside a running OPA reads the
    token OPA has loaded; otherwise a new one is drawn (256 bits). Both files are written
    atomically, readable by their owner and group only.
    """
    directory.mkdir(parents=True, exist_ok=True)
    token_path = directory / TOKEN_FILE
    token = read_token_file(token_path) if token_path.exists() else secrets.token_urlsafe(32)
    _write_private(token_path, token + "\n")
    digest = {"system": {"gateway": {"token_sha256": token_digest(token)}}}
    _write_private(directory / DATA_FILE, json.dumps(digest) + "\n")
    return token


def _write_private(path: Path, text: str) -> None:
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "w", encoding="ascii") as file:
            file.write(text)
        os.chmod(temporary, 0o440)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
