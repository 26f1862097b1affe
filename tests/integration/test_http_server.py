"""``modelops serve`` as a real process on loopback: the same command the pods run."""

from __future__ import annotations

import http.server
import json
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from tests.models import Trained


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _call(url: str, body: dict | None = None) -> tuple[int, dict]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


class Server:
    def __init__(self, uri: str, name: str, tmp: Path, *extra: str) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp / f"server-{self.port}.log"
        command = [
            sys.executable,
            "-m",
            "modelops_cli.main",
            "serve",
            uri,
            "--name",
            name,
            "--port",
            str(self.port),
            "--cache-dir",
            str(tmp / "cache"),
            *extra,
        ]
        self.process = subprocess.Popen(
            command, stdout=self.log.open("w"), stderr=subprocess.STDOUT
        )

    def wait_until_live(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text()
            try:
                if _call(self.url + "/v2/health/live")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"server did not start:\n{self.log.read_text()}")

    def wait_until_ready(self, timeout: float = 60) -> None:
        self.wait_until_live(timeout)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if _call(self.url + "/v2/health/ready")[0] == 200:
                return
            time.sleep(0.1)
        raise AssertionError(f"model not ready:\n{self.log.read_text()}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def start(tmp_path: Path) -> Iterator:
    servers: list[Server] = []

    def starting(uri: str, name: str, *extra: str) -> Server:
        server = Server(uri, name, tmp_path, *extra)
        servers.append(server)
        return server

    yield starting
    for server in servers:
        server.stop()


@pytest.fixture
def http_store(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A real HTTP file server on loopback serving a temporary folder."""
    root = tmp_path / "www"
    root.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
            super().__init__(*args, directory=str(root), **kwargs)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", root
    server.shutdown()
    server.server_close()


def test_served_over_http_from_an_http_store(start, http_store, ctr: Trained) -> None:
    base, root = http_store
    (root / "ctr.joblib").write_bytes(ctr.path.read_bytes())
    server = start(f"{base}/ctr.joblib", "ctr")
    server.wait_until_ready()
    status, body = _call(server.url + "/v1/models/ctr:predict", {"instances": ctr.rows})
    assert status == 200
    np.testing.assert_array_equal(body["predictions"], ctr.local_predict())
    log = server.log.read_text()
    startup = [json.loads(line) for line in log.splitlines() if '"model loaded"' in line]
    assert startup
    assert startup[0]["format"] == "joblib"
    assert startup[0]["framework"] == "xgboost"
    assert startup[0]["load_seconds"] > 0


def test_concurrent_clients_each_get_their_own_rows(start, booster_json: Trained) -> None:
    server = start(str(booster_json.path), "b")
    server.wait_until_ready()
    rows = np.asarray(booster_json.local_input)
    expected = booster_json.local_predict()

    def one(i: int) -> float:
        status, body = _call(
            server.url + "/v1/models/b:predict", {"instances": [rows[i % len(rows)].tolist()]}
        )
        assert status == 200
        return float(body["predictions"][0])

    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(one, range(200)))
    np.testing.assert_allclose(answers, [expected[i % len(rows)] for i in range(200)], rtol=1e-6)
    with urllib.request.urlopen(server.url + "/metrics", timeout=10) as response:
        metrics = response.read().decode()
    assert 'modelops_requests_total{code="200",route="v1_predict"} 200.0' in metrics
    assert "modelops_batch_rows_count" in metrics
    assert 'modelops_step_seconds_count{step="predict"}' in metrics


def test_missing_artifact_keeps_the_server_up_and_not_ready(start, tmp_path: Path) -> None:
    server = start(str(tmp_path / "nothing.joblib"), "gone")
    server.wait_until_live()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        status, body = _call(server.url + "/v2/health/ready")
        if "loading" not in body.get("error", ""):
            break
        time.sleep(0.1)
    assert status == 503
    assert "no file or folder at" in body["error"]
    assert server.process.poll() is None
