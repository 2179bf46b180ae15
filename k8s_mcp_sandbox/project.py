"""Where the sandbox finds the project's own files: the policies, OPA's configs, the gateway's manifests.

Run from a source checkout, they are the checkout's (`policies/`, `opa/`, `deploy/`), so an edit
there is what the next test or demo runs. Installed from a wheel with the `demo` extra, they are
the copies the wheel put under `<prefix>/share/k8s-mcp-gateway` (pyproject.toml's data files).
"""

from __future__ import annotations

import sys
from pathlib import Path

from gateway.binaries import REPO_ROOT, in_checkout

PROJECT_DIR = REPO_ROOT if in_checkout() else Path(sys.prefix) / "share" / "k8s-mcp-gateway"
POLICY_DIR = PROJECT_DIR / "policies"
OPA_CONFIG = PROJECT_DIR / "opa" / "config.yaml"
API_AUTHZ = PROJECT_DIR / "opa" / "system" / "authz" / "authz.rego"
DEPLOY_DIR = PROJECT_DIR / "deploy"
