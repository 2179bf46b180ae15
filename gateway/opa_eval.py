"""Asking the real `opa eval` about policy files on disk, for the `policy` commands.

The gateway asks a running OPA over HTTP; `policy replay` and `policy explain` ask the `opa`
binary itself (found as the sandbox finds it: on PATH, else in the project's `.tools/bin`) about
a policy directory that may not be deployed anywhere yet. One process answers one query; a replay
puts all its inputs into one query.

    OpaEvalError    opa is missing, a policy path does not exist, or `opa eval` failed; the
                    message says which, quoting OPA
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from gateway.binaries import BinaryNotFoundError, find_binary

Explain = Literal["notes", "full"]


class OpaEvalError(Exception):
    """The question could not be put to OPA, or OPA could not answer it."""


def data_ref(path: str) -> str:
    """The Rego reference of a Data API path: `mcp/authz/decision` -> `data["mcp"]["authz"]["decision"]`."""
    return "data" + "".join(f"[{json.dumps(part)}]" for part in path.strip("/").split("/"))


def evaluate(
    query: str, *, paths: Sequence[Path], input_document: Any, modules: Mapping[str, str] | None = None
) -> Any:
    """The value of `query` over the policy and data files under `paths` (plus `modules`, Rego
    sources by file name) with `input_document` as input; None when it is undefined."""
    output = _run(["--format", "json"], query, paths=paths, input_document=input_document, modules=modules or {})
    try:
        results = json.loads(output).get("result", [])  # no "result": undefined
    except (ValueError, AttributeError):
        raise OpaEvalError(f"opa eval answered something that is not its JSON output: {output[:500]}") from None
    if not results:
        return None
    return results[0]["expressions"][0]["value"]


def trace(query: str, *, paths: Sequence[Path], input_document: Any, explain: Explain) -> str:
    """OPA's own trace of `query` (`opa eval --explain`), as OPA prints it."""
    return _run(
        ["--format", "pretty", "--explain", explain], query, paths=paths, input_document=input_document, modules={}
    )


def _run(
    options: list[str], query: str, *, paths: Sequence[Path], input_document: Any, modules: Mapping[str, str]
) -> str:
    try:
        opa = find_binary("opa")
    except BinaryNotFoundError as exc:
        raise OpaEvalError(str(exc)) from None
    missing = [str(path) for path in paths if not path.exists()]
    if missing:
        raise OpaEvalError(f"no such policy path: {', '.join(missing)}")
    with tempfile.TemporaryDirectory(prefix="k8s-mcp-gateway-eval-") as scratch:
        extra = []
        for name, source in modules.items():
            module = Path(scratch) / name
            module.write_text(source, encoding="utf-8")
            extra.append(module)
        argv = [str(opa), "eval", *options, "--stdin-input"]
        argv += [f"--data={path}" for path in (*paths, *extra)]
        completed = subprocess.run(
            [*argv, query], input=json.dumps(input_document), capture_output=True, text=True, check=False
        )
    if completed.returncode != 0:
        raise OpaEvalError(f"opa eval failed: {_errors(completed.stdout) or completed.stderr.strip()}")
    return completed.stdout


def _errors(output: str) -> str:
    """OPA's error messages, one per line with their location, from its JSON (or plain) output."""
    try:
        errors = json.loads(output)["errors"]
        lines = []
        for error in errors:
            location = error.get("location") or {}
            where = f"{location['file']}:{location['row']}: " if "file" in location and "row" in location else ""
            lines.append(f"{where}{error.get('message', error)}")
        return "\n".join(lines)
    except (ValueError, KeyError, TypeError, AttributeError):
        return output.strip()
