"""The load generator: wrk on CPU 1, closed loop, keep-alive, one POST body per cell.

wrk is C with an event loop per thread; one thread on its own core drives tens of
thousands of small requests a second here, far above what either server answers, so the
numbers are the server's. The Debian package is installed when wrk is missing.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

LOADGEN_CPU = "1"
LUA = Path(__file__).resolve().parent / "post.lua"
MARKER = "BENCH-RESULT "


@dataclass(frozen=True)
class CellResult:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    mean_ms: float
    max_ms: float
    errors: int  # connect/read/write/timeouts and non-2xx answers

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    print("installing wrk (apt-get install -y wrk)", flush=True)
    subprocess.run(["apt-get", "update", "-qq"], check=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True)
    found = shutil.which("wrk")
    if not found:
        raise RuntimeError("wrk is not on PATH after apt-get install wrk")
    return found


def wrk_version(wrk: str) -> str:
    out = subprocess.run([wrk, "-v"], capture_output=True, text=True, check=False)
    return (out.stdout or out.stderr).split("[")[0].strip()


def command(
    wrk: str, url: str, connections: int, seconds: float, extra: tuple[str, ...], cpu: str
) -> list[str]:
    return [
        "taskset",
        "-c",
        cpu,
        wrk,
        "-t1",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "10s",
        "-s",
        str(LUA),
        *extra,
        url,
    ]


def environment(body_file: Path) -> dict[str, str]:
    return {"BENCH_BODY": str(body_file), "PATH": "/usr/bin:/bin:/usr/local/bin"}


def parse(stdout: str) -> CellResult | None:
    """The result line post.lua prints, if wrk got that far."""
    for line in stdout.splitlines():
        if line.startswith(MARKER):
            doc = json.loads(line[len(MARKER) :])
            return CellResult(
                requests=int(doc["requests"]),
                seconds=doc["duration_us"] / 1e6,
                p50_ms=doc["p50_us"] / 1000,
                p99_ms=doc["p99_us"] / 1000,
                mean_ms=doc["mean_us"] / 1000,
                max_ms=doc["max_us"] / 1000,
                errors=int(doc["errors"]),
            )
    return None


def run(
    wrk: str,
    url: str,
    body_file: Path,
    connections: int,
    seconds: float,
    extra: tuple[str, ...] = (),
    cpu: str = LOADGEN_CPU,
) -> CellResult:
    """One closed-loop run of ``seconds`` with ``connections`` keep-alive connections
    (``extra``: more wrk arguments, such as ``-H`` headers; ``cpu``: where wrk runs)."""
    out = subprocess.run(
        command(wrk, url, connections, seconds, extra, cpu),
        env=environment(body_file),
        capture_output=True,
        text=True,
        check=False,
        timeout=seconds + 30,
    )
    result = parse(out.stdout)
    if result is None:
        raise RuntimeError(f"wrk gave no result (exit {out.returncode}): {out.stdout}{out.stderr}")
    return result


def start(
    wrk: str,
    url: str,
    body_file: Path,
    connections: int,
    longest: float,
    extra: tuple[str, ...] = (),
    cpu: str = LOADGEN_CPU,
) -> subprocess.Popen[str]:
    """A run in the background for at most ``longest`` seconds; ``stop`` ends it sooner."""
    return subprocess.Popen(
        command(wrk, url, connections, longest, extra, cpu),
        env=environment(body_file),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
    )


def stop(process: subprocess.Popen[str]) -> CellResult | None:
    """End a background run (wrk stops on SIGINT and still prints its result)."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
    try:
        out, _ = process.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        out, _ = process.communicate(timeout=10)
    return parse(out)
