"""`make bench`, the instrument itself: a smoke run writes every figure the README reports, and the
peer it installs is refused unless it is the pinned one. Nothing here asserts a timing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

REPO = Path(__file__).parents[2]
BENCH = [sys.executable, "-m", "bench.bench"]
PEER_SH = REPO / "bench" / "peer.sh"
SERVERS = ("ours-stdio", "ours-http")
MEASURES = [
    "`list_pods` p50, stdio",
    "`list_pods` p99, stdio",
    "CPU per call, stdio (ours: server + OPA)",
    "`list_pods` p50, HTTP",
    "`list_pods` p99, HTTP",
    "CPU per call, HTTP (ours: server + OPA)",
    "guard overhead above bare OPA, p50",
    "guard overhead above bare OPA, p99",
    "burst of concurrent calls, stdio (wall p50)",
    "burst of concurrent calls, HTTP (wall p50)",
    "spawn → first `tools/list`, stdio (p50)",
    "spawn → first `tools/list`, HTTP (p50)",
    "idle RSS, HTTP, ours + OPA",
    "idle RSS, HTTP, ours alone",
]


def bench(*args: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("K8S_MCP_")}
    return subprocess.run([*BENCH, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=600, check=False)


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One smoke run of the benchmark, ours and the bare OPA path only (the peer needs the network)."""
    out = tmp_path_factory.mktemp("bench")
    run = bench("--quick", "--no-peer", "--no-chart", "--out", str(out))
    assert run.returncode == 0, run.stderr[-3000:]
    return out


def test_success_smoke_run_writes_every_reported_figure(smoke: Path) -> None:
    results = json.loads((smoke / "results.json").read_text())
    assert results["schema"] == 1
    assert results["plan"] == {"rounds": 2, "warmup": 1, "calls": 5, "burst": 5, "cold_starts": 1, "peer": False}
    # Warm-up discarded: 2 measured rounds of 5 calls for each latency target.
    assert {label: stats["n"] for label, stats in results["latency_ms"].items()} == dict.fromkeys(
        [*SERVERS, "guard-on", "guard-off", "opa"], 10
    )
    assert {label: len(values) for label, values in results["samples_ms"].items()} == dict.fromkeys(
        results["latency_ms"], 10
    )
    assert set(results["cpu_ms_per_call"]) == set(SERVERS)
    assert {label: stats["n"] for label, stats in results["burst_ms"].items()} == dict.fromkeys(SERVERS, 2)
    assert {label: stats["n"] for label, stats in results["cold_start_s"].items()} == dict.fromkeys(SERVERS, 1)
    assert set(results["burst_errors"]) == set(SERVERS)
    for errors in results["burst_errors"].values():
        assert 0 <= errors["count"] <= 10
        assert (errors["first"] is None) is (errors["count"] == 0)
    for label in SERVERS:
        rss = results["idle_rss_mib"][label]
        assert 0 < rss["server"] < rss["with_sidecars"]  # ours alone, then with its OPA
        assert 0 < results["latency_ms"][label]["p50"] <= results["latency_ms"][label]["p99"]
        assert results["cold_start_s"][label]["p50"] > 0
    assert results["guard_overhead_ms"]["n"] == 10  # one figure per call: guarded - unguarded - OPA
    assert results["machine"]["peer"] is None
    assert results["machine"]["opa"][0].isdigit()


def test_success_rows_judge_our_figures_and_leave_ratios_without_a_peer_open(smoke: Path) -> None:
    rows = json.loads((smoke / "results.json").read_text())["rows"]
    assert [row["measure"] for row in rows] == MEASURES
    for row in rows:
        assert set(row) == {"measure", "unit", "ours", "peer", "ratio", "target", "judged", "bound", "met"}
        assert isinstance(row["ours"], float | int)
        assert row["peer"] is None
        assert row["ratio"] is None
        if row["judged"] == "ratio":
            assert row["target"] == f"≤ {row['bound']:g}x peer"
            assert row["met"] is None
        else:
            assert row["target"] == f"≤ {row['bound']:g} {row['unit']}"
            assert row["met"] is (row["ours"] <= row["bound"])


def test_success_markdown_is_the_table_of_the_rows(smoke: Path) -> None:
    results = json.loads((smoke / "results.json").read_text())
    text = (smoke / "results.md").read_text()
    table = [line for line in text.splitlines() if line.startswith("|")]
    assert table[0] == "| Measurement | Ours | Peer | Ours ÷ peer | Target | Met |"
    assert [line.split(" | ")[0].removeprefix("| ") for line in table[2:]] == MEASURES
    for line, row in zip(table[2:], results["rows"], strict=True):
        cells = line.strip("| ").split(" | ")
        assert cells[1] == f"{row['ours']:g} {row['unit']}"
        assert cells[2:4] == ["—", "—"]
        assert cells[5] == {True: "met", False: "**not met**", None: "—"}[row["met"]]
    assert sum(line.startswith("Burst calls answered with an error: ") for line in text.splitlines()) == 1
    assert not (smoke / "results.png").exists()


def test_success_profile_writes_where_a_guarded_call_and_a_start_spend_their_time(tmp_path: Path) -> None:
    run = bench("--profile", "--calls", "20", "--out", str(tmp_path))
    assert run.returncode == 0, run.stderr[-3000:]
    text = (tmp_path / "profile.md").read_text()
    assert run.stdout == text
    headings = [line for line in text.splitlines() if line.startswith("## ")]
    assert headings == [
        "## CPU per call in the benchmark's process",
        "## The OPA round trip, p50",
        "## A guarded call's cProfile",
        "## Import time of a stdio start, top 15 packages by their modules' own time",
        "## Resident memory of the imports, layer by layer",
    ]
    assert "(20 calls per figure" in text
    # OPA answered with its own timings, and the profile went through the guard to the OPA client.
    handler = next(line for line in text.splitlines() if line.startswith("| OPA's own handler"))
    assert float(handler.split(" | ")[-1].rstrip(" |")) > 0
    assert "`gateway/guard.py:" in text
    assert "`gateway/policy.py:" in text
    imports = text.split("## Import time")[1].split("## Resident memory")[0]
    assert len([line for line in imports.splitlines() if line.startswith("| `")]) == 15
    assert "| `gateway` |" in imports
    # Every layer was imported and weighed: the SDK's and the gateway's rows each add memory.
    resident = text.split("## Resident memory")[1]
    rows = {line.split(" | ")[0].removeprefix("| "): line for line in resident.splitlines() if line.startswith("| ")}
    assert list(rows)[1:] == [
        "the interpreter",
        "`mcp_types` (the protocol's models)",
        "`fastmcp`",
        "`mcp` (the SDK: its package imports client and server)",
        "`kubernetes` (its package imports every submodule)",
        "the gateway (`gateway.cli`) and what it alone brings",
    ]
    for label in ("`mcp_types` (the protocol's models)", "the gateway (`gateway.cli`) and what it alone brings"):
        assert float(rows[label].split(" | ")[1]) > 0, rows[label]
    assert "MiB resident before the gateway builds anything." in resident
    assert not (tmp_path / "results.json").exists()


def test_fail_bad_plan_is_refused_naming_the_options() -> None:
    run = bench("--calls", "1", "--no-peer")
    assert run.returncode != 0
    assert "--calls at least 2" in run.stderr
    assert "Traceback" not in run.stderr


def fake_npm(directory: Path, content: bytes) -> dict[str, str]:
    """A PATH whose `npm pack` writes a tarball of the pinned name holding `content` as the binary."""
    bin_dir = directory / "bin"
    bin_dir.mkdir()
    payload = directory / "payload"
    (payload / "package" / "bin").mkdir(parents=True)
    (payload / "package" / "bin" / "kubernetes-mcp-server-linux-amd64").write_bytes(content)
    npm = bin_dir / "npm"
    npm.write_text(
        "#!/bin/sh\n"
        f"tar -czf kubernetes-mcp-server-linux-amd64-0.0.67.tgz -C {payload} package\n"
        f"echo called >> {directory / 'npm-calls'}\n"
    )
    npm.chmod(0o755)
    return {"PATH": f"{bin_dir}:{os.environ['PATH']}", "PEER_DIR": str(directory / "peer")}


def test_fail_peer_tarball_not_matching_the_pinned_digest_is_not_installed(tmp_path: Path) -> None:
    env = fake_npm(tmp_path, b"#!/bin/sh\necho not the pinned peer\n")
    run = subprocess.run([PEER_SH], env=env, capture_output=True, text=True, timeout=60, check=False)
    assert run.returncode == 1
    assert "does not match the pinned sha512; refusing it" in run.stderr
    assert (tmp_path / "npm-calls").read_text() == "called\n"
    assert list((tmp_path / "peer").iterdir()) == []  # no binary, no stamp, no scratch left
    assert run.stdout == ""


def test_success_peer_with_its_stamp_is_not_fetched_again(tmp_path: Path) -> None:
    env = fake_npm(tmp_path, b"unused")
    stamp = next(line for line in PEER_SH.read_text().splitlines() if line.startswith("sha512="))
    peer = tmp_path / "peer"
    peer.mkdir()
    (peer / "kubernetes-mcp-server").write_text("#!/bin/sh\n")
    (peer / "kubernetes-mcp-server").chmod(0o755)
    (peer / ".stamp").write_text(f"kubernetes-mcp-server-linux-amd64@0.0.67 sha512:{stamp.split('=')[1]}\n")
    run = subprocess.run([PEER_SH], env=env, capture_output=True, text=True, timeout=60, check=False)
    assert run.returncode == 0, run.stderr
    assert run.stdout == f"{peer / 'kubernetes-mcp-server'}\n"
    assert not (tmp_path / "npm-calls").exists()
