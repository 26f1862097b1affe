"""SIGTERM on a real predictor process: it drains (not ready, still answering), finishes
every request it holds, and exits 0."""

from __future__ import annotations

import http.client
import json
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from modelops_contracts.serving import DRAIN_SECONDS_ENV, STATS_PATH, PodStats
from tests.integration.servers import call
from tests.models import slow_model


def predict(port: int, row: float) -> tuple[int, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        body = json.dumps({"instances": [[row]]})
        conn.request("POST", "/v1/models/slow:predict", body, {"Content-Type": "application/json"})
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def test_requests_in_flight_at_sigterm_all_complete_and_readiness_fails_at_once(
    start, tmp_path: Path
) -> None:
    server = start(str(slow_model(tmp_path, 1.5)), "slow", env={DRAIN_SECONDS_ENV: "1"})
    server.wait_until_ready()
    with ThreadPoolExecutor(max_workers=8) as pool:
        held = [pool.submit(predict, server.port, float(i)) for i in range(6)]
        deadline = time.monotonic() + 30
        while PodStats.from_json(json.dumps(call(server.url + STATS_PATH)[1])).in_flight < 6:
            assert time.monotonic() < deadline, "the six requests never were in flight together"
            time.sleep(0.01)
        server.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        while (ready := call(server.url + "/v2/health/ready"))[0] != 503:
            assert time.monotonic() < deadline, f"readiness still answers {ready}"
            time.sleep(0.01)
        stats = PodStats.from_json(json.dumps(call(server.url + STATS_PATH)[1]))
        during = predict(server.port, 9.0)  # arrives during the drain: still answered
        answers = [future.result(timeout=60) for future in held]
    exit_code = server.process.wait(timeout=60)
    assert ready[1]["reason"] == "Draining"
    assert stats.draining is True
    assert stats.in_flight >= 1  # SIGTERM came while requests were held
    assert during[0] == 200
    assert [status for status, _ in answers] == [200] * 6
    assert exit_code == 0, server.log.read_text()
    log = server.log.read_text()
    assert '"draining: not ready, still answering"' in log


def test_the_drain_lasts_while_predictions_keep_coming_and_ends_at_its_limit(
    start, tmp_path: Path
) -> None:
    """Endpoint removal can take longer than ``drain_seconds`` to reach kube-proxy: a pod
    still sent predictions after SIGTERM keeps answering them, and with traffic that
    never stops the drain still ends (at three times ``drain_seconds``) and exits 0."""
    server = start(str(slow_model(tmp_path, 0.0)), "slow", env={DRAIN_SECONDS_ENV: "1"})
    server.wait_until_ready()
    server.process.send_signal(signal.SIGTERM)
    answers: list[int] = []
    deadline = time.monotonic() + 30
    while server.process.poll() is None and time.monotonic() < deadline:
        try:
            answers.append(predict(server.port, 1.0)[0])
        except OSError:
            break  # the listener closed: the drain ended
        time.sleep(0.2)
    exit_code = server.process.wait(timeout=30)
    assert exit_code == 0, server.log.read_text()
    # A fixed one-second delay would have answered about five; the last ~2 s of these
    # came after a second with traffic, when only its arrival kept the pod answering.
    assert len(answers) >= 10, (answers, server.log.read_text())
    assert set(answers) == {200}
    assert '"drained"' in server.log.read_text()
