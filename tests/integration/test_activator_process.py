"""``python -m modelops_runtime activate`` as a real process (static routes, no API
server): it proxies to a real predictor, keeps its admin routes apart, and drains on
SIGTERM like the predictor."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from modelops_contracts.serving import STATS_PATH, ActivatorStats
from tests.integration.servers import call, free_port
from tests.models import Trained


def test_the_activator_command_proxies_and_drains(start, iris: Trained, tmp_path: Path) -> None:
    pod = start(str(iris.path), "iris", "--version", "iris-v1")
    pod.wait_until_ready()
    static = tmp_path / "routes.json"
    static.write_text(json.dumps({
        "services": [{"namespace": "ads", "name": "iris",
                      "routes": [{"version": "iris-v1", "percent": 100}]}],
        "pods": [{"namespace": "ads", "version": "iris-v1", "address": f"127.0.0.1:{pod.port}"}],
    }))  # fmt: skip
    port, admin = free_port(), free_port()
    log = tmp_path / "activator.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "modelops_runtime", "activate", "--static", str(static),
         "--host", "127.0.0.1", "--port", str(port), "--admin-port", str(admin)],
        stdout=log.open("w"), stderr=subprocess.STDOUT,
        env={"MODELOPS_ACTIVATOR_DRAIN_SECONDS": "1", "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if call(f"http://127.0.0.1:{admin}/readyz")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        import urllib.request

        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/v1/models/iris:predict",
            data=json.dumps({"instances": iris.rows}).encode(),
            headers={"Host": "iris.ads.svc.cluster.local", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            predicted = json.loads(response.read())
        not_admin = call(f"http://127.0.0.1:{port}{STATS_PATH}")  # proxied: no Service named
        stats = ActivatorStats.from_json(
            json.dumps(call(f"http://127.0.0.1:{admin}{STATS_PATH}")[1])
        )
        process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        while (ready := call(f"http://127.0.0.1:{admin}/readyz"))[0] != 503:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        code = process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert predicted["predictions"] == iris.local_predict().tolist()
    assert not_admin[0] == 400
    assert stats.versions[0].requests == 1
    assert ready[1]["reason"] == "Draining"
    assert code == 0, log.read_text()
