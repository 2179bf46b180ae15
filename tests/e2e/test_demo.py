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

from tests.support import ALL_TOOLS, PV_TOOLS

pytestmark = pytest.mark.e2e

DEMO = [str(Path(sys.executable).with_name("k8s-mcp-gateway")), "demo"]


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
    assert "approval required: 1 approval from group:sre" in out
    assert "staging/web still has 3 replicas" in out
    assert out.count("OPA decision ") == 5  # six calls; the invalid one never reaches OPA
    assert "no policy query: refused before OPA" in out
    assert_closed(ports_in(out))


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
        demo.send_signal(signal.SIGINT)
        rest, _ = demo.communicate(timeout=60)
    finally:
        if demo.poll() is None:
            demo.kill()
    assert demo.returncode == 0
    assert "Stopping." in rest
    assert_closed(ports_in(output))
