"""`k8s-mcp-gateway`: the command line.

`serve` runs the gateway and `approvals` decides its approval requests; each setting of
`gateway.settings.Settings` is also a flag of both, generated from the model so names, defaults
and help never drift. A flag beats its `K8S_MCP_*` variable. `opa-token` creates the token that
locks OPA's API to the gateway, before either starts; `rbac` prints the gateway's RBAC; `policy`
replays an audit log against a candidate policy and explains one call's decision.
Logs go to stderr: on stdio, stdout is the protocol channel.
"""

from __future__ import annotations

import argparse
import logging
import sys
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import uvicorn
import uvloop
from pydantic import ValidationError
from pydantic.fields import FieldInfo

from gateway import __version__, policy_commands, rbac
from gateway.approvals import commands as approvals
from gateway.approvals.store import StoreOpenError
from gateway.auth import AuthConfigError
from gateway.catalog import Catalog
from gateway.kube import KubeConfigError
from gateway.logs import configure_logging
from gateway.opa_token import DATA_FILE, TOKEN_FILE, TokenError, write_token
from gateway.server import Gateway
from gateway.settings import Settings

log = logging.getLogger("gateway")


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _is_bool(info: FieldInfo) -> bool:
    return info.annotation is bool


def _choices(info: FieldInfo) -> tuple[Any, ...] | None:
    annotation = info.annotation
    if typing.get_origin(annotation) is typing.Literal:
        return typing.get_args(annotation)
    return None


def _default_text(info: FieldInfo) -> str:
    """The default as `--help` shows it; a computed one (the audit path) as it is computed here."""
    default = info.get_default(call_default_factory=True)
    if default is None:
        return "unset"
    if isinstance(default, list):
        return ",".join(str(item) for item in default) or "none"
    return str(default)


def _add_settings_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per setting; its help names the choices, the default and the variable."""
    for name, info in Settings.model_fields.items():
        env = f"K8S_MCP_{name.upper()}"
        help_text = f"{info.description} (default: {_default_text(info)}; env {env})".replace("%", "%%")
        choices = _choices(info)
        if _is_bool(info):
            parser.add_argument(_flag(name), dest=name, action=argparse.BooleanOptionalAction, help=help_text)
        else:
            metavar = "{" + ",".join(map(str, choices)) + "}" if choices else name.upper()
            parser.add_argument(_flag(name), dest=name, choices=choices, metavar=metavar, help=help_text)
    parser.set_defaults(**{name: None for name in Settings.model_fields})


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="k8s-mcp-gateway",
        description="An MCP server of Kubernetes SRE tools; every call is decided by OPA before it runs.",
    )
    root.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = root.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="Run the gateway over stdio or streamable HTTP.")
    _add_settings_flags(serve)
    demo = commands.add_parser("demo", help="Start a local cluster, OPA and the gateway, and show the rules at work.")
    demo.add_argument("--once", action="store_true", help="Exit after the scripted session.")
    approvals.add_commands(
        commands.add_parser("approvals", help=approvals.HELP, description=approvals.DESCRIPTION),
        settings_flags=_add_settings_flags,
    )
    rbac = commands.add_parser(
        "rbac", help="Print the least-privilege RBAC for the catalog and a policy data file (deploy/rbac.yaml)."
    )
    rbac.add_argument(
        "--policy-data",
        type=Path,
        default=Path("policies/data.json"),
        help="The policy data whose mcp.config namespaces and cluster_reads bound the grants.",
    )
    rbac.add_argument("--output", "-o", type=Path, help="Write the manifest to this file instead of stdout.")
    policy_commands.add_commands(
        commands.add_parser("policy", help=policy_commands.HELP, description=policy_commands.HELP)
    )
    token = commands.add_parser(
        "opa-token",
        help="Create the token that locks OPA's API to the gateway (kept if DIR already holds one).",
        description=f"Writes DIR/{TOKEN_FILE} (for K8S_MCP_OPA_TOKEN_FILE) and DIR/{DATA_FILE}, its sha256 as "
        "a data file for OPA's system.authz policy. Run it before OPA and the gateway start.",
    )
    token.add_argument("directory", type=Path, metavar="DIR", help="Directory shared by OPA and the gateway.")
    return root


def load_settings(flags: dict[str, Any]) -> Settings:
    """Settings from flags over environment; an invalid value names its flag and variable."""
    given = {name: value for name, value in flags.items() if name in Settings.model_fields and value is not None}
    try:
        return Settings(**given)
    except ValidationError as exc:
        lines = []
        for error in exc.errors(include_url=False):
            name = str(error["loc"][0]) if error["loc"] else "settings"
            message = str(error["msg"]).removeprefix("Value error, ")
            lines.append(f"invalid setting {_flag(name)} / K8S_MCP_{name.upper()}: {message}")
        raise SystemExit("\n".join(lines)) from None


async def _serve(settings: Settings) -> None:
    if settings.opa_token is None and settings.opa_token_file is None:
        log.warning(
            "no OPA token (K8S_MCP_OPA_TOKEN_FILE or K8S_MCP_OPA_TOKEN): an OPA with its API locked, "
            "as the project runs it, refuses every query and every call is denied"
        )
    try:
        gateway = Gateway.open(settings)
    except KubeConfigError as exc:
        raise SystemExit(f"{exc}\nPass --kubeconfig/--context, or try `make demo` for an embedded cluster.") from None
    except AuthConfigError as exc:
        raise SystemExit(f"invalid auth configuration: {exc}") from None
    except TokenError as exc:
        raise SystemExit(str(exc)) from None
    except OSError as exc:
        raise SystemExit(f"cannot open the audit file {settings.audit_path}: {exc}") from None
    except StoreOpenError as exc:
        raise SystemExit(str(exc)) from None
    log.info(
        "k8s-mcp-gateway %s: %s transport, cluster %s, OPA %s, audit %s",
        __version__,
        settings.transport,
        gateway.contexts.default.kube.cluster,
        settings.opa_url,
        settings.audit_path,
    )
    try:
        if settings.transport == "stdio":
            await gateway.server.run_async(transport="stdio", show_banner=False)
        else:
            config = uvicorn.Config(
                gateway.http_app(),
                host=settings.host,
                port=settings.port,
                log_level=settings.log_level.lower(),
                # uvicorn's loggers go through the gateway's handler (one format on stderr), and
                # calls are in the audit trail, so there is no per-request access log line.
                log_config=None,
                access_log=False,
                lifespan="on",
                ws="none",  # MCP's streamable HTTP has no WebSocket route
                timeout_graceful_shutdown=2,
            )
            await uvicorn.Server(config).serve()
    finally:
        await gateway.aclose()


def _rbac(policy_data: Path, output: Path | None) -> None:
    try:
        manifest = rbac.render(Catalog(), rbac.load_policy_scope(policy_data), source=policy_data.as_posix())
    except rbac.PolicyDataError as exc:
        raise SystemExit(str(exc)) from None
    if output is None:
        sys.stdout.write(manifest)
    else:
        output.write_text(manifest, encoding="utf-8")


def _demo(*, once: bool) -> None:
    """Run the demo from k8s_mcp_sandbox, which ships beside the gateway with the `demo` extra's
    dependencies; an installation without them (the container image) says what to install."""
    try:
        # Imported here: `serve`, which clients start often, needs none of the sandbox.
        from k8s_mcp_sandbox.demo import run_demo  # noqa: PLC0415
    except ModuleNotFoundError as exc:
        missing = (exc.name or "a module").partition(".")[0]
        raise SystemExit(
            f"the demo needs the package's demo extra ({missing} is not installed): "
            "pip install 'k8s-mcp-gateway[demo]', or run `make demo` in a checkout"
        ) from None
    run_demo(once=once)


def main(argv: Sequence[str] | None = None) -> None:
    args = parser().parse_args(argv)
    if args.command == "rbac":
        _rbac(args.policy_data, args.output)
        return
    if args.command == "policy":
        status = policy_commands.run(args)
        if status:
            raise SystemExit(status)
        return
    if args.command == "demo":
        configure_logging(level="WARNING")
        _demo(once=args.once)
        return
    if args.command == "opa-token":
        try:
            write_token(args.directory)
        except (OSError, TokenError) as exc:
            raise SystemExit(f"cannot write the OPA token into {args.directory}: {exc}") from None
        sys.stderr.write(f"OPA token ready: {args.directory / TOKEN_FILE}, {args.directory / DATA_FILE}\n")
        return
    settings = load_settings(vars(args))
    configure_logging(level=settings.log_level, log_format=settings.log_format)
    if args.command == "approvals":
        approvals.run(args, settings)
        return
    # uvloop: the same answers for about a tenth less CPU per call than asyncio's own loop.
    uvloop.run(_serve(settings))


if __name__ == "__main__":
    main()
