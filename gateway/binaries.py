"""Finds the pinned helper binaries (`opa`, `etcd`, `kube-apiserver`, `packaging-check`).

A binary on PATH wins. Run from a source checkout (this package beside the project's
`pyproject.toml`), the one the project's setup built into `<checkout>/.tools/bin` comes next; an
installed package has no such directory, so there PATH is the only place looked at. A missing
binary is a setup error, reported with what to do about it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
"""The source checkout this package runs from; when installed, merely its parent directory."""
TOOLS_BIN = REPO_ROOT / ".tools" / "bin"


class BinaryNotFoundError(RuntimeError):
    """A required binary is neither on PATH nor in a checkout's `.tools/bin`."""


def in_checkout() -> bool:
    """Whether this package runs from the project's source checkout rather than an installation."""
    return (REPO_ROOT / "pyproject.toml").is_file() and (REPO_ROOT / "gateway" / "binaries.py").is_file()


def find_binary(name: str) -> Path:
    """Return the path of `name`, preferring PATH over the checkout's own build."""
    on_path = shutil.which(name)
    if on_path:
        return Path(on_path)
    if in_checkout():
        built = TOOLS_BIN / name
        if built.is_file():
            return built
        raise BinaryNotFoundError(f"{name} not found on PATH or in {TOOLS_BIN}; run `make setup` to build it")
    raise BinaryNotFoundError(f"{name} not found on PATH; install it, or put the directory that holds it on PATH")
