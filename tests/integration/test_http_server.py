"""The predictor as a real process on loopback: ``python -m modelops_runtime serve``, as pods
run it, and ``modelops serve``, the same command."""

from __future__ import annotations

import contextlib
import http.client
import http.server
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from tests.integration.servers import CLI, refusal
from tests.integration.servers import call as _call
from tests.models import Trained, slow_model


@pytest.fixture
def http_store(tmp_path: Path) -> Iterator[tuple[str, Path, list[str]]]:
    """A real HTTP file server on loopback serving a temporary folder, and the paths it
    was asked for."""
    root = tmp_path / "www"
    root.mkdir()
    gets: list[str] = []

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
            super().__init__(*args, directory=str(root), **kwargs)

        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            gets.append(self.path)
            super().do_GET()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", root, gets
    server.shutdown()
    server.server_close()


def test_served_over_http_from_an_http_store(start, http_store, ctr: Trained) -> None:
    """Downloaded once: by the child the server forks at its start, whose complete
    download the load finds in the cache."""
    base, root, gets = http_store
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
    assert gets == ["/ctr.joblib"]
    # The collector, off while the server starts, runs again once the load is over.
    frozen = [json.loads(line) for line in log.splitlines() if '"heap frozen after load"' in line]
    assert frozen[0]["collector_enabled"] is True


def _mapped(pid: int) -> set[str]:
    """Which of scikit-learn and pandas the process imported: has their compiled modules
    mapped."""
    maps = Path(f"/proc/{pid}/maps").read_text()
    return {package for package in ("sklearn", "pandas") if f"/{package}/" in maps}


@pytest.mark.parametrize(
    ("model", "imported"),
    [
        # A Booster never uses scikit-learn (XGBoost's import would bring it), and its
        # named columns bring pandas with the first request that has them.
        ("booster_named", {"pandas"}),
        ("iris", {"sklearn"}),  # pandas only notes its version for scikit-learn
        ("houses", {"sklearn", "pandas"}),  # a ColumnTransformer on a DataFrame
        ("ctr", {"sklearn"}),  # an XGBClassifier in a pipeline needs scikit-learn
    ],
)
def test_a_predictor_imports_what_its_model_uses_and_serves_it(
    start, http_store, request: pytest.FixtureRequest, model: str, imported: set[str]
) -> None:
    """A predictor hides what its framework's import brings for nothing (seconds of its
    start); what the model or its requests use is imported when used."""
    trained: Trained = request.getfixturevalue(model)
    base, root, _ = http_store
    (root / trained.path.name).write_bytes(trained.path.read_bytes())
    server = start(f"{base}/{trained.path.name}", "m")
    server.wait_until_ready()
    status, body = _call(server.url + "/v1/models/m:predict", {"instances": trained.rows})
    assert status == 200, body
    np.testing.assert_allclose(body["predictions"], trained.local_predict(), rtol=1e-6)
    assert _mapped(server.process.pid) == imported


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


def test_a_start_logs_failed_predictions_but_not_its_readiness_answers(
    start, tmp_path: Path
) -> None:
    """While the model loads, readiness answers 503 to probes every few milliseconds (the
    activator's): that is their answer, not an error. A prediction refused meanwhile is."""
    server = start(str(slow_model(tmp_path, 2.0, to_load=True)), "slow")
    server.wait_until_live()
    assert _call(server.url + "/v1/models/slow:predict", {"instances": [[1.0]]})[0] == 503
    not_ready = 0
    while (status := _call(server.url + "/v2/health/ready")[0]) != 200:
        assert status == 503
        not_ready += 1
        time.sleep(0.02)
    assert not_ready > 5
    failed = [line for line in server.log.read_text().splitlines() if "request failed" in line]
    assert len(failed) == 1, failed
    assert "v1_predict" in failed[0]


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


def test_a_refused_artifact_is_reported_in_the_termination_log_and_ends_the_server(
    start, tmp_path: Path, iris: Trained
) -> None:
    """A pod that serves without the fetch step (a light wake) must say why it cannot:
    the refusal is the verdict the operator reads back, and the process exits 1."""
    log = tmp_path / "termination-log"
    server = start(str(iris.path), "iris", "--sha256", "0" * 64, "--termination-log", str(log))
    verdict = refusal(server, log)
    assert (verdict.reason, verdict.condition) == ("ChecksumMismatch", "ArtifactVerified")
    assert iris.sha256() in verdict.message


def test_a_served_artifact_leaves_the_termination_log_alone(
    start, tmp_path: Path, iris: Trained
) -> None:
    log = tmp_path / "termination-log"
    server = start(str(iris.path), "iris", "--sha256", iris.sha256(), "--termination-log", str(log))
    server.wait_until_ready()
    status, _ = _call(server.url + "/v1/models/iris:predict", {"instances": iris.rows})
    assert status == 200
    assert not log.exists()


def test_modelops_serve_runs_the_same_predictor(start, iris: Trained) -> None:
    server = start(str(iris.path), "iris", "--version", "iris-v2", "--method", "predict_proba",
                   program=CLI)  # fmt: skip
    server.wait_until_ready()
    status, body = _call(server.url + "/v1/models/iris:predict", {"instances": iris.rows})
    assert status == 200
    np.testing.assert_allclose(body["predictions"], iris.local_predict("predict_proba"))
    status, metadata = _call(server.url + "/v2/models/iris/versions/iris-v2")
    assert (status, metadata["versions"]) == (200, ["iris-v2"])


def test_a_chunked_body_over_the_limit_is_413_and_the_server_stays_up(start, iris: Trained) -> None:
    server = start(str(iris.path), "iris", "--max-body-bytes", "4096")
    server.wait_until_ready()
    rows = json.dumps({"instances": iris.rows * 100}).encode()
    chunks = [rows[i : i + 1024] for i in range(0, len(rows), 1024)]
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    # The server may answer and close before the client has sent it all.
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        connection.request(
            "POST", "/v1/models/iris:predict", body=iter(chunks), encode_chunked=True,
            headers={"Content-Type": "application/json"},
        )  # fmt: skip
    response = connection.getresponse()
    assert response.status == 413
    assert json.loads(response.read())["error"] == "request body is over the limit of 4096 bytes"
    connection.close()
    status, body = _call(server.url + "/v1/models/iris:predict", {"instances": iris.rows})
    assert status == 200
    assert body["predictions"] == iris.local_predict().tolist()
