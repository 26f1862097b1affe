"""Tables, ratios and target verdicts from one run's measurements, as Markdown."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

OURS = "modelops"
PEER = "mlserver"
TARGET_SPEEDUP = 3.0


@dataclass(frozen=True)
class Cell:
    model: str
    server: str
    config: str
    batch: int
    concurrency: int
    rps: float
    p50_ms: float
    p99_ms: float
    rss_mb: float
    errors: int
    foreign_cpu: float = 0.0  # share of CPU 0 that other processes used during the cell


@dataclass
class Run:
    machine: dict[str, str]
    versions: dict[str, dict[str, str]]
    method: dict[str, Any]
    models: dict[str, dict[str, str]]  # name -> description and formats
    configs: dict[str, str]  # "server/config" -> notes
    raw_us: dict[str, dict[str, float]] = field(default_factory=dict)
    cells: list[Cell] = field(default_factory=list)
    startup_s: dict[str, float] = field(default_factory=dict)  # "model/server/config"
    peak_rss_mb: dict[str, float] = field(default_factory=dict)  # "model/server/config"
    profile: dict[str, dict[str, float]] = field(default_factory=dict)  # "model/server" -> shares


def _cells(run: Run, model: str, server: str, batch: int, conc: int) -> list[Cell]:
    return [
        c
        for c in run.cells
        if (c.model, c.server, c.batch, c.concurrency) == (model, server, batch, conc)
    ]


def _grid(run: Run) -> list[tuple[str, int, int]]:
    seen: dict[tuple[str, int, int], None] = {}
    for c in run.cells:
        seen[(c.model, c.batch, c.concurrency)] = None
    return list(seen)


def _per_model(values: dict[str, float], model: str, server: str) -> dict[str, float]:
    prefix = f"{model}/{server}/"
    return {k[len(prefix) :]: v for k, v in values.items() if k.startswith(prefix)}


def _ratio(ours: float, peer: float) -> str:
    return f"{ours / peer:.2f}x" if peer else "n/a"


def comparison_table(run: Run) -> list[str]:
    lines = [
        "| model | batch | conc | ours req/s | MLServer best req/s (config) | ratio "
        "| ours p50 / p99 ms | MLServer p50 / p99 ms (same config) | p99 ratio "
        "| ours RSS MB | MLServer RSS MB | CPU 0 used by others, ours / MLServer |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for model, batch, conc in _grid(run):
        ours = _cells(run, model, OURS, batch, conc)
        peers = _cells(run, model, PEER, batch, conc)
        if not ours or not peers:
            continue
        mine = max(ours, key=lambda c: c.rps)
        best = max(peers, key=lambda c: c.rps)
        lines.append(
            f"| {model} | {batch} | {conc} | {mine.rps:,.0f}{_flag(mine)} "
            f"| {best.rps:,.0f}{_flag(best)} ({best.config}) | **{_ratio(mine.rps, best.rps)}** "
            f"| {mine.p50_ms:.2f} / {mine.p99_ms:.2f} | {best.p50_ms:.2f} / {best.p99_ms:.2f} "
            f"| {_ratio(mine.p99_ms, best.p99_ms)} | {mine.rss_mb:.0f} | {best.rss_mb:.0f} "
            f"| {mine.foreign_cpu:.0%} / {best.foreign_cpu:.0%} |"
        )
    return lines


def _flag(cell: Cell) -> str:
    return f" ⚠{cell.errors} errors" if cell.errors else ""


def all_configs_table(run: Run) -> list[str]:
    labels = sorted({(c.server, c.config) for c in run.cells}, key=lambda s: (s[0] != OURS, s))
    head = " | ".join(f"{server} {config}" for server, config in labels)
    lines = [
        f"| model | batch | conc | {head} |",
        "|---|--:|--:|" + "--:|" * len(labels),
    ]
    for model, batch, conc in _grid(run):
        row = []
        for server, config in labels:
            found = [c for c in _cells(run, model, server, batch, conc) if c.config == config]
            row.append(
                f"{found[0].rps:,.0f} ({found[0].p99_ms:.1f}){_flag(found[0])}" if found else "-"
            )
        lines.append(f"| {model} | {batch} | {conc} | " + " | ".join(row) + " |")
    return lines


def startup_table(run: Run) -> list[str]:
    lines = [
        "| model | server / config | start → first prediction s | peak RSS MB (whole run) |",
        "|---|---|--:|--:|",
    ]
    for key in run.startup_s:
        model, server, config = key.split("/")
        lines.append(
            f"| {model} | {server} / {config} | {run.startup_s[key]:.2f} "
            f"| {run.peak_rss_mb.get(key, 0):.0f} |"
        )
    return lines


def raw_table(run: Run) -> list[str]:
    lines = [
        "| model | `predict` 1 row µs | `predict` 32 rows µs "
        "| `inplace_predict` 1 row µs | `inplace_predict` 32 rows µs |",
        "|---|--:|--:|--:|--:|",
    ]
    for model, costs in run.raw_us.items():

        def show(key: str, costs: dict[str, float] = costs) -> str:
            return f"{costs[key]:,.0f}" if key in costs else "-"

        lines.append(
            f"| {model} | {show('predict_1')} | {show('predict_32')} "
            f"| {show('inplace_predict_1')} | {show('inplace_predict_32')} |"
        )
    return lines


def profile_table(run: Run) -> list[str]:
    labels = list(run.profile)
    groups = list(dict.fromkeys(g for shares in run.profile.values() for g in shares))
    lines = [
        "| where the server's CPU goes | " + " | ".join(labels) + " |",
        "|---|" + "--:|" * len(labels),
    ]
    for group in groups:
        cells = " | ".join(f"{run.profile[label].get(group, 0.0):.0%}" for label in labels)
        lines.append(f"| {group} | {cells} |")
    return lines


def targets(run: Run) -> list[tuple[str, bool, str]]:
    """(target, met, evidence) for each target that this run's cells can decide."""
    verdicts = []
    models = list(dict.fromkeys(c.model for c in run.cells))
    for model in models:
        ours = _cells(run, model, OURS, 1, 64)
        peers = _cells(run, model, PEER, 1, 64)
        if ours and peers:
            mine = max(c.rps for c in ours)
            best = max(peers, key=lambda c: c.rps)
            verdicts.append(
                (
                    f"{model}: batch 1, conc 64 throughput ≥ {TARGET_SPEEDUP:.0f}x MLServer's best",
                    mine >= TARGET_SPEEDUP * best.rps,
                    f"{mine:,.0f} vs {best.rps:,.0f} req/s ({best.config}) = "
                    f"{_ratio(mine, best.rps)}",
                )
            )
        for batch in (1, 32):
            ours = _cells(run, model, OURS, batch, 8)
            peers = _cells(run, model, PEER, batch, 8)
            if ours and peers:
                mine_p99 = min(c.p99_ms for c in ours)
                best = min(peers, key=lambda c: c.p99_ms)
                verdicts.append(
                    (
                        f"{model}: batch {batch}, conc 8 p99 ≤ MLServer's lowest",
                        mine_p99 <= best.p99_ms,
                        f"{mine_p99:.2f} vs {best.p99_ms:.2f} ms ({best.config})",
                    )
                )
        ours_rss = _per_model(run.peak_rss_mb, model, OURS)
        peer_rss = _per_model(run.peak_rss_mb, model, PEER)
        if ours_rss and peer_rss:
            mine_rss = max(ours_rss.values())
            smallest = min(peer_rss, key=lambda k: peer_rss[k])
            verdicts.append(
                (
                    f"{model}: peak RSS ≤ MLServer's smallest",
                    mine_rss <= peer_rss[smallest],
                    f"{mine_rss:.0f} vs {peer_rss[smallest]:.0f} MB ({smallest})",
                )
            )
    return verdicts


def markdown(run: Run) -> str:
    m = run.method
    out = [
        "### Setup",
        "",
        f"- Machine: {run.machine['cpu']}, {run.machine['cores']} cores, "
        f"{run.machine['memory']}, {run.machine['os']}; Python {run.machine['python']}.",
        f"- Run: {run.machine['date']}, mode `{m['mode']}`, code at commit "
        f"{run.machine.get('commit', 'unknown')}.",
        "- Server on CPU 0 (`taskset -c 0`, with `OMP_NUM_THREADS=1`), load generator on "
        f"CPU 1 ({m['loadgen']}: one thread, closed loop, keep-alive connections = "
        f"concurrency), loopback 127.0.0.1. Each cell: {m['warmup_s']:.0f} s warm-up, then "
        f"{m['duration_s']:.0f} s measured. Every request is a fresh HTTP request with the "
        "same body. All servers of one model are up at once (an idle one costs nothing) and "
        "each cell is measured on every server back to back, so a disturbance on this shared "
        "machine hits neighbouring measurements of both servers.",
        "- RSS: sum over the server's whole process group, sampled from /proc every 100 ms; "
        "the per-cell column is the peak during that cell, the startup table's the peak over "
        "the server's life. Start → first prediction: from spawning the process to the first "
        "200 answer to a predict request (polled every 10 ms).",
        "- Correctness: before loading, each server's answers for 1 and 32 rows were checked "
        "against local `model.predict`; every server passed.",
        "- Ours: `modelops serve` (KServe V1 `POST /v1/models/NAME:predict`, "
        '`{"instances": [[...]]}`), default settings. MLServer: Open Inference Protocol '
        "`POST /v2/models/NAME/infer` (its only HTTP protocol), one FP64 tensor.",
        "- MLServer's XGBoost runtime is not used: mlserver-xgboost 1.7.1 loads a Booster "
        "file into an `XGBRegressor` first, which xgboost 3.x accepts, so it answers "
        "probabilities where `model.predict` gives labels and fails the correctness check. "
        "Its sklearn runtime serves the same `XGBClassifier` from joblib correctly.",
        "",
        "Models (trained by the bench in each run, never committed):",
        "",
    ]
    for name, info in run.models.items():
        out.append(
            f"- `{name}`: {info['description']}. Ours loads {info['ours']}; "
            f"MLServer {info['mlserver']}."
        )
    out += ["", "Versions:", ""]
    for who, versions in run.versions.items():
        out.append(f"- {who}: " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    out += [
        "",
        "Configurations (for MLServer the best one in each cell is reported; httptools is "
        "installed in its venv, so uvicorn uses it in every MLServer configuration):",
        "",
    ]
    for label, notes in run.configs.items():
        out.append(f"- `{label}`: {notes}")
    out += [
        "",
        "### Ours vs MLServer's best, per cell",
        "",
        *comparison_table(run),
        "",
        "Ratios are ours / MLServer: above 1 is better for req/s, below 1 is better for p99. "
        "The last column is the share of the server's core that other processes on this "
        "shared machine took during the cell (a cell is re-run while it is above "
        f"{run.method.get('noise', 0.05):.0%}, and the least disturbed attempt is kept).",
        "",
        "### Targets",
        "",
        "| target | verdict | measured |",
        "|---|---|---|",
    ]
    for target, met, evidence in targets(run):
        out.append(f"| {target} | {'PASS' if met else 'MISS'} | {evidence} |")
    out += [
        "",
        "### Every configuration: req/s (p99 ms)",
        "",
        *all_configs_table(run),
        "",
        "### Start-up and memory",
        "",
        *startup_table(run),
        "",
        "### In-process predict cost (no server), median, on CPU 0",
        "",
        *raw_table(run),
        "",
    ]
    if run.profile:
        out += [
            "### Where our server's time goes (py-spy, batch 1, concurrency 64)",
            "",
            "Share of py-spy samples of the server process (all threads), grouped by the "
            "innermost Python frame of each sample.",
            "",
            *profile_table(run),
            "",
        ]
    return "\n".join(out)
