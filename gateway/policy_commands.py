"""`k8s-mcp-gateway policy replay|explain`: the security team's questions, answered by the real OPA.

`replay` re-decides the calls an audit log recorded with a candidate policy directory and reports
what would change; it exits 1 when any call would flip from deny to allow, so it can gate a pull
request. `explain` shows the input document of one call and the decision. Both exit 2 on a usage
or input error, with a one-line message (naming the audit line) and no stack trace.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gateway.errors import InvalidArguments, UnknownTool
from gateway.explain import explain
from gateway.guard import GatewayState
from gateway.identity import Principal, StdioIdentity
from gateway.opa_eval import OpaEvalError
from gateway.replay import ReplayError, parse_since, replay
from gateway.settings import Settings

HELP = "Replay an audit log against a candidate policy, or explain one call's decision (real opa eval)."
DEFAULT_POLICIES = Path("policies")
USAGE_ERROR = 2


def _default(name: str) -> Any:
    """A default of `Settings`, which holds each one exactly once."""
    return Settings.model_fields[name].default


def add_commands(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True)
    replayed = actions.add_parser(
        "replay",
        help="What a candidate policy would decide on the calls an audit log recorded.",
        description="Re-evaluates the input of every decided tool_call record with `opa eval` over --policies, "
        "each at the time it was recorded, and prints the calls whose decision would change. "
        "Exit status: 1 when a call would flip from deny to allow, 0 otherwise, 2 on an error.",
    )
    replayed.add_argument("--audit", type=Path, required=True, metavar="FILE", help="The gateway's audit file.")
    replayed.add_argument(
        "--since", metavar="RFC3339|DURATION", help="Only calls recorded since then: 2026-11-24T21:30:00Z, or 24h, 7d."
    )
    explained = actions.add_parser(
        "explain",
        help="The input document the gateway would send for one call, and the policy's decision.",
        description="Builds the input document as the gateway does (validation, catalog action, digest) for the "
        "caller and gateway state given here, and decides it with `opa eval` over --policies.",
    )
    for command in (replayed, explained):
        command.add_argument(
            "--policies",
            type=Path,
            nargs="+",
            action="extend",
            metavar="DIR",
            help=f"Policy and data files or directories, as OPA loads them (default: {DEFAULT_POLICIES}/).",
        )
        command.add_argument(
            "--decision-path",
            default=_default("opa_decision_path"),
            help="Data API path of the decision rule (as K8S_MCP_OPA_DECISION_PATH).",
        )
        command.add_argument("--format", choices=("text", "json"), default="text", help="Text, or JSON for CI.")
    explained.add_argument("--tool", required=True, help="The tool called, e.g. list_pods.")
    explained.add_argument("--args", default="{}", metavar="JSON", help="Its arguments as a JSON object.")
    explained.add_argument("--principal", help="Who calls (default: the OS user, as the stdio principal).")
    explained.add_argument("--groups", default="", help="The caller's groups, comma-separated.")
    explained.add_argument(
        "--transport", choices=("stdio", "http"), default=_default("transport"), help="How the caller is connected."
    )
    explained.add_argument(
        "--authenticated", action="store_true", help="The caller's identity is verified (an HTTP token)."
    )
    explained.add_argument(
        "--mode", choices=("readonly", "readwrite"), default=_default("mode"), help="The gateway's K8S_MCP_MODE."
    )
    explained.add_argument("--dry-run", action="store_true", help="The gateway's K8S_MCP_DRY_RUN.")
    explained.add_argument("--namespaces", help="The gateway's K8S_MCP_NAMESPACES (comma-separated).")
    explained.add_argument(
        "--cluster", default="local", help="The cluster the gateway reports (its kube context); part of the digest."
    )
    explained.add_argument("--explain", choices=("notes", "full"), help="Also print OPA's trace (opa eval --explain).")


def run(args: argparse.Namespace) -> int:
    """Run one policy command; return its exit status."""
    try:
        if args.action == "replay":
            return _replay(args)
        return _explain(args)
    except (ReplayError, OpaEvalError, InvalidArguments, UnknownTool) as exc:
        sys.stderr.write(f"policy {args.action}: {exc}\n")
        return USAGE_ERROR


def _replay(args: argparse.Namespace) -> int:
    since = parse_since(args.since, now=datetime.now(UTC)) if args.since else None
    report = replay(
        audit=args.audit, policies=args.policies or [DEFAULT_POLICIES], since=since, decision_path=args.decision_path
    )
    _print(report.document() if args.format == "json" else report.text())
    return report.exit_code


def _explain(args: argparse.Namespace) -> int:
    try:
        arguments = json.loads(args.args)
    except ValueError as exc:
        raise InvalidArguments([f"--args: not JSON ({exc})"]) from None
    if not isinstance(arguments, dict):
        raise InvalidArguments(["--args: must be a JSON object of the tool's arguments"])
    local = StdioIdentity.configured(sub=args.principal, groups=_split(args.groups))
    principal = Principal(sub=local.sub, groups=local.groups, authenticated=args.authenticated)
    gateway = GatewayState(
        mode=args.mode,
        dry_run=args.dry_run,
        cluster=args.cluster,
        namespaces=tuple(_split(args.namespaces)) if args.namespaces is not None else None,
        transport=args.transport,
        max_log_lines=_default("max_log_lines"),
    )
    explained = explain(
        tool=args.tool,
        arguments=arguments,
        principal=principal,
        gateway=gateway,
        paths=args.policies or [DEFAULT_POLICIES],
        decision_path=args.decision_path,
        explain_mode=args.explain,
    )
    _print(explained.json() if args.format == "json" else explained.text())
    return 0


def _split(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def _print(output: dict[str, Any] | str) -> None:
    text = output if isinstance(output, str) else json.dumps(output, indent=2, ensure_ascii=False)
    sys.stdout.write(text + "\n")
