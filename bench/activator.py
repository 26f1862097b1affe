"""``make bench BENCH=activator``: the same load on a predictor directly and through the
activator, interleaved, in one run.

The predictor runs on CPU 0 (as in the predictor benchmark); the activator on CPU 1, which
it shares with wrk (this machine has two cores: the activator cannot have one to itself
without taking the predictor's). Each round measures every concurrency directly, then
through the activator (static routes to the same predictor, ``X-Modelops-Service``
naming the Service), so a disturbance on this shared machine lands on neighbouring
measurements of both paths. The report gives per-round ratios and their median, with
PASS/MISS against the targets: throughput through the activator at least 0.60 of direct,
and at most 1 ms added to the median latency at concurrency 8.
``--write-docs`` puts the report into docs/benchmarks.md's ``## Activator`` section.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import loadgen
import servers
from predictor import add_wait_quiet, code_version, machine, wait_quiet, write_docs
from workloads import train_xgboost

RESULTS = servers.REPO / "bench/results"
NOTES = Path(__file__).with_name("activator-notes.md")  # hand-written reading of the numbers
SECTION = "## Activator"
ACTIVATOR_CPU = loadgen.LOADGEN_CPU
THROUGHPUT_TARGET = 0.60
ADDED_P50_TARGET_MS = 1.0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per cell")
    parser.add_argument("--warmup", type=float, default=1.0, help="warm-up seconds per cell")
    parser.add_argument(
        "--concurrency", default="1,8,64", help="comma-separated concurrencies (8 is judged)"
    )
    parser.add_argument("--quick", action="store_true", help="2 rounds of 2 s: a smoke run")
    parser.add_argument(
        "--wrk-cpu",
        default=loadgen.LOADGEN_CPU,
        help="where wrk runs: 1 (default, beside the activator) or 0 (beside the predictor, "
        "so the activator has CPU 1 to itself)",
    )
    add_wait_quiet(parser)
    parser.add_argument("--write-docs", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.duration, args.warmup = 2, 2.0, 0.5
    args.levels = [int(c) for c in args.concurrency.split(",")]
    return args


def start_activator(folder: Path, predictor_port: int) -> tuple[subprocess.Popen[bytes], int]:
    static = folder / "routes.json"
    static.write_text(
        json.dumps(
            {
                "services": [
                    {"namespace": "bench", "name": "xgb",
                     "routes": [{"version": "xgb-v1", "percent": 100}]}
                ],
                "pods": [{"namespace": "bench", "version": "xgb-v1",
                          "address": f"127.0.0.1:{predictor_port}"}],
            }
        )
    )  # fmt: skip
    port, admin = servers.free_port(), servers.free_port()
    log = (folder / "activator.log").open("wb")
    process = subprocess.Popen(
        ["taskset", "-c", ACTIVATOR_CPU, sys.executable, "-m", "modelops_runtime", "activate",
         "--static", str(static), "--host", "127.0.0.1", "--port", str(port),
         "--admin-port", str(admin), "--log-level", "warning"],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        env={**os.environ, **servers.PINNED_ENV},
    )  # fmt: skip
    deadline = time.monotonic() + 30
    import urllib.request

    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{admin}/readyz", timeout=2):
                return process, port
        except OSError as err:
            if process.poll() is not None or time.monotonic() > deadline:
                log_file = folder / "activator.log"
                raise SystemExit(f"the activator did not start: {log_file}") from err
            time.sleep(0.05)


def cpu_seconds(pid: int) -> float:
    return servers.session_cpu_seconds(pid)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    wrk = loadgen.ensure_wrk()
    folder = RESULTS / ("activator-" + datetime.datetime.now().strftime("%Y%m%d-%H%M%S"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"results in {folder}", flush=True)
    workload = train_xgboost(folder / "models")
    if args.wait_quiet:
        wait_quiet(args.wait_quiet)
    predictor = servers.start(servers.OURS[0], workload, folder / "predictor")
    activator, port = start_activator(folder, predictor.endpoint.port)
    os.sched_setaffinity(0, {int(args.wrk_cpu)})  # this script stays beside wrk
    body = folder / "body.json"
    body.write_bytes(predictor.endpoint.body(workload.batch(1)))
    direct_url = predictor.endpoint.url
    proxied_url = f"http://127.0.0.1:{port}{predictor.endpoint.path}"
    target = ("-H", "X-Modelops-Service: bench/xgb")
    cells: list[dict[str, float | int | str]] = []
    try:
        for round_number in range(1, args.rounds + 1):
            for conc in args.levels:
                for path, url, extra in (("direct", direct_url, ()), ("activator", proxied_url,
                                                                        target)):  # fmt: skip
                    loadgen.run(wrk, url, body, conc, args.warmup, extra, args.wrk_cpu)
                    others = servers.ForeignLoad(predictor.process.pid)
                    others.start()
                    before = (cpu_seconds(predictor.process.pid), cpu_seconds(activator.pid))
                    result = loadgen.run(wrk, url, body, conc, args.duration, extra, args.wrk_cpu)
                    after = (cpu_seconds(predictor.process.pid), cpu_seconds(activator.pid))
                    foreign = others.share()
                    cell = {
                        "round": round_number, "path": path, "concurrency": conc,
                        "rps": result.rps, "p50_ms": result.p50_ms, "p99_ms": result.p99_ms,
                        "errors": result.errors, "others_cpu0": foreign,
                        "predictor_cpu_us": 1e6 * (after[0] - before[0]) / max(result.requests, 1),
                        "activator_cpu_us": 1e6 * (after[1] - before[1]) / max(result.requests, 1),
                    }  # fmt: skip
                    cells.append(cell)
                    print(
                        f"round {round_number} c{conc:<3} {path:<9} {result.rps:8,.0f} req/s  "
                        f"p50 {result.p50_ms:6.2f} ms  p99 {result.p99_ms:6.2f} ms  "
                        f"errors {result.errors}  others on CPU 0 {foreign:.0%}",
                        flush=True,
                    )
    finally:
        servers.stop_group(activator)
        predictor.stop()
    (folder / "results.json").write_text(json.dumps(cells, indent=2))
    text = report(cells, args)
    print()
    print(text)
    if args.write_docs:
        notes = NOTES.read_text() if NOTES.exists() else ""
        write_docs(
            f"{SECTION}\n\nMeasured by `make bench BENCH=activator`; reproduce with "
            f"`make bench BENCH=activator BENCH_ARGS=--write-docs`.\n\n{notes}\n{text}",
            section=SECTION,
        )
        print("wrote docs/benchmarks.md")
    return 0


def placement(wrk_cpu: str) -> str:
    if wrk_cpu == ACTIVATOR_CPU:
        return f"the predictor on CPU 0, the activator and wrk on CPU {ACTIVATOR_CPU}"
    return f"the predictor and wrk on CPU {wrk_cpu}, the activator alone on CPU {ACTIVATOR_CPU}"


def report(cells: list[dict[str, float | int | str]], args: argparse.Namespace) -> str:
    info = machine()
    lines = [
        f"{info['cpu']}, {info['cores']} cores, {info['memory']}, Python {info['python']}, "
        f"{info['date']}, commit {code_version()}. One-row XGBoost predictions (KServe V1); "
        f"{placement(args.wrk_cpu)}; {args.rounds} interleaved "
        f"rounds of {args.duration:g} s per cell (after {args.warmup:g} s of warm-up).",
        "",
        "| concurrency | direct req/s | via activator req/s | ratio (median of rounds) "
        "| direct p50 ms | via activator p50 ms | added p50 ms (median) "
        "| activator CPU µs/request | others on CPU 0 | errors |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    verdicts: list[tuple[str, bool, str]] = []
    for conc in args.levels:
        rounds = sorted({int(c["round"]) for c in cells})
        pairs = []
        for r in rounds:
            d = next(c for c in cells if c["round"] == r and c["concurrency"] == conc
                     and c["path"] == "direct")  # fmt: skip
            a = next(c for c in cells if c["round"] == r and c["concurrency"] == conc
                     and c["path"] == "activator")  # fmt: skip
            pairs.append((d, a))
        ratio = statistics.median(float(a["rps"]) / float(d["rps"]) for d, a in pairs)
        added = statistics.median(float(a["p50_ms"]) - float(d["p50_ms"]) for d, a in pairs)
        direct_rps = statistics.median(float(d["rps"]) for d, _ in pairs)
        proxied_rps = statistics.median(float(a["rps"]) for _, a in pairs)
        direct_p50 = statistics.median(float(d["p50_ms"]) for d, _ in pairs)
        proxied_p50 = statistics.median(float(a["p50_ms"]) for _, a in pairs)
        cpu = statistics.median(float(a["activator_cpu_us"]) for _, a in pairs)
        errors = sum(int(d["errors"]) + int(a["errors"]) for d, a in pairs)
        foreign = statistics.median(
            float(c.get("others_cpu0", 0.0)) for pair in pairs for c in pair
        )
        each = ", ".join(f"{float(a['rps']) / float(d['rps']):.2f}" for d, a in pairs)
        lines.append(
            f"| {conc} | {direct_rps:,.0f} | {proxied_rps:,.0f} | {ratio:.2f} ({each}) "
            f"| {direct_p50:.2f} | {proxied_p50:.2f} | {added:+.2f} | {cpu:.0f} | {foreign:.0%} "
            f"| {errors} |"
        )
        if conc == 8:
            verdicts.append(
                (f"throughput via the activator ≥ {THROUGHPUT_TARGET:.2f} of direct (c=8)",
                 ratio >= THROUGHPUT_TARGET, f"{ratio:.2f}")
            )  # fmt: skip
            verdicts.append(
                (f"added p50 at concurrency 8 ≤ {ADDED_P50_TARGET_MS:g} ms",
                 added <= ADDED_P50_TARGET_MS, f"{added:+.2f} ms")
            )  # fmt: skip
    lines += ["", "| target | verdict | measured |", "|---|---|---|"]
    lines += [f"| {t} | {'PASS' if ok else 'MISS'} | {m} |" for t, ok, m in verdicts]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
