"""From raw samples to the figures the README reports: statistics, the table against the targets,
and the chart.

Every row names the figure for ours, for the peer, their ratio (ours ÷ peer) and its target,
either on the ratio or on our figure alone, with whether it is met. A row without the peer (a
`--no-peer` run) has no ratio, and a target on the ratio is then not judged (`met` is null).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

Limit = tuple[Literal["ratio", "max"], float]
LATENCY_ORDER = ("ours-stdio", "peer-stdio", "ours-http", "peer-http", "guard-on", "guard-off", "opa")


@dataclass(frozen=True, slots=True)
class Row:
    measure: str
    unit: str
    ours: float | None
    peer: float | None
    ratio: float | None
    target: str
    judged: Literal["ratio", "ours"]
    bound: float
    met: bool | None


def stats(values: Sequence[float]) -> dict[str, float]:
    """n, p50, p99 (inclusive method: a small run's p99 is its worst sample, not beyond it), mean."""
    p99 = statistics.quantiles(values, n=100, method="inclusive")[98] if len(values) > 1 else values[0]
    return {
        "n": len(values),
        "p50": round(statistics.median(values), 4),
        "p99": round(p99, 4),
        "mean": round(statistics.fmean(values), 4),
    }


def _row(measure: str, unit: str, ours: float | None, peer: float | None, limit: Limit) -> Row:
    ratio = ours / peer if ours is not None and peer else None
    kind, bound = limit
    if kind == "ratio":
        target, judged = f"≤ {bound:g}x peer", ratio
    else:
        target, judged = f"≤ {bound:g} {unit}", ours
    return Row(
        measure=measure,
        unit=unit,
        ours=None if ours is None else round(ours, 3),
        peer=None if peer is None else round(peer, 3),
        ratio=None if ratio is None else round(ratio, 2),
        target=target,
        judged="ratio" if kind == "ratio" else "ours",
        bound=bound,
        met=None if judged is None else judged <= bound,
    )


def rows(summary: dict[str, Any]) -> list[Row]:
    latency, cpu, burst = summary["latency_ms"], summary["cpu_ms_per_call"], summary["burst_ms"]
    cold, rss, guard = summary["cold_start_s"], summary["idle_rss_mib"], summary["guard_overhead_ms"]

    def pair(table: dict[str, Any], transport: str, key: str | None) -> tuple[float | None, float | None]:
        found = [table.get(f"{side}-{transport}") for side in ("ours", "peer")]
        ours, peer = (None if value is None else value if key is None else value[key] for value in found)
        return ours, peer

    result = []
    for transport, name in (("stdio", "stdio"), ("http", "HTTP")):
        result += [
            _row(f"`list_pods` p50, {name}", "ms", *pair(latency, transport, "p50"), ("ratio", 1.0)),
            _row(f"`list_pods` p99, {name}", "ms", *pair(latency, transport, "p99"), ("ratio", 1.2)),
            _row(f"CPU per call, {name} (ours: server + OPA)", "ms", *pair(cpu, transport, "mean"), ("ratio", 1.3)),
        ]
    result += [
        _row("guard overhead above bare OPA, p50", "ms", guard["p50"], None, ("max", 0.3)),
        _row("guard overhead above bare OPA, p99", "ms", guard["p99"], None, ("max", 1.0)),
    ]
    for transport, name in (("stdio", "stdio"), ("http", "HTTP")):
        result.append(
            _row(f"burst of concurrent calls, {name} (wall p50)", "ms", *pair(burst, transport, "p50"), ("ratio", 1.5))
        )
    for transport, name in (("stdio", "stdio"), ("http", "HTTP")):
        result.append(
            _row(f"spawn → first `tools/list`, {name} (p50)", "s", *pair(cold, transport, "p50"), ("max", 0.6))
        )
    _, peer_rss = pair(rss, "http", "server")
    ours_rss = rss["ours-http"]
    result += [
        _row("idle RSS, HTTP, ours + OPA", "MiB", ours_rss["with_sidecars"], peer_rss, ("max", 100)),
        _row("idle RSS, HTTP, ours alone", "MiB", ours_rss["server"], peer_rss, ("max", 100)),
    ]
    return result


def summarise(samples: dict[str, Any]) -> dict[str, Any]:
    """Statistics of every sample set, the guard's overhead and the rows; raw latencies kept for the chart."""
    latency = {label: stats(values) for label, values in samples["latency_ms"].items()}
    summary = {
        "latency_ms": latency,
        "cpu_ms_per_call": {label: stats(values) for label, values in samples["cpu_ms_per_call"].items()},
        "burst_ms": {label: stats(values) for label, values in samples["burst_ms"].items()},
        "burst_errors": {
            label: {"count": len(errors), "first": errors[0] if errors else None}
            for label, errors in samples["burst_errors"].items()
        },
        "cold_start_s": {label: stats(values) for label, values in samples["cold_start_s"].items()},
        "idle_rss_mib": {
            label: {key: round(value, 1) for key, value in figures.items()}
            for label, figures in samples["idle_rss_mib"].items()
        },
        # Per call: guarded - unguarded - the OPA round trip taken beside them, the guard's own work.
        "guard_overhead_ms": stats(samples["guard_overhead_ms"]),
        "samples_ms": {label: [round(value, 3) for value in values] for label, values in samples["latency_ms"].items()},
    }
    summary["rows"] = [asdict(row) for row in rows(summary)]
    return summary


def _figure(value: float | None) -> str:
    return "—" if value is None else f"{value:g}"


def markdown(results: dict[str, Any]) -> str:
    lines = [
        "| Measurement | Ours | Peer | Ours ÷ peer | Target | Met |",
        "|---|---|---|---|---|---|",
    ]
    for row in results["rows"]:
        unit = f" {row['unit']}"
        ours = _figure(row["ours"]) + (unit if row["ours"] is not None else "")
        peer = _figure(row["peer"]) + (unit if row["peer"] is not None else "")
        ratio = "—" if row["ratio"] is None else f"{row['ratio']:g}x"
        met = {True: "met", False: "**not met**", None: "—"}[row["met"]]
        lines.append(f"| {row['measure']} | {ours} | {peer} | {ratio} | {row['target']} | {met} |")
    machine, plan = results["machine"], results["plan"]
    bursts = plan["rounds"] * plan["burst"]
    failed = [
        f'{label} {errors["count"]} of {bursts} ("{errors["first"]}")'
        for label, errors in results["burst_errors"].items()
        if errors["count"]
    ]
    lines += [
        "",
        "Burst calls answered with an error: " + ("; ".join(failed) if failed else "none") + ".",
        "",
        f"`{results['command']}` ({results['elapsed_s']} s) on {machine['cpu_count']} CPUs ({machine['cpu_model']}), "
        f"Python {machine['python']}, OPA {machine['opa']}, peer {machine['peer'] or 'not run'}, "
        f"commit {machine['git_commit']}, {machine['date']}; 1-min load average {machine['load_1min_at_start']} "
        f"at the start, {machine['load_1min_at_end']} at the end. "
        f"{plan['rounds']} rounds after {plan['warmup']} warm-up, {plan['calls']} calls per target per round, "
        f"bursts of {plan['burst']}, {plan['cold_starts']} cold starts per server.",
        "",
    ]
    return "\n".join(lines)


def chart(results: dict[str, Any], path: Path) -> None:
    """Latency distributions per target (left) and each figure against its target (right)."""
    import matplotlib  # noqa: PLC0415 - only `make bench` installs it (the [bench] extra)

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415
    from matplotlib.ticker import FormatStrFormatter, LogLocator, NullFormatter  # noqa: PLC0415

    figure, (left, right) = plt.subplots(1, 2, figsize=(14, 6.5), width_ratios=(1, 1.1))
    samples = results["samples_ms"]
    labels = [label for label in LATENCY_ORDER if label in samples]
    left.boxplot([samples[label] for label in labels], vert=False, showfliers=True, whis=(1, 99))
    left.set_yticks(range(1, len(labels) + 1), labels)
    left.invert_yaxis()
    left.set_xscale("log")
    left.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    left.xaxis.set_major_formatter(FormatStrFormatter("%g"))
    left.xaxis.set_minor_formatter(NullFormatter())
    left.set_xlabel("ms per call (log scale); box p25-p75, whiskers p1-p99")
    left.set_title("list_pods latency; guard on/off in process; bare OPA round trip")
    judged = [row for row in results["rows"] if row["met"] is not None]
    values = [row[row["judged"]] / row["bound"] for row in judged]
    right.barh(range(len(judged)), values, color=["tab:green" if row["met"] else "tab:red" for row in judged])
    for place, row in enumerate(judged):
        figure_text = f"{row['ratio']:g}x" if row["judged"] == "ratio" else f"{row['ours']:g} {row['unit']}"
        right.annotate(f" {figure_text} (target {row['target']})", (values[place], place), va="center", fontsize=7)
    right.set_yticks(range(len(judged)), [row["measure"].replace("`", "") for row in judged], fontsize=8)
    right.invert_yaxis()
    right.axvline(1.0, color="black", linewidth=1)
    right.set_xlim(0, max([*values, 1.0]) * 1.45)
    right.set_xlabel("figure ÷ its target (≤ 1 meets it)")
    right.set_title("against the targets (ratios are ours ÷ peer)")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
