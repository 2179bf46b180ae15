"""`k8s-mcp-gateway demo`, the README's main job: it shows the three rules and leaves nothing behind."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.catalog import ALL_TOOLS, PV_TOOLS, SHIPPED_READS

pytestmark = pytest.mark.e2e

DEMO = [str(Path(sys.executable).with_name("k8s-mcp-gateway")), "demo"]
README = Path(__file__).parents[2] / "README.md"


def ports_in(output: str) -> list[int]:
    return [int(port) for port in re.findall(r"https?://127\.0\.0\.1:(\d+)", output)]


def assert_closed(ports: list[int]) -> None:
    assert ports
    for port in ports:
        with socket.socket() as sock:
            assert sock.connect_ex(("127.0.0.1", port)) != 0, f"port {port} still open"


def assert_the_printed_token_is_the_way_in(output: str) -> None:
    """The HTTP endpoint the demo prints refuses a caller without its token and admits one with it."""
    url = re.search(r"streamable HTTP: (\S+)", output)
    token = re.search(r"Authorization: Bearer (\S+)", output)
    assert url
    assert token
    initialize = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
    }
    headers = {"accept": "application/json, text/event-stream"}
    with httpx.Client() as http:
        refused = http.post(url[1], json=initialize, headers=headers)
        admitted = http.post(url[1], json=initialize, headers={**headers, "authorization": f"Bearer {token[1]}"})
    assert (refused.status_code, admitted.status_code) == (401, 200)


def assert_the_approvers_token_reads_the_approvals(output: str) -> None:
    """The approvals API the demo prints answers carol's token, and nobody's without one."""
    url = re.search(r"approvals API: +(\S+)", output)
    token = re.search(r"as carol +Authorization: Bearer (\S+)", output)
    assert url
    assert token
    with httpx.Client() as http:
        refused = http.get(url[1])
        listed = http.get(url[1], params={"all": "1"}, headers={"authorization": f"Bearer {token[1]}"})
    assert (refused.status_code, listed.status_code) == (401, 200)
    assert [approval["state"] for approval in listed.json()["approvals"]] == ["used"]


def test_the_scripted_session_shows_the_three_rules() -> None:
    done = subprocess.run([*DEMO, "--once"], capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "✔ allowed: api-6c8b9d7f4-h2v5n Running" in out
    assert 'namespace "prod" is not in the allowlist' in out
    assert "namespace: must be a DNS-1123 label" in out
    assert 'writes are disabled: the policy mode is "readonly"' in out
    # OPA reloaded the edited data file: every tool but the volume reads the shipped data leaves out
    assert f"tools/list now shows {len(ALL_TOOLS) - len(PV_TOOLS)} tools" in out
    assert out.count("OPA decision ") == 7  # eight calls; the invalid one never reaches OPA
    assert "no policy query: refused before OPA" in out
    approval_id = assert_the_approval_flow_is_shown(out)
    assert_the_readme_says_what_it_shows(out, approval_id)
    assert_closed(ports_in(out))


def assert_the_readme_says_what_it_shows(out: str, approval_id: str) -> None:
    """Every quoted outcome in the README's "What the demo shows" table is in the demo's output."""
    readme = README.read_text(encoding="utf-8")
    table = readme[readme.index("| call | what happens |") :].split("\n\n")[0]
    quoted = [
        quote.replace("ID", approval_id)
        for row in table.splitlines()[2:]
        for quote in re.findall(r"`([^`]+)`", row.split(" | ")[1])
    ]
    assert len(quoted) >= 12  # the table was found and read
    assert [quote for quote in quoted if quote not in out] == []


def assert_the_approval_flow_is_shown(out: str) -> str:
    """Pending (never shown as allowed), approved over HTTP by another person, run once, replay refused,
    undone; returns the approval's id."""
    pending = out[out.index("the same write now needs a human approval") : out.index("A second person approves it")]
    assert "✔" not in pending
    assert "⏸ pending approval, not run: approval required: 1 approval from group:sre" in pending
    found = re.search(r"status       pending_approval, approval_id (\S+), expires ", pending)
    assert found
    approval_id = found[1]
    assert "approvers    group:sre (1 needed), not the requester" in pending
    assert "preview      spec.replicas: 3 → 5" in pending
    assert (
        f"next step    Ask group:sre to approve request {approval_id} (`POST /approvals/{approval_id}/approve`"
        in pending
    )
    approving = out[out.index("A second person approves it") : out.index("The agent's retry")]
    assert "carol (group sre) through the gateway's approvals API, with her own bearer token" in approving
    assert approving.splitlines()[1:5] == [
        f'  → POST /approvals/{approval_id}/approve as demo-agent (the requester)  {{"reason": "staging load test"}}',
        f"  ✘ 403 forbidden: cannot approve {approval_id}: the requester cannot approve their own request",
        f'  → POST /approvals/{approval_id}/approve as carol  {{"reason": "staging load test"}}',
        f"  ✔ 200: carol approved {approval_id}: it is approved (1 of 1 approvals)",
    ]
    retried = out[out.index("The agent's retry with approval_id runs the write, once") :]
    assert retried.index("✔ allowed: staging/web scaled to 5 replicas") < retried.index("A replay")
    assert "staging/web now has 5 replicas (read as the cluster admin)" in retried
    replay = retried[retried.index("A replay of the same approval is refused") :]
    assert f"✘ denied: refused: approval {approval_id} does not allow this call" in replay
    assert "the approval was already used: an approval runs one call, once" in replay
    assert "staging/web has 3 replicas again (scaled as the cluster admin)" in replay
    assert f'the policy data says "mode": "readonly" (tools/list shows {len(SHIPPED_READS)} tools)' in replay
    return approval_id


def test_it_keeps_the_stack_up_until_ctrl_c_and_then_stops_it() -> None:
    demo = subprocess.Popen(DEMO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    try:
        assert demo.stdout is not None
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            line = demo.stdout.readline()
            lines.append(line)
            if "Press Ctrl-C" in line or not line:
                break
        output = "".join(lines)
        assert "streamable HTTP: http://127.0.0.1:" in output
        assert '"mcpServers"' in output
        assert_the_printed_token_is_the_way_in(output)
        assert_the_approvers_token_reads_the_approvals(output)
        demo.send_signal(signal.SIGINT)
        rest, _ = demo.communicate(timeout=60)
    finally:
        if demo.poll() is None:
            demo.kill()
    assert demo.returncode == 0
    assert "Stopped: the gateway, OPA and the cluster are down." in rest
    assert_closed(ports_in(output))


def test_ctrl_c_during_the_script_stops_the_stack_too() -> None:
    """A Ctrl-C the moment the stack is up: the same teardown, not a word on stderr, nothing left listening."""
    demo = subprocess.Popen(DEMO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert demo.stdout is not None
        started = demo.stdout.readline()  # the first line: the stack is up, the script starts
        assert started.startswith("Stack up in "), started
        demo.send_signal(signal.SIGINT)
        rest, errors = demo.communicate(timeout=60)
    finally:
        if demo.poll() is None:
            demo.kill()
    assert demo.returncode == 0, errors
    assert errors == ""  # no traceback, no warning of a loop or a script left half made
    assert "Press Ctrl-C" not in rest
    assert "Stopped: the gateway, OPA and the cluster are down." in rest
    assert_closed(ports_in(started))
