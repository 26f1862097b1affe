"""Servers under test: how to install, configure, start, probe and stop each one.

Every server runs pinned to CPU 0 in its own session (process group), so the group can be
stopped as one and its memory summed over all its processes (MLServer forks workers).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from workloads import Workload

REPO = Path(__file__).resolve().parent.parent
CACHE = Path.home() / ".cache/modelops/bench"
MLSERVER_VENV = CACHE / "mlserver-venv"
MLSERVER_VERSION = "1.7.1"
SERVER_CPU = "0"
PAGE = os.sysconf("SC_PAGE_SIZE")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# One core each: the model libraries must not start a thread per host core on it.
PINNED_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


@dataclass(frozen=True)
class ServerConfig:
    """One way to run one server: a label and how its command line and files are made."""

    server: str  # "modelops" or "mlserver"
    label: str  # short name of the configuration
    notes: str
    settings: dict[str, Any] = field(default_factory=dict)  # MLServer settings.json extras
    model_settings: dict[str, Any] = field(default_factory=dict)  # model-settings.json extras
    flags: tuple[str, ...] = ()  # modelops serve flags


OURS = [ServerConfig("modelops", "default", "modelops serve, default settings")]

MLSERVER_CONFIGS = [
    ServerConfig("mlserver", "default", "defaults: parallel_workers=1, debug (access log) on"),
    ServerConfig(
        "mlserver",
        "inline",
        "parallel_workers=0 (inference in the server process), debug off",
        settings={"parallel_workers": 0, "debug": False},
    ),
    ServerConfig(
        "mlserver",
        "batching",
        "parallel_workers=0, debug off, adaptive batching max_batch_size=64, max_batch_time=1ms",
        settings={"parallel_workers": 0, "debug": False},
        model_settings={"max_batch_size": 64, "max_batch_time": 0.001},
    ),
]


# --- installation ---------------------------------------------------------------------------


def pinned_versions() -> dict[str, str]:
    """scikit-learn, xgboost and numpy as our constraints.txt pins them."""
    wanted = {"scikit-learn", "xgboost", "numpy"}
    pins = {}
    for line in (REPO / "constraints.txt").read_text().splitlines():
        name, _, version = line.partition("==")
        if name.strip() in wanted and version:
            pins[name.strip()] = version.strip()
    return pins


def ensure_mlserver_venv() -> Path:
    """MLServer and its runtimes in their own venv, made once and reused."""
    python = MLSERVER_VENV / "bin/python"
    if (MLSERVER_VENV / ".installed").exists():
        return python
    print(f"creating MLServer's venv in {MLSERVER_VENV} (once)", flush=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(MLSERVER_VENV)], check=True)
    pip = [str(python), "-m", "pip", "install", "--quiet"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    base = [
        f"mlserver=={MLSERVER_VERSION}",
        f"mlserver-sklearn=={MLSERVER_VERSION}",
        f"mlserver-xgboost=={MLSERVER_VERSION}",
        "uvloop==0.21.0",  # 0.23 crashes MLServer 1.7.1's worker processes
        "httptools",  # uvicorn picks it when present: MLServer's fastest HTTP parser
    ]
    same = [f"{name}=={version}" for name, version in pinned_versions().items()]
    if subprocess.run([*pip, *base, *same], check=False).returncode != 0:
        print("MLServer does not resolve with our pins; letting pip choose", flush=True)
        subprocess.run([*pip, *base], check=True)
    (MLSERVER_VENV / ".installed").touch()
    return python


def venv_versions(python: Path, names: list[str]) -> dict[str, str]:
    code = (
        "import json, sys, importlib.metadata as m\n"
        "print(json.dumps({n: m.version(n) for n in sys.argv[1:]}))"
    )
    out = subprocess.run(
        [str(python), "-c", code, *names], check=True, capture_output=True, text=True
    )
    return dict(json.loads(out.stdout))


# --- processes ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _session_processes(session: int) -> Iterator[tuple[str, list[str]]]:
    """(pid, /proc/PID/stat fields after the command name) of a session's live processes."""
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 12 and fields[3] == str(session):  # field 6 of stat: the session id
            yield entry.name, fields


def session_rss(session: int) -> int:
    """Resident bytes of every process in a session (the server and anything it forked)."""
    total = 0
    for pid, _ in _session_processes(session):
        try:
            with open(f"/proc/{pid}/statm") as statm:
                total += int(statm.read().split()[1]) * PAGE
        except (OSError, IndexError, ValueError):
            continue
    return total


def session_cpu_seconds(session: int) -> float:
    """CPU time (user + system, all threads) used so far by a session's live processes."""
    ticks = sum(int(f[11]) + int(f[12]) for _, f in _session_processes(session))  # utime, stime
    return ticks / CLOCK_TICKS


def cpu_busy_seconds(cpu: str) -> float:
    """Time one CPU spent not idle (including time stolen by the hypervisor)."""
    with open("/proc/stat") as stat:
        for line in stat:
            if line.startswith(f"cpu{cpu} "):
                values = [int(v) for v in line.split()[1:]]
                # user, nice, system, steal; interrupts are the loopback's, i.e. the run's
                return (values[0] + values[1] + values[2] + values[7]) / CLOCK_TICKS
    return 0.0


class ForeignLoad:
    """How much of the server's CPU others used between ``start()`` and ``share()``."""

    def __init__(self, session: int) -> None:
        self._session = session
        self._start = (0.0, 0.0, 0.0)

    def start(self) -> None:
        self._start = (
            time.perf_counter(),
            cpu_busy_seconds(SERVER_CPU),
            session_cpu_seconds(self._session),
        )

    def share(self) -> float:
        wall = time.perf_counter() - self._start[0]
        busy = cpu_busy_seconds(SERVER_CPU) - self._start[1]
        ours = session_cpu_seconds(self._session) - self._start[2]
        return max(0.0, busy - ours) / wall if wall > 0 else 0.0


class RssSampler:
    """Samples a session's RSS every ``interval`` seconds; ``peak`` since the last reset."""

    def __init__(self, session: int, interval: float = 0.1) -> None:
        self._session = session
        self._interval = interval
        self._stop = threading.Event()
        self.peak = 0
        self.lifetime_peak = 0
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            rss = session_rss(self._session)
            self.peak = max(self.peak, rss)
            self.lifetime_peak = max(self.lifetime_peak, rss)
            self._stop.wait(self._interval)

    def reset(self) -> None:
        self.peak = session_rss(self._session)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


@dataclass
class Endpoint:
    """How to ask one server for predictions of a batch, and read its answer."""

    port: int
    path: str
    body: Callable[[np.ndarray], bytes]
    answer: Callable[[Any], np.ndarray]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.path}"

    def predict(self, rows: np.ndarray, timeout: float = 5.0) -> np.ndarray:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request("POST", self.path, self.body(rows), {"Content-Type": "application/json"})
            response = conn.getresponse()
            payload = response.read()
        finally:
            conn.close()
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}: {payload[:300]!r}")
        return self.answer(json.loads(payload))


def v1_endpoint(port: int, name: str) -> Endpoint:
    return Endpoint(
        port=port,
        path=f"/v1/models/{name}:predict",
        body=lambda rows: json.dumps({"instances": rows.tolist()}).encode(),
        answer=lambda doc: np.asarray(doc["predictions"]),
    )


def v2_endpoint(port: int, name: str) -> Endpoint:
    def body(rows: np.ndarray) -> bytes:
        tensor = {
            "name": "input-0",
            "shape": list(rows.shape),
            "datatype": "FP64",
            "data": rows.ravel().tolist(),
        }
        return json.dumps({"inputs": [tensor]}).encode()

    return Endpoint(
        port=port,
        path=f"/v2/models/{name}/infer",
        body=body,
        answer=lambda doc: np.asarray(doc["outputs"][0]["data"]),
    )


@dataclass
class Running:
    config: ServerConfig
    process: subprocess.Popen[bytes]
    endpoint: Endpoint
    sampler: RssSampler
    startup_s: float
    log: Path

    def stop(self) -> None:
        self.sampler.stop()
        stop_group(self.process)


def stop_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server's own process group, then SIGKILL what is left of it."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=15)
    # Workers a server forked share its group; none may outlive the run.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def start(
    config: ServerConfig, workload: Workload, folder: Path, startup_timeout: float = 120.0
) -> Running:
    """Start a server for one model and wait for its first correct prediction."""
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    if config.server == "modelops":
        argv = [
            str(REPO / ".venv/bin/modelops"),
            "serve",
            str(workload.ours_artifact),
            "--name",
            workload.name,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
            *config.flags,
        ]
        endpoint = v1_endpoint(port, workload.name)
    else:
        repository = _mlserver_folder(config, workload, folder, port)
        argv = [str(MLSERVER_VENV / "bin/mlserver"), "start", str(repository)]
        endpoint = v2_endpoint(port, workload.name)
    log = folder / "server.log"
    env = {**os.environ, **PINNED_ENV}
    with log.open("wb") as out:
        started = time.perf_counter()
        process = subprocess.Popen(
            ["taskset", "-c", SERVER_CPU, *argv],
            cwd=folder,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    sampler = RssSampler(process.pid)
    running = Running(config, process, endpoint, sampler, 0.0, log)
    try:
        running.startup_s = _first_prediction(running, workload, started, startup_timeout)
    except BaseException:
        running.stop()
        raise
    return running


def _first_prediction(
    running: Running, workload: Workload, started: float, timeout: float
) -> float:
    rows = workload.batch(1)
    while True:
        if running.process.poll() is not None:
            tail = running.log.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{running.config.server} exited at start:\n{tail}")
        try:
            running.endpoint.predict(rows, timeout=2.0)
            return time.perf_counter() - started
        except (OSError, RuntimeError, http.client.HTTPException):
            pass
        if time.perf_counter() - started > timeout:
            raise RuntimeError(f"{running.config.server} served no prediction in {timeout:.0f}s")
        time.sleep(0.01)


def _mlserver_folder(config: ServerConfig, workload: Workload, folder: Path, port: int) -> Path:
    """A model repository MLServer starts from: settings.json + one model's settings."""
    repository = folder / "repository"
    model_dir = repository / workload.name
    model_dir.mkdir(parents=True, exist_ok=True)
    settings = {
        "host": "127.0.0.1",
        "http_port": port,
        "grpc_port": free_port(),
        "metrics_port": free_port(),
        "metrics_dir": str(folder / "metrics"),
        **config.settings,
    }
    (repository / "settings.json").write_text(json.dumps(settings, indent=2))
    artifact = model_dir / workload.mlserver_artifact.name
    if not artifact.exists():
        artifact.symlink_to(workload.mlserver_artifact)
    model_settings = {
        "name": workload.name,
        "implementation": workload.mlserver_implementation,
        "parameters": {"uri": f"./{artifact.name}"},
        **config.model_settings,
    }
    (model_dir / "model-settings.json").write_text(json.dumps(model_settings, indent=2))
    return repository
