"""Finds the pinned helper binaries (`opa`, `etcd`, `kube-apiserver`).

A binary on PATH wins; otherwise the one the project's setup built into `<repo>/.tools/bin`.
A missing binary is a setup error, reported with the command that builds it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
TOOLS_BIN = REPO_ROOT / ".tools" / "bin"


class BinaryNotFoundError(RuntimeError):
    """A required binary is neither on PATH nor in `.tools/bin`."""


def find_binary(name: str) -> Path:
    """Return the path of `name`, preferring PATH over the project's own build."""
    on_path = shutil.which(name)
    if on_path:
        return Path(on_path)
    built = TOOLS_BIN / name
    if built.is_file():
        return built
    raise BinaryNotFoundError(f"{name} not found on PATH or in {TOOLS_BIN}; run `make setup` to build it")
