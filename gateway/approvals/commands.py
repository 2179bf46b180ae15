"""`k8s-mcp-gateway approvals list|show|approve|deny`: deciding approval requests from a shell.

For operators who can already read the approval store and write the audit file: the approver is
the configured local principal (`K8S_MCP_PRINCIPAL`/`--principal`, default the OS user, with
`K8S_MCP_PRINCIPAL_GROUPS`/`--principal-groups`), as trusted as the stdio gateway's principal.
Each command is one `ApprovalService` call, the same an HTTP route will make for a verified caller.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable

from gateway.approvals.model import OPEN_STATES, Approval, Approver
from gateway.approvals.service import ApprovalService, Verdict
from gateway.approvals.store import SqliteApprovalStore, StoreOpenError
from gateway.audit import AuditLog
from gateway.errors import GatewayError
from gateway.identity import StdioIdentity
from gateway.settings import Settings

HELP = "List, show, approve or deny approval requests (as the configured local principal)."
DESCRIPTION = (
    HELP + " For operators who can already read the approval store: the approver is --principal "
    "(K8S_MCP_PRINCIPAL, default the OS user) with --principal-groups."
)


def add_commands(parser: argparse.ArgumentParser, *, settings_flags: Callable[[argparse.ArgumentParser], None]) -> None:
    actions = parser.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="Open requests (pending or approved), newest first.")
    listing.add_argument("--all", action="store_true", help="Every request, whatever its state.")
    show = actions.add_parser("show", help="One request in full, with the change it previews.")
    show.add_argument("approval_id")
    approve = actions.add_parser("approve", help="Approve a pending request.")
    deny = actions.add_parser("deny", help="Deny a pending request (or withdraw your own).")
    for decide in (approve, deny):
        decide.add_argument("approval_id")
        decide.add_argument("--reason", help="Why; kept in the request and the audit trail.")
    for command in (listing, show, approve, deny):
        settings_flags(command)


def run(args: argparse.Namespace, settings: Settings) -> None:
    """Run one approvals command; a refusal exits with status 1 and a one-line reason.

    Its answer is the command's output, on stdout like `rbac`'s: this is the operator's command
    line, never the MCP stdio channel.
    """
    try:
        sys.stdout.write(asyncio.run(_run(args, settings)) + "\n")
    except (GatewayError, StoreOpenError) as exc:
        raise SystemExit(f"error: {exc}") from None


async def _run(args: argparse.Namespace, settings: Settings) -> str:
    store = SqliteApprovalStore(path=settings.approvals_file)
    audit = AuditLog(path=settings.audit_path, max_value_bytes=settings.audit_max_value_bytes)
    try:
        service = ApprovalService(store=store, audit=audit)
        if args.action == "list":
            return _table(await service.list(states=() if args.all else OPEN_STATES))
        if args.action == "show":
            return json.dumps((await service.get(args.approval_id)).view(), indent=2, ensure_ascii=False)
        local = StdioIdentity.configured(sub=settings.principal, groups=settings.principal_groups)
        approver = Approver(sub=local.sub, groups=local.groups)
        verdict: Verdict = args.action
        decided = await service.decide(args.approval_id, approver, verdict, args.reason)
        done = {"approve": "approved", "deny": "denied"}[verdict]
        return f"{approver.sub} {done} {decided.id}: it is {decided.state} ({decided.tally})"
    finally:
        await store.aclose()
        audit.close()


def _table(approvals: list[Approval]) -> str:
    if not approvals:
        return "no approval requests"
    lines = []
    for approval in approvals:
        view = approval.view()
        arguments = ", ".join(f"{name}={value!r}" for name, value in approval.arguments.items())
        lines.append(
            f"{approval.id}  {approval.state:<8}  {approval.tool}({arguments}) on {approval.cluster}"
            f"  requested by {approval.requested_by}, {approval.tally}, expires {view['expires_at']}"
        )
    return "\n".join(lines)
