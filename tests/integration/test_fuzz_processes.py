"""Schemathesis fuzzes real processes from the predictor's own OpenAPI description: the
predictor (``python -m modelops_runtime serve``, uvicorn on loopback) directly, and the
activator (``activate --static``) in front of it, which serves the same routes by
proxying them (the description itself is read through it). The same cases as
tests/api/test_fuzz.py, fewer of them: no answer may be a 5xx but the model's own
failure (500 ``ModelError``), every answer must be one the description allows; afterwards
both processes run and answer, and sending every case again leaves their resident memory
where it was. The cases run are printed and recorded (``fuzz_cases``)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests import fuzzing
from tests.integration.servers import call
from tests.models import Trained
from tests.ports import free_port

SERVICE = {"X-Modelops-Service": "ads/iris"}


def rss(pid: int) -> int:
    """A process's resident memory in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for process {pid}")


def activator(tmp_path: Path, predictor_port: int) -> tuple[subprocess.Popen[bytes], int, int]:
    """An activator process routing ads/iris to the predictor; (process, port, admin)."""
    static = tmp_path / "routes.json"
    static.write_text(json.dumps({
        "services": [{"namespace": "ads", "name": "iris",
                      "routes": [{"version": fuzzing.VERSION, "percent": 100}]}],
        "pods": [{"namespace": "ads", "version": fuzzing.VERSION,
                  "address": f"127.0.0.1:{predictor_port}"}],
    }))  # fmt: skip
    port, admin = free_port(), free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "modelops_runtime", "activate", "--static", str(static),
         "--host", "127.0.0.1", "--port", str(port), "--admin-port", str(admin)],
        stdout=(tmp_path / "activator.log").open("w"), stderr=subprocess.STDOUT,
        env={"MODELOPS_ACTIVATOR_DRAIN_SECONDS": "0", "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while True:
        try:
            if call(f"http://127.0.0.1:{admin}/readyz")[0] == 200:
                return process, port, admin
        except OSError:
            pass
        assert process.poll() is None, (tmp_path / "activator.log").read_text()
        assert time.monotonic() < deadline, (tmp_path / "activator.log").read_text()
        time.sleep(0.05)


@pytest.mark.timeout(420)  # a bound for a stall: the cases are counted (tests/fuzzing.py)
@pytest.mark.parametrize("through", ["predictor", "activator"])
def test_no_request_is_a_server_error_on_real_processes(
    through: str, start, iris: Trained, tmp_path: Path, record_property: Any
) -> None:
    import requests
    import schemathesis

    pod = start(str(iris.path), iris.name, "--version", fuzzing.VERSION)
    pod.wait_until_ready()
    pids, headers = [pod.process.pid], {}
    proxy: subprocess.Popen[bytes] | None = None
    base = pod.url
    if through == "activator":
        proxy, port, admin = activator(tmp_path, pod.port)
        pids.append(proxy.pid)
        base, headers = f"http://127.0.0.1:{port}", SERVICE
    try:
        schema = schemathesis.openapi.from_url(f"{base}/openapi.json", headers=headers)
        session = requests.Session()
        fuzzed = fuzzing.run(
            schema, iris, lambda case: case.call(base_url=base, session=session, headers=headers),
            base_url=base, headers=headers, predicting=120, other=8,
            storage=tmp_path / "hypothesis",
        )  # fmt: skip
        before = [rss(pid) for pid in pids]
        for kwargs in fuzzed.sent:
            session.request(**kwargs)
        after = [rss(pid) for pid in pids]
        live = session.get(f"{base}/v2/health/live", headers=headers)
        predicted = session.post(f"{base}/v1/models/{iris.name}:predict",
                                 json={"instances": iris.rows}, headers=headers)  # fmt: skip
        alive = [pod.process.poll() is None] + ([proxy.poll() is None] if proxy else [])
        if proxy is not None:
            ready = call(f"http://127.0.0.1:{admin}/readyz")[0]
    finally:
        if proxy is not None:
            proxy.terminate()
            proxy.wait(timeout=30)
    pairs = list(zip(before, after, strict=True))
    memory = ", ".join(f"{a / 2**20:.1f} then {b / 2**20:.1f} MiB" for a, b in pairs)
    print(f"\n{fuzzed.report(through)}\nsent again: {memory}")
    record_property("fuzz_cases", fuzzed.cases)
    record_property("fuzz_answers", fuzzed.statuses())
    assert all(alive)
    assert live.status_code == 200
    assert predicted.status_code == 200, predicted.text
    if proxy is not None:
        assert ready == 200
    for grown in (b - a for a, b in pairs):
        assert grown < 16 * 2**20, "a server keeps memory for what it answered"
