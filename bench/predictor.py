"""``make bench``: the predictor against MLServer, side by side, in one run.

Trains the two models, checks every server's answers against local ``model.predict``, then
for every (model, server configuration) runs each cell of batch size by concurrency with
wrk, the server on CPU 0 and wrk on CPU 1. Prints Markdown tables, ratios and PASS/MISS
per target, and keeps everything under ``bench/results/<time>/`` (gitignored).
``--write-docs`` puts the report into docs/benchmarks.md's ``## Predictor`` section.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import loadgen
import numpy as np
import report
import servers
import spy
from workloads import Workload, train_all

RESULTS = servers.REPO / "bench/results"
DOCS = servers.REPO / "docs/benchmarks.md"
NOTES = Path(__file__).with_name("predictor-notes.md")  # hand-written reading of the numbers
SECTION = "## Predictor"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer, shorter cells (a smoke run)")
    parser.add_argument("--duration", type=float, help="measured seconds per cell (default 10)")
    parser.add_argument("--warmup", type=float, help="warm-up seconds per cell (default 2)")
    parser.add_argument(
        "--servers", default="modelops,mlserver", help="comma-separated: modelops, mlserver"
    )
    parser.add_argument("--models", default="xgb,pipeline", help="comma-separated model names")
    parser.add_argument(
        "--noise",
        type=float,
        default=0.05,
        help="share of the server's CPU used by other processes above which a cell is re-run",
    )
    parser.add_argument("--retries", type=int, default=2, help="re-runs of a disturbed cell")
    add_wait_quiet(parser)
    parser.add_argument(
        "--from-results",
        type=Path,
        metavar="RESULTS_JSON",
        help="measure nothing: render a saved run's results.json (with --write-docs, into docs)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also sample our server with py-spy at batch 1, concurrency 64",
    )
    parser.add_argument(
        "--write-docs", action="store_true", help="replace docs/benchmarks.md's Predictor section"
    )
    args = parser.parse_args(argv)
    args.duration = args.duration or (3.0 if args.quick else 10.0)
    args.warmup = args.warmup or (1.0 if args.quick else 2.0)
    if args.quick:
        args.cells = [(1, 8), (1, 64), (32, 8)]
    else:
        args.cells = [(b, c) for b in (1, 32) for c in (1, 8, 64)]
    return args


def machine() -> dict[str, str]:
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    memory_kb = int(Path("/proc/meminfo").read_text().split()[1])
    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "memory": f"{memory_kb / 1024 / 1024:.0f} GiB RAM",
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": code_version(),
    }


def code_version() -> str:
    """The commit measured, and whether the runtime differs from it."""

    def git(*argv: str) -> str:
        out = subprocess.run(
            ["git", "-C", str(servers.REPO), *argv], capture_output=True, text=True, check=False
        )
        return out.stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    changed = git("status", "--porcelain", "--", "runtime", "cli")
    return commit + (" with uncommitted runtime/cli changes" if changed else "")


def raw_cost(workload: Workload, folder: Path, repeats: int) -> dict[str, float]:
    rows = folder / f"{workload.name}-rows.npy"
    np.save(rows, workload.rows)
    out = subprocess.run(
        [
            "taskset",
            "-c",
            servers.SERVER_CPU,
            sys.executable,
            str(Path(__file__).with_name("rawcost.py")),
            str(workload.ours_artifact),
            str(rows),
            str(repeats),
        ],
        env={**os.environ, **servers.PINNED_ENV},
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    return dict(json.loads(out.stdout))


def check_answers(running: servers.Running, workload: Workload) -> None:
    for size in (1, 32):
        got = running.endpoint.predict(workload.batch(size))
        want = workload.expected(size)
        if not np.array_equal(got.ravel(), want.ravel()):
            raise SystemExit(
                f"{running.config.server}/{running.config.label} answered {got[:8]} for "
                f"{workload.name} ({size} rows) where model.predict says {want[:8]}"
            )


def add_wait_quiet(parser: argparse.ArgumentParser) -> None:
    """``--wait-quiet MINUTES``, which every benchmark takes (see ``wait_quiet``)."""
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=0.0,
        metavar="MINUTES",
        help="first wait up to this long for both CPUs to be nearly idle, else stop",
    )


def wait_quiet(minutes: float, threshold: float = 0.15, window: float = 5.0) -> None:
    """Wait until other processes use under ``threshold`` of each CPU for two windows."""
    deadline = time.monotonic() + minutes * 60
    calm = 0
    while time.monotonic() < deadline:
        cpus = ("0", "1")
        before = [servers.cpu_busy_seconds(cpu) for cpu in cpus]
        time.sleep(window)
        after = [servers.cpu_busy_seconds(cpu) for cpu in cpus]
        busy = [(a - b) / window for a, b in zip(after, before, strict=True)]
        calm = calm + 1 if max(busy) < threshold else 0
        print(f"CPU busy {busy[0]:.0%} / {busy[1]:.0%}", flush=True)
        if calm >= 2:
            return
    raise SystemExit(f"other processes kept the CPUs busy for {minutes:g} min; nothing measured")


def quiet_run(
    args: argparse.Namespace, wrk: str, running: servers.Running, body: Path, conc: int
) -> tuple[loadgen.CellResult, float]:
    """Measure a cell; while other processes took over ``--noise`` of the server's CPU, try
    again (up to ``--retries`` times) and keep the attempt they disturbed least."""
    load = servers.ForeignLoad(running.process.pid)
    attempts = []
    for attempt in range(1 + args.retries):
        load.start()
        result = loadgen.run(wrk, running.endpoint.url, body, conc, args.duration)
        attempts.append((load.share(), result))
        if attempts[-1][0] <= args.noise or attempt == args.retries:
            break
        print(f"   others used {attempts[-1][0]:.0%} of CPU 0: measuring again", flush=True)
    foreign, result = min(attempts, key=lambda attempt: attempt[0])
    return result, foreign


def measure(
    run: report.Run,
    args: argparse.Namespace,
    wrk: str,
    workload: Workload,
    configs: list[servers.ServerConfig],
    folder: Path,
) -> None:
    """All servers of one model up at once (idle ones cost nothing), cells interleaved.

    Each cell is measured on every server back to back, so a disturbance on this shared
    machine lands on neighbouring measurements of both servers rather than on one of them.
    """
    started: list[servers.Running] = []
    try:
        for config in configs:
            label = f"{workload.name}/{config.server}/{config.label}"
            running = servers.start(config, workload, folder / label.replace("/", "-"))
            started.append(running)
            run.startup_s[label] = running.startup_s
            check_answers(running, workload)
            print(f"{label}: first prediction after {running.startup_s:.2f}s", flush=True)
        for batch, conc in args.cells:
            print(f"== {workload.name}, batch {batch}, concurrency {conc}", flush=True)
            for running in started:
                run.cells.append(measure_cell(args, wrk, workload, running, batch, conc, folder))
        for running in started:
            label = f"{workload.name}/{running.config.server}/{running.config.label}"
            run.peak_rss_mb[label] = running.sampler.lifetime_peak / 2**20
            if args.profile and running.config.server == report.OURS:
                body = folder / f"{label.replace('/', '-')}-body-1.json"
                body.write_bytes(running.endpoint.body(workload.batch(1)))
                stacks = folder / f"{label.replace('/', '-')}-py-spy.txt"
                run.profile[f"{workload.name}/{running.config.server}"] = spy.record(
                    running, wrk, body, 64, 8.0, stacks
                )
                print(f"   py-spy stacks in {stacks}", flush=True)
    finally:
        for running in started:
            running.stop()


def measure_cell(
    args: argparse.Namespace,
    wrk: str,
    workload: Workload,
    running: servers.Running,
    batch: int,
    conc: int,
    folder: Path,
) -> report.Cell:
    config = running.config
    label = f"{workload.name}-{config.server}-{config.label}"
    body = folder / f"{label}-body-{batch}.json"
    body.write_bytes(running.endpoint.body(workload.batch(batch)))
    running.sampler.reset()
    loadgen.run(wrk, running.endpoint.url, body, conc, args.warmup)
    result, foreign = quiet_run(args, wrk, running, body, conc)
    if running.process.poll() is not None:
        raise SystemExit(f"{label} died during batch {batch}, concurrency {conc}")
    cell = report.Cell(
        model=workload.name,
        server=config.server,
        config=config.label,
        batch=batch,
        concurrency=conc,
        rps=result.rps,
        p50_ms=result.p50_ms,
        p99_ms=result.p99_ms,
        rss_mb=running.sampler.peak / 2**20,
        errors=result.errors,
        foreign_cpu=foreign,
    )
    print(
        f"   {config.server + '/' + config.label:<18} {cell.rps:8,.0f} req/s  "
        f"p50 {cell.p50_ms:7.2f} ms  p99 {cell.p99_ms:7.2f} ms  RSS {cell.rss_mb:5.0f} MB  "
        f"errors {cell.errors}  others on CPU 0 {foreign:.0%}",
        flush=True,
    )
    return cell


def write_docs(text: str, section: str = SECTION) -> None:
    """Replace (or add) a section (``## Predictor``); other sections stay as they are."""
    current = DOCS.read_text() if DOCS.exists() else "# Benchmarks\n"
    lines = current.splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip() == section), None)
    if start is None:
        new = current.rstrip("\n") + "\n\n" + text.rstrip("\n") + "\n"
    else:
        end = next(
            (i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines)
        )
        before = "\n".join(lines[:start]).rstrip("\n")
        after = "\n".join(lines[end:])
        new = before + "\n\n" + text.rstrip("\n") + "\n" + ("\n" + after + "\n" if after else "")
    DOCS.write_text(new)


def publish(run: report.Run, write: bool) -> None:
    text = report.markdown(run)
    print()
    print(text)
    if write:
        notes = NOTES.read_text() if NOTES.exists() else ""
        write_docs(
            f"{SECTION}\n\nMeasured by `make bench` ({run.method['mode']}); reproduce with "
            f"`make bench BENCH_ARGS=--write-docs` (add `--profile` for the py-spy table, "
            f"`--quick` for a smoke run).\n\n{notes}\n{text}"
        )
        print(f"wrote {DOCS.relative_to(servers.REPO)}")


def load_run(path: Path) -> report.Run:
    doc = json.loads(path.read_text())
    doc["cells"] = [report.Cell(**cell) for cell in doc["cells"]]
    return report.Run(**doc)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.from_results:
        publish(load_run(args.from_results), args.write_docs)
        return 0
    wanted_servers = set(args.servers.split(","))
    wanted_models = set(args.models.split(","))
    wrk = loadgen.ensure_wrk()
    mlserver_python = servers.ensure_mlserver_venv() if "mlserver" in wanted_servers else None

    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    folder = RESULTS / stamp
    folder.mkdir(parents=True, exist_ok=True)
    print(f"results in {folder}", flush=True)
    workloads = [w for w in train_all(folder / "models") if w.name in wanted_models]

    versions = {
        "modelops venv": servers.venv_versions(
            Path(sys.executable), ["scikit-learn", "xgboost", "numpy", "uvicorn", "uvloop"]
        )
    }
    if mlserver_python is not None:
        versions["MLServer venv"] = servers.venv_versions(
            mlserver_python,
            [
                *("mlserver", "mlserver-sklearn", "mlserver-xgboost", "scikit-learn", "xgboost"),
                *("numpy", "uvicorn", "uvloop", "httptools", "fastapi"),
            ],
        )
    versions["load generator"] = {"wrk": loadgen.wrk_version(wrk)}
    configs = [c for c in servers.OURS + servers.MLSERVER_CONFIGS if c.server in wanted_servers]
    run = report.Run(
        machine=machine(),
        versions=versions,
        method={
            "mode": "--quick" if args.quick else "full",
            "loadgen": "wrk",
            "warmup_s": args.warmup,
            "duration_s": args.duration,
            "noise": args.noise,
        },
        models={
            w.name: {
                "description": w.description,
                "ours": w.ours_format,
                "mlserver": f"`{w.mlserver_artifact.name}` with `{w.mlserver_implementation}`",
            }
            for w in workloads
        },
        configs={f"{c.server}/{c.label}": c.notes for c in configs},
    )

    if args.wait_quiet:
        wait_quiet(args.wait_quiet)
    # From here on this process (and wrk) stays off the server's core.
    os.sched_setaffinity(0, {int(loadgen.LOADGEN_CPU)})
    for workload in workloads:
        run.raw_us[workload.name] = raw_cost(workload, folder, 300 if args.quick else 2000)
    for workload in workloads:
        measure(run, args, wrk, workload, configs, folder)

    (folder / "report.md").write_text(report.markdown(run))
    (folder / "results.json").write_text(json.dumps(dataclasses.asdict(run), indent=2))
    publish(run, args.write_docs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
