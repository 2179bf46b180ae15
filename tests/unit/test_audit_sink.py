"""The audit file fails closed: no call runs, read or write, unless its record can be written.

Each test opens its own gateway on a private audit path, then removes, rotates or breaks that
path while the gateway runs. The tests run as any user, root included, so an unwritable sink is
made from what even root cannot write to: a directory at the path, a missing directory, a full
disk (`/dev/full`).
"""

from __future__ import annotations

import asyncio
import os
import resource
import shutil
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.catalog import KUBE_METHOD, arguments_for
from tests.conftest import GatewayFactory
from tests.fakes.opa import OpaStub
from tests.gateways import read_audit, wait_until

REFUSED = "refused: the audit record could not be written, so the call did not run"
WITHHELD = "refused: the audit record could not be written, so the result is withheld"
CALLS = ["list_pods", "scale_deployment"]


def events(records: list[dict[str, Any]]) -> list[str]:
    return [record["event"] for record in records]


def call_events(tool: str) -> list[str]:
    """The records one allowed call leaves: a write announces itself first."""
    return ["write_intent", "tool_call"] if tool == "scale_deployment" else ["tool_call"]


async def test_the_trail_starts_with_a_durable_record(open_gateway: GatewayFactory, opa_stub: OpaStub) -> None:
    gateway = await open_gateway(opa_url=opa_stub.url)

    [opened] = read_audit(gateway.audit_path)

    assert (opened["event"], opened["reason"], opened["pid"]) == ("audit_open", "start", os.getpid())


def _rename(path: Path) -> None:
    path.rename(path.with_suffix(".1"))


def _rename_and_create(path: Path) -> None:
    path.rename(path.with_suffix(".1"))
    path.touch()


ROTATIONS: dict[str, tuple[Callable[[Path], None], str]] = {
    "removed": (Path.unlink, "no file at the audit path (removed or renamed)"),
    "renamed": (_rename, "no file at the audit path (removed or renamed)"),
    "renamed, new file created": (_rename_and_create, "another file at the audit path (rotated or replaced)"),
}


@pytest.mark.parametrize(("rotate", "reason"), ROTATIONS.values(), ids=ROTATIONS.keys())
@pytest.mark.parametrize("tool", CALLS)
async def test_the_next_record_goes_to_a_new_file_at_the_path(
    open_gateway: GatewayFactory,
    opa_stub: OpaStub,
    tmp_path: Path,
    tool: str,
    rotate: Callable[[Path], None],
    reason: str,
) -> None:
    path = tmp_path / "audit.jsonl"
    gateway = await open_gateway(opa_url=opa_stub.url, audit_path=path, mode="readwrite")
    await gateway.ok("list_pods")
    before = os.stat(path).st_ino

    rotate(path)
    await gateway.ok(tool, arguments_for(tool))

    assert os.stat(path).st_ino != before
    reopened, *records = read_audit(path)
    assert (reopened["event"], reopened["reason"]) == ("audit_open", reason)
    assert events(records) == call_events(tool)
    assert records[-1]["outcome"] == "ok"
    assert gateway.kube.methods == ["list_namespaced_pod", KUBE_METHOD[tool]]
    old = tmp_path / "audit.1"
    if old.exists():
        assert events(read_audit(old)) == ["audit_open", "tool_call"]


async def test_a_file_truncated_in_place_keeps_the_trail(open_gateway: GatewayFactory, opa_stub: OpaStub) -> None:
    """copytruncate rotation: the same file, emptied; appends land at its new end."""
    gateway = await open_gateway(opa_url=opa_stub.url)
    await gateway.ok("list_pods")

    os.truncate(gateway.audit_path, 0)
    await gateway.ok("list_pods")

    assert events(read_audit(gateway.audit_path)) == ["tool_call"]


def _directory_at_path(path: Path) -> None:
    path.unlink()
    path.mkdir()


def _directory_gone(path: Path) -> None:
    shutil.rmtree(path.parent)


def _full_disk_at_path(path: Path) -> None:
    path.unlink()
    path.symlink_to("/dev/full")


UNWRITABLE: dict[str, Callable[[Path], None]] = {
    "a directory at the path": _directory_at_path,
    "the directory removed": _directory_gone,
    "a full disk at the path": _full_disk_at_path,
}


@pytest.mark.parametrize("break_sink", UNWRITABLE.values(), ids=UNWRITABLE.keys())
@pytest.mark.parametrize("tool", CALLS)
async def test_an_unwritable_sink_refuses_reads_and_writes(
    open_gateway: GatewayFactory,
    opa_stub: OpaStub,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    tool: str,
    break_sink: Callable[[Path], None],
) -> None:
    path = tmp_path / "audit" / "audit.jsonl"
    gateway = await open_gateway(opa_url=opa_stub.url, audit_path=path, mode="readwrite")

    break_sink(path)
    message = await gateway.error(tool, arguments_for(tool))

    assert message == REFUSED
    assert gateway.kube.calls == []
    assert opa_stub.decision_route.call_count == 1
    # The record that could not be written is in the log, with its outcome.
    assert '"outcome":"audit_unavailable"' in caplog.text
    assert f'"tool":"{tool}"' in caplog.text


async def test_calls_run_again_once_the_sink_is_writable(
    open_gateway: GatewayFactory, opa_stub: OpaStub, tmp_path: Path
) -> None:
    path = tmp_path / "audit.jsonl"
    gateway = await open_gateway(opa_url=opa_stub.url, audit_path=path)
    _directory_at_path(path)
    assert await gateway.error("list_pods") == REFUSED

    path.rmdir()
    await gateway.ok("list_pods")

    reopened, call = read_audit(path)
    assert (reopened["event"], call["outcome"]) == ("audit_open", "ok")
    assert gateway.kube.methods == ["list_namespaced_pod"]


async def test_a_read_whose_record_cannot_be_written_afterwards_is_withheld(
    open_gateway: GatewayFactory, opa_stub: OpaStub, tmp_path: Path
) -> None:
    """The sink breaks while Kubernetes answers: the agent gets no data that has no record."""
    path = tmp_path / "audit.jsonl"
    gateway = await open_gateway(opa_url=opa_stub.url, audit_path=path)
    gateway.kube.before_call = lambda _name, _kwargs: _directory_at_path(path)

    result = await gateway.call("list_pods")

    assert result.is_error
    assert result.content[0].model_dump()["text"] == WITHHELD
    assert result.structured_content is None
    assert gateway.kube.methods == ["list_namespaced_pod"]


async def test_a_read_whose_record_fails_on_the_open_file_is_withheld_and_the_file_reopened(
    open_gateway: GatewayFactory, opa_stub: OpaStub, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The file at the path is still the open one but refuses the record (a file size limit, as a
    full filesystem would): the read's data is withheld, and the next call starts a new file."""
    path = tmp_path / "audit.jsonl"
    gateway = await open_gateway(opa_url=opa_stub.url, audit_path=path)
    limit = resource.getrlimit(resource.RLIMIT_FSIZE)
    ignored = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    gateway.kube.before_call = lambda _name, _kwargs: resource.setrlimit(
        resource.RLIMIT_FSIZE, (path.stat().st_size, limit[1])
    )
    try:
        result = await gateway.call("list_pods")
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, limit)
        signal.signal(signal.SIGXFSZ, ignored)

    assert result.is_error
    assert result.content[0].model_dump()["text"] == WITHHELD
    assert "audit record not written" in caplog.text
    gateway.kube.before_call = None
    await gateway.ok("list_pods")
    assert events(read_audit(path))[-2:] == ["audit_open", "tool_call"]


async def test_a_write_whose_final_record_cannot_be_written_still_reports_its_result(
    open_gateway: GatewayFactory, opa_stub: OpaStub, tmp_path: Path
) -> None:
    """The write ran and its fsynced write_intent holds the record: the agent must not retry blind."""
    path = tmp_path / "audit.jsonl"
    gateway = await open_gateway(opa_url=opa_stub.url, audit_path=path, mode="readwrite")
    gateway.kube.before_call = lambda _name, _kwargs: _rename_and_break(path)

    result = await gateway.ok("scale_deployment", arguments_for("scale_deployment"))

    assert result["replicas"] == 2
    assert events(read_audit(path.with_suffix(".1"))) == ["audit_open", "write_intent"]


def _rename_and_break(path: Path) -> None:
    path.rename(path.with_suffix(".1"))
    path.mkdir()


@pytest.mark.parametrize(("tool", "outcome"), [("scale_deployment", "sent"), ("list_pods", "cancelled")])
async def test_a_cancelled_call_leaves_a_final_record_of_what_happened(
    open_gateway: GatewayFactory, opa_stub: OpaStub, tool: str, outcome: str
) -> None:
    """Kubernetes has the request and has not answered when the client gives up on the call."""
    gateway = await open_gateway(opa_url=opa_stub.url, mode="readwrite")
    gateway.kube.hold = asyncio.Event()
    call = asyncio.create_task(gateway.call(tool, arguments_for(tool)))
    await wait_until(lambda: gateway.kube.calls)

    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call

    await wait_until(gateway.tool_calls)
    [record] = gateway.tool_calls()
    assert (record["tool"], record["outcome"], record["allow"]) == (tool, outcome, True)
    assert "error" not in record
