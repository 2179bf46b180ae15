"""Assembly: the FastMCP server with the catalog's tools behind the guard.

`Gateway.open` builds every long-lived part once (the OPA connection pool, the audit file, the
approval store, the Kubernetes client and its thread pool) and `aclose` releases them; nothing
is built per call.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Mapping
from dataclasses import dataclass
from typing import cast

from fastmcp import FastMCP
from fastmcp.server.auth import TokenVerifier
from fastmcp.tools.function_tool import FunctionTool
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse

from gateway import __version__
from gateway.approvals.flow import ApprovalFlow
from gateway.approvals.http import ApprovalsApi
from gateway.approvals.service import ApprovalService
from gateway.approvals.store import SqliteApprovalStore
from gateway.audit import AuditLog
from gateway.auth import build_verifier
from gateway.catalog import Catalog, Entry
from gateway.contexts import Context, Contexts, RoutedTool
from gateway.guard import GatewayState, Guard, recorded
from gateway.guidance import decided
from gateway.http_app import build_http_app
from gateway.identity import StdioIdentity
from gateway.kube import Kube, load_api_client
from gateway.opa_token import read_token_file
from gateway.policy import PolicyClient
from gateway.preview import PreviewFunction, preview
from gateway.readiness import Readiness, probe_input
from gateway.settings import Settings

INSTRUCTIONS = (
    "Kubernetes SRE tools. Every call is checked against the security team's policy before it "
    "reaches the cluster: reads are limited to allowed namespaces, writes are off unless the policy "
    "enables them and may need a human approval: such a write returns a pending approval request that "
    "says who approves it and what to call next. A denied call says why; do not retry it unchanged."
)


def register_tools(
    server: FastMCP, *, catalog: Catalog, contexts: Contexts, approvals: ApprovalFlow | None = None
) -> None:
    """Register each catalog tool on `server`, bound to the contexts' `Kube`s (or to the approval service).

    With `approvals`, every write also accepts its `approval_id` and `wait_seconds`, which the
    guard takes off before the tool runs, and may answer with a pending approval request instead
    of running; without it, the approval tools are left out, as are the generic reads without the
    catalog's discovery. Each tool's `outputSchema` is its
    catalog entry's (`Entry.output_schema`). With more than one context, each Kubernetes tool also
    takes `context` and runs against the chosen context's `Kube` (`RoutedTool`).
    """
    for entry in catalog:
        if entry.uses == "discovery" and catalog.discovery is None:
            continue
        if entry.uses == "approvals" and approvals is None:
            continue
        dependency = contexts if entry.uses == "contexts" else _dependency(entry, contexts.default, approvals)
        tool = cast(RoutedTool, _tool(RoutedTool, entry, dependency, approvals))
        if entry.per_context and contexts.multiple:
            if entry.uses != "decided":
                tool.routes = {
                    context.name: _tool(FunctionTool, entry, _dependency(entry, context, approvals), approvals)
                    for context in contexts
                }
            tool.parameters["properties"].update(contexts.schema)
        if entry.action.write and approvals is not None:
            tool.parameters["properties"].update(approvals.carried_schema)
        server.add_tool(tool)


def _dependency(entry: Entry, context: Context, approvals: ApprovalFlow | None) -> object:
    """What `entry`'s handler is bound to: the context's `Kube` or discovery, the call's decision, or the approvals."""
    if entry.uses == "discovery":
        return context.discovery
    if entry.uses == "decided":
        return decided
    if entry.uses == "approvals" and approvals is not None:
        return approvals.service
    return context.kube


def _tool(kind: type[FunctionTool], entry: Entry, dependency: object, approvals: ApprovalFlow | None) -> FunctionTool:
    """`entry`'s tool, its handler bound to `dependency`; `kind` is `RoutedTool` for the one registered."""
    return kind.from_function(
        functools.partial(entry.handler, dependency),
        name=entry.name,
        description=inspect.getdoc(entry.handler),
        annotations=entry.annotations(),
        output_schema=entry.output_schema(approvals=approvals is not None),
    )


def build_server(
    *, catalog: Catalog, guard: Guard, readiness: Readiness, verifier: TokenVerifier | None = None
) -> FastMCP:
    """The catalog's tools with the guard in front of all of them, and on HTTP, checked by `verifier`,
    the probes' routes and, when the guard has approvals, the approvals API."""
    server = FastMCP(
        name="k8s-mcp-gateway",
        version=__version__,
        instructions=INSTRUCTIONS,
        middleware=[guard],
        mask_error_details=True,
        auth=verifier,
    )
    register_tools(server, catalog=catalog, contexts=guard.contexts, approvals=guard.approvals)

    @server.custom_route("/healthz", methods=["GET"])
    async def healthz(_: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    @server.custom_route("/readyz", methods=["GET"])
    async def readyz(_: Request) -> JSONResponse:
        report = await readiness.check()
        return JSONResponse(report.body(), status_code=200 if report.ready else 503)

    if guard.approvals is not None:
        ApprovalsApi(service=guard.approvals.service, verifier=verifier, audit=guard.audit).register(server)
    return server


def opa_token(settings: Settings) -> str | None:
    """The bearer token for OPA's API, from the variable or (read now, once) from the file."""
    if settings.opa_token is not None:
        return settings.opa_token.get_secret_value()
    if settings.opa_token_file is not None:
        return read_token_file(settings.opa_token_file)
    return None


@dataclass(kw_only=True)
class Gateway:
    """The running parts of one gateway process.

    `verifier` checks bearer tokens on HTTP (None with `K8S_MCP_AUTH=none`); routes added
    beside the MCP endpoint pass it to `gateway.identity.authenticate_request`.
    """

    settings: Settings
    server: FastMCP
    verifier: TokenVerifier | None
    policy: PolicyClient
    audit: AuditLog
    contexts: Contexts
    approvals: SqliteApprovalStore

    @classmethod
    def open(cls, settings: Settings, *, kube: Kube | Mapping[str, Kube] | None = None) -> Gateway:
        """Build every part; a bad token file or key raises `gateway.auth.AuthConfigError`.

        `kube` stands in for the configured contexts: one `Kube`, or one per context name in order.
        """
        verifier = build_verifier(settings)
        token = opa_token(settings)
        # First: a gateway whose audit trail cannot be written does not start (the probe raises OSError).
        audit = AuditLog(path=settings.audit_path, max_value_bytes=settings.audit_max_value_bytes)
        if kube is None:
            kube = {built.cluster: built for built in map(functools.partial(_kube, settings), configured(settings))}
        contexts = Contexts({kube.cluster: kube} if isinstance(kube, Kube) else kube)
        default = contexts.default.kube
        policy = PolicyClient(
            base_url=str(settings.opa_url),
            decision_path=settings.opa_decision_path,
            visibility_path=settings.opa_visibility_path,
            timeout=settings.opa_timeout,
            token=token,
        )
        store = SqliteApprovalStore(path=settings.approvals_file)
        catalog = Catalog(discovery=contexts.default.discovery)
        flow = ApprovalFlow(
            service=ApprovalService(store=store, audit=audit),
            decide=recorded(policy.decide),
            preview=lambda tool, arguments: preview(contexts.chosen().kube, _preview_of(catalog, tool), arguments),
            max_wait=settings.approvals_max_wait,
            confirm_timeout=settings.approvals_confirm_timeout,
        )
        guard = Guard(
            catalog=catalog,
            policy=policy,
            audit=audit,
            gateway=GatewayState(
                mode=settings.mode,
                dry_run=settings.dry_run,
                cluster=default.cluster,
                clusters=contexts.names,
                namespaces=tuple(settings.namespaces) if settings.namespaces is not None else None,
                transport=settings.transport,
                max_log_lines=settings.max_log_lines,
            ),
            stdio_identity=StdioIdentity.configured(sub=settings.principal, groups=settings.principal_groups),
            approvals=flow,
            contexts=contexts,
        )
        readiness = Readiness(
            policy=policy, contexts=contexts, probe=probe_input(catalog=catalog, gateway=guard.gateway)
        )
        return cls(
            settings=settings,
            server=build_server(catalog=catalog, guard=guard, readiness=readiness, verifier=verifier),
            verifier=verifier,
            policy=policy,
            audit=audit,
            contexts=contexts,
            approvals=store,
        )

    def http_app(self) -> Starlette:
        """The ASGI app of the HTTP transport (see `gateway.http_app`)."""
        return build_http_app(self.server, settings=self.settings, verifier=self.verifier, audit=self.audit)

    async def aclose(self) -> None:
        await self.policy.aclose()
        await self.approvals.aclose()
        self.audit.close()
        for context in self.contexts:
            context.kube.close()


def configured(settings: Settings) -> list[str | None]:
    """The contexts to build a client for: `contexts`, or the one `context` (None: the current one)."""
    return list(settings.contexts) or [settings.context]


def _kube(settings: Settings, context: str | None) -> Kube:
    """The client of one kubeconfig context (None: the current one, or in-cluster), built once at start."""
    api_client, cluster = load_api_client(
        kubeconfig=str(settings.kubeconfig) if settings.kubeconfig else None, context=context
    )
    return Kube(api_client=api_client, cluster=cluster, timeout=settings.kube_timeout, workers=settings.kube_workers)


def _preview_of(catalog: Catalog, tool: str) -> PreviewFunction | None:
    entry = catalog.get(tool)
    return entry.preview if entry is not None else None
