"""`k8s-mcp-gateway`: the command line.

`serve` runs the gateway and `approvals` decides its approval requests; each setting of
`gateway.settings.Settings` is also a flag of both, generated from the model so names, defaults
and help never drift. A flag beats its `K8S_MCP_*` variable.
Logs go to stderr: on stdio, stdout is the protocol channel.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import typing
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError
from pydantic.fields import FieldInfo

from gateway import __version__
from gateway.approvals import commands as approvals
from gateway.approvals.store import StoreOpenError
from gateway.kube import KubeConfigError
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


def _add_settings_flags(parser: argparse.ArgumentParser) -> None:
    for name, info in Settings.model_fields.items():
        env = f"K8S_MCP_{name.upper()}"
        help_text = f"{info.description} [env {env}]"
        if _is_bool(info):
            parser.add_argument(_flag(name), dest=name, action=argparse.BooleanOptionalAction, help=help_text)
        else:
            parser.add_argument(_flag(name), dest=name, choices=_choices(info), metavar=name.upper(), help=help_text)
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
            lines.append(f"invalid setting {_flag(name)} / K8S_MCP_{name.upper()}: {error['msg']}")
        raise SystemExit("\n".join(lines)) from None


def _configure_logging(level: str) -> None:
    logging.basicConfig(stream=sys.stderr, level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


async def _serve(settings: Settings) -> None:
    try:
        gateway = Gateway.open(settings)
    except KubeConfigError as exc:
        raise SystemExit(f"{exc}\nPass --kubeconfig/--context, or try `make demo` for an embedded cluster.") from None
    except OSError as exc:
        raise SystemExit(f"cannot open the audit file {settings.audit_path}: {exc}") from None
    except StoreOpenError as exc:
        raise SystemExit(str(exc)) from None
    log.info(
        "k8s-mcp-gateway %s: %s transport, cluster %s, OPA %s, audit %s",
        __version__,
        settings.transport,
        gateway.kube.cluster,
        settings.opa_url,
        settings.audit_path,
    )
    try:
        if settings.transport == "stdio":
            await gateway.server.run_async(transport="stdio", show_banner=False)
        else:
            await gateway.server.run_async(
                transport="http", show_banner=False, host=settings.host, port=settings.port, path=settings.http_path
            )
    finally:
        await gateway.aclose()


def main(argv: Sequence[str] | None = None) -> None:
    args = parser().parse_args(argv)
    if args.command == "demo":
        # Imported here: the demo's sandbox is not needed by `serve`, which clients start often.
        from gateway.demo import run_demo  # noqa: PLC0415

        _configure_logging("WARNING")
        run_demo(once=args.once)
        return
    settings = load_settings(vars(args))
    _configure_logging(settings.log_level)
    if args.command == "approvals":
        approvals.run(args, settings)
        return
    asyncio.run(_serve(settings))


if __name__ == "__main__":
    main()
