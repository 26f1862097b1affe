"""``make bench BENCH=hostile``: ordinary predictions through the activator with and
without 50 hostile connections beside them, interleaved, in one run.

The scenario is tests/integration/test_activator_hostile.py's (tests/integration/hostile.py),
its parts as processes of their own: a real activator process (the chart's limits; the read
time 2 s, so that slow clients time out within a phase) in front of a real predictor (a
scikit-learn pipeline on iris) and of a pod that answers without end or too much; 4
ordinary clients, each one prediction at a time on a keep-alive connection. Each round
measures a quiet phase (ordinary traffic only), then a hostile one (the same traffic and
``MIX``'s 50 connections). This machine has two cores: the predictor and the ordinary
clients run on CPU 0, the activator on CPU 1 with the hostile clients and the hostile pod,
which take CPU from it that attackers elsewhere would not (so the hostile phase is, if
anything, worse here than it would be). Reported per phase: the activator's peak resident
memory (VmHWM, reset between phases), the ordinary requests answered, their p50 and p99
latency and their failures, and the ratio of the hostile phase's p99 to the quiet one's.
``--write-docs`` puts the report into docs/benchmarks.md's ``## Activator: hostile
clients`` section.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import servers
from predictor import add_wait_quiet, code_version, machine, wait_quiet, write_docs

sys.path.insert(0, str(servers.REPO))

from tests import models  # (the repository's root is on the path only now)
from tests.integration import hostile
from tests.integration.servers import Server
from tests.ports import free_port

SECTION = "## Activator: hostile clients"
PREDICTOR_CPU, ACTIVATOR_CPU = "0", "1"
MiB = 1024 * 1024


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--seconds", type=float, default=15.0, help="seconds per phase")
    parser.add_argument("--clients", type=int, default=4, help="ordinary clients (default 4)")
    parser.add_argument(
        "--nice-hostile",
        type=int,
        default=0,
        metavar="N",
        help="run the hostile clients and pod at this niceness (19: on what the activator "
        "leaves of CPU 1, as attackers on other machines would be)",
    )
    parser.add_argument("--quick", action="store_true", help="1 round of 5 s: a smoke run")
    add_wait_quiet(parser)
    parser.add_argument("--write-docs", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.seconds = 1, 5.0
    return args


def part(cpu: str, *argv: object, nice: int = 0) -> subprocess.Popen[str]:
    """One part of the scenario (tests/integration/hostile.py ``main``) on ``cpu``."""
    return subprocess.Popen(
        ["nice", "-n", str(nice), "taskset", "-c", cpu, sys.executable, "-m",
         "tests.integration.hostile", *map(str, argv)],
        cwd=servers.REPO, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / servers.CLOCK_TICKS  # utime, stime


def phase(
    activator: hostile.Activator, body: Path, args: argparse.Namespace, with_hostile: bool
) -> tuple[hostile.Ordinary, Counter[str], int, float]:
    """One phase: the ordinary clients (and the hostile ones) for ``args.seconds``; what
    each got, the activator's peak resident memory in it and its share of a CPU."""
    activator.reset_peak()
    cpu, started = cpu_seconds(activator.process.pid), time.monotonic()
    port = activator.port
    clients = part(PREDICTOR_CPU, "ordinary", port, args.seconds, args.clients, body)
    attack = (
        part(ACTIVATOR_CPU, "hostile", port, args.seconds, nice=args.nice_hostile)
        if with_hostile
        else None
    )
    out, _ = clients.communicate(timeout=args.seconds + 120)
    got = json.loads(out)
    tally = hostile.Ordinary(Counter(got["statuses"]), got["latencies_ms"])
    outcomes: Counter[str] = Counter()
    if attack is not None:
        out, _ = attack.communicate(timeout=120)
        outcomes.update({f"{kind}: {what}": n for kind, what, n in json.loads(out)})
    alive = activator.process.poll() is None
    peak = activator.memory()[1] if alive else 0
    used = cpu_seconds(activator.process.pid) - cpu if alive else 0.0
    share = used / (time.monotonic() - started)
    return tally, outcomes, peak, share


def measure(args: argparse.Namespace, folder: Path) -> tuple[list[dict[str, object]], Counter[str]]:
    (folder / "model").mkdir()
    trained = models.iris_pipeline(folder / "model")
    body = folder / "body.json"
    body.write_text(json.dumps({"instances": trained.rows}))
    pinned = ("taskset", "-c", PREDICTOR_CPU, sys.executable, "-m", "modelops_runtime")
    pod = Server(str(trained.path), "iris", folder, "--version", "iris-v1", program=pinned)
    pod.wait_until_ready()
    evil_port = free_port()
    evil = part(ACTIVATOR_CPU, "evil", evil_port, 24 * 3600, nice=args.nice_hostile)
    time.sleep(1)
    cells: list[dict[str, object]] = []
    refusals: Counter[str] = Counter()
    activator = hostile.start_activator(
        folder, f"127.0.0.1:{pod.port}", f"127.0.0.1:{evil_port}",
        {"MODELOPS_ACTIVATOR_READ_TIMEOUT_SECONDS": "2"}, ("taskset", "-c", ACTIVATOR_CPU),
    )  # fmt: skip
    try:
        for round_number in range(1, args.rounds + 1):
            for name in ("quiet", "hostile"):
                tally, outcomes, peak, share = phase(activator, body, args, name == "hostile")
                alive = activator.process.poll() is None
                refusals.update(outcomes)
                cell = {
                    "round": round_number, "phase": name, "alive": alive,
                    "peak_mib": peak / MiB, "answered": tally.statuses["200"],
                    "failures": tally.failures, "p50_ms": tally.percentile(0.5),
                    "p99_ms": tally.percentile(0.99),
                    "hostile_connections": sum(outcomes.values()), "activator_cpu": share,
                }  # fmt: skip
                cells.append(cell)
                print(
                    f"round {round_number} {name:<7} peak {peak / MiB:5.0f} MiB  "
                    f"answered {cell['answered']:>6}  failures {cell['failures']}  "
                    f"p50 {cell['p50_ms']:6.2f} ms  p99 {cell['p99_ms']:7.2f} ms  "
                    f"activator CPU {share:.0%}  hostile connections {cell['hostile_connections']}",
                    flush=True,
                )
                if not alive:
                    raise SystemExit(f"the activator died:\n{activator.log.read_text()}")
    finally:
        activator.stop()
        evil.terminate()
        evil.wait()
        pod.stop()
    return cells, refusals


def report(cells: list[dict[str, object]], refusals: Counter[str], args: argparse.Namespace) -> str:
    info = machine()

    def of(phase: str, key: str) -> list[float]:
        return [float(c[key]) for c in cells if c["phase"] == phase]  # type: ignore[arg-type]

    quiet_p99, hostile_p99 = of("quiet", "p99_ms"), of("hostile", "p99_ms")
    ratios = [h / q for q, h in zip(quiet_p99, hostile_p99, strict=True) if q]
    lines = [
        f"{info['cpu']}, {info['cores']} cores, {info['memory']}, Python {info['python']}, "
        f"{info['date']}, commit {code_version()}. {args.rounds} interleaved rounds of a "
        f"quiet and a hostile phase, {args.seconds:g} s each; {args.clients} ordinary "
        "clients (iris pipeline, KServe V1), one prediction at a time each; the predictor and "
        "the ordinary clients on CPU 0, the activator, the hostile clients and the hostile "
        "pod on CPU 1; the chart's limits, the read time 2 s.",
        "",
        "| phase | activator peak memory (VmHWM) | ordinary answered | failures "
        "| p50 ms | p99 ms (rounds) | activator CPU |",
        "|---|---|---|---|---|---|---|",
    ]
    for phase in ("quiet", "hostile"):
        peaks, answered = of(phase, "peak_mib"), of(phase, "answered")
        lines.append(
            f"| {phase} | {max(peaks):.0f} MiB (rounds {', '.join(f'{p:.0f}' for p in peaks)}) "
            f"| {sum(answered):,.0f} | {sum(of(phase, 'failures')):.0f} "
            f"| {statistics.median(of(phase, 'p50_ms')):.2f} "
            f"| {statistics.median(of(phase, 'p99_ms')):.2f} "
            f"({', '.join(f'{p:.1f}' for p in of(phase, 'p99_ms'))}) "
            f"| {statistics.median(of(phase, 'activator_cpu')):.0%} |"
        )
    lines += [
        "",
        f"p99 with hostile clients / without: {statistics.median(ratios):.1f} times (median of "
        f"rounds: {', '.join(f'{r:.1f}' for r in ratios)}). Medians of rounds; peaks the "
        "largest. What the hostile connections got, over all rounds: "
        + "; ".join(f"{what} {n:,}" for what, n in sorted(refusals.items()))
        + ".",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.wait_quiet:
        wait_quiet(args.wait_quiet)
    with tempfile.TemporaryDirectory(prefix="bench-hostile-") as tmp:
        cells, refusals = measure(args, Path(tmp))
    text = report(cells, refusals, args)
    print()
    print(text)
    if args.write_docs:
        write_docs(
            f"{SECTION}\n\nMeasured by `make bench BENCH=hostile`; reproduce with "
            f"`make bench BENCH=hostile BENCH_ARGS=--write-docs`.\n\n{text}",
            section=SECTION,
        )
        print("wrote docs/benchmarks.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
