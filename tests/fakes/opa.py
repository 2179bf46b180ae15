"""OPA stand-ins: `OpaStub`, respx routes in place of OPA's Data API that record every input
document, the decisions they answer, and copies of the shipped policy with patched data."""

from __future__ import annotations

import copy
import json
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpcore
import httpx
import respx

from k8s_mcp_sandbox.project import POLICY_DIR
from tests.catalog import ALL_TOOLS, DECISION_PATH, STUB_OPA_URL, VISIBILITY_PATH

# --------------------------------------------------------------------------------------------
# OPA stand-ins
# --------------------------------------------------------------------------------------------

NO_APPROVAL: dict[str, Any] = {"required": False, "approvers": [], "count": 0, "ttl_seconds": 0, "kinds": []}


def decision(
    *,
    allow: bool,
    reasons: list[str] | None = None,
    approval: Mapping[str, Any] | None = None,
    obligations: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A well-formed decision document (the README's policy contract)."""
    return {
        "allow": allow,
        "reasons": list(reasons or []),
        "approval": dict(approval or NO_APPROVAL),
        "obligations": dict(obligations or {"max_log_lines": 500, "dry_run": False}),
    }


ALLOW = decision(allow=True)


def policy_input(action: Mapping[str, Any], *, tool: str, gateway_mode: str = "readonly") -> dict[str, Any]:
    """The least decision input the policy decides on: a verified caller, the tool's name (write
    grants name tools), `action` (core group, no subresource, no name, namespaced unless given) and
    the gateway's state, as a raw OPA client sends it."""
    return {
        "version": 1,
        "principal": {"sub": "alice", "groups": [], "authenticated": True},
        "tool": {"name": tool},
        "action": {"group": "", "subresource": "", "name": None, "cluster_scoped": False, **action},
        "gateway": {"mode": gateway_mode, "dry_run": False, "namespaces": None},
    }


# A raw answer for a stubbed route: a response as sent, or the httpcore error the exchange fails with.
Answer = httpx.Response | type[httpcore.ConnectError | httpcore.TimeoutException]


def opa_answer(result: Any, *, decision_id: str = "stub-decision-1") -> httpx.Response:
    """OPA's Data API envelope around `result`."""
    return httpx.Response(200, json={"result": result, "decision_id": decision_id})


class OpaStub:
    """respx routes for the decision and visibility rules; every posted input is kept."""

    url = STUB_OPA_URL

    def __init__(self, router: respx.MockRouter) -> None:
        self.router = router
        self.decision_route = router.post(DECISION_PATH, name="decision")
        self.visibility_route = router.post(VISIBILITY_PATH, name="visible_tools")
        self.decide(ALLOW)
        self.show(list(ALL_TOOLS))

    def decide(self, result: Any) -> None:
        """Answer every decision query with `result` (wrapped in OPA's envelope)."""
        self.decision_route.mock(return_value=opa_answer(result))

    def show(self, names: Any) -> None:
        """Answer every visibility query with `names` (wrapped in OPA's envelope)."""
        self.visibility_route.mock(return_value=opa_answer(names))

    @staticmethod
    def break_route(route: respx.Route, answer: Answer) -> None:
        """Make `route` answer with a raw response (no envelope) or fail with an httpcore error."""
        if isinstance(answer, httpx.Response):
            route.mock(return_value=answer)
        else:
            route.mock(side_effect=answer)

    @property
    def decision_inputs(self) -> list[dict[str, Any]]:
        return [json.loads(call.request.content)["input"] for call in self.decision_route.calls]

    @property
    def listing_inputs(self) -> list[dict[str, Any]]:
        return [json.loads(call.request.content)["input"] for call in self.visibility_route.calls]


def policy_copy(target: Path, config_patch: Mapping[str, Any]) -> Path:
    """Copy policies/ to `target` with `config_patch` deep-merged into data.mcp.config."""
    shutil.copytree(POLICY_DIR, target, dirs_exist_ok=True)
    data = json.loads((POLICY_DIR / "data.json").read_text())
    data["mcp"]["config"] = deep_merge(data["mcp"]["config"], config_patch)
    (target / "data.json").write_text(json.dumps(data, indent=2))
    return target


def deep_merge(base: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(dict(base))
    for key, value in patch.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged
