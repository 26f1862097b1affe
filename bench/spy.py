"""Where a server's CPU goes under load: py-spy samples, grouped by the code that runs.

py-spy lives in its own venv next to MLServer's (made once). It samples from CPU 1 while
wrk loads the server on CPU 0; the stacks are kept in the run's folder.
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import loadgen
from servers import CACHE, Running

TOOLS_VENV = CACHE / "tools-venv"

# First match wins, tested on each sample's innermost Python frame (then outward).
GROUPS = [
    ("model call (sklearn/xgboost Python + C++)", ("xgboost/", "sklearn/", "numpy/", "scipy/")),
    ("modelops input conversion", ("models/inputs.py",)),
    ("modelops endpoint, data plane, batcher", ("modelops_runtime/",)),
    ("metrics (prometheus_client)", ("prometheus_client/",)),
    ("Starlette routing, middleware, request/response", ("starlette/",)),
    ("uvicorn HTTP protocol", ("uvicorn/",)),
    ("event loop in C (uvloop: sockets, scheduling)", ("asyncio/", "uvloop/")),
    ("model thread pool", ("concurrent/futures/",)),
]


def ensure_py_spy() -> Path:
    binary = TOOLS_VENV / "bin/py-spy"
    if not binary.exists():
        print(f"installing py-spy into {TOOLS_VENV} (once)", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(TOOLS_VENV)], check=True)
        subprocess.run(
            [str(TOOLS_VENV / "bin/python"), "-m", "pip", "install", "--quiet", "py-spy"],
            check=True,
        )
    return binary


def record(
    running: Running, wrk: str, body: Path, concurrency: int, seconds: float, out: Path
) -> dict[str, float]:
    """Sample the server for ``seconds`` under load; share of samples per group."""
    py_spy = ensure_py_spy()
    load = subprocess.Popen(
        [
            "taskset",
            "-c",
            loadgen.LOADGEN_CPU,
            wrk,
            "-t1",
            f"-c{concurrency}",
            f"-d{round(seconds) + 3}s",
            "-s",
            str(loadgen.LUA),
            running.endpoint.url,
        ],
        env={"BENCH_BODY": str(body), "PATH": "/usr/bin:/bin:/usr/local/bin"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        subprocess.run(
            [
                "taskset",
                "-c",
                loadgen.LOADGEN_CPU,
                str(py_spy),
                "record",
                "--pid",
                str(running.process.pid),
                "--duration",
                str(round(seconds)),
                "--rate",
                "200",
                "--format",
                "raw",
                "--threads",
                "--nonblocking",
                "--output",
                str(out),
            ],
            check=True,
            capture_output=True,
            timeout=seconds + 30,
        )
    finally:
        load.wait(timeout=seconds + 30)
    return breakdown(out)


def breakdown(folded: Path) -> dict[str, float]:
    counts: Counter[str] = Counter()
    total = 0
    for line in folded.read_text().splitlines():
        stack, _, number = line.rpartition(" ")
        if not number.isdigit():
            continue
        samples = int(number)
        total += samples
        counts[_group(stack.split(";"))] += samples
    return {group: count / total for group, count in counts.most_common()} if total else {}


def _group(frames: list[str]) -> str:
    for frame in reversed(frames[1:]):  # frames[0] names the thread
        for group, markers in GROUPS:
            if any(marker in frame for marker in markers):
                return group
    return "other (interpreter, threading)"
