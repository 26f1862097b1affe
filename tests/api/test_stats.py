"""``GET /modelops/stats``: the pod's load as the autoscaler reads it (the contract's
PodStats), counting predict and infer requests only."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import numpy as np

from modelops_contracts.serving import STATS_PATH, PodStats
from tests.api.conftest import Serve
from tests.api.test_metrics import ENTERED, Gated, gate, scrape, value
from tests.models import Trained

__all__ = ["gate"]  # the fixture, shared with the metrics tests


async def stats(client) -> PodStats:  # type: ignore[no-untyped-def]
    response = await client.get(STATS_PATH)
    assert response.status_code == 200
    return PodStats.from_json(response.content)


async def test_a_fresh_pod_reports_no_load(serve: Serve, iris: Trained) -> None:
    before = time.time()
    async with serve(iris.path, name="iris") as client:
        for path in ("/v2/health/ready", "/v2/health/live", "/v2/models/iris", "/metrics"):
            assert (await client.get(path)).status_code == 200
        found = await stats(client)
    assert (found.in_flight, found.requests, found.last_request, found.draining) == (
        0,
        0,
        0.0,
        False,
    )
    assert before - 60 < found.started <= time.time()


async def test_in_flight_and_answered_count_predictions_only(
    serve: Serve, tmp_path: Path, gate: threading.Event
) -> None:
    import joblib

    joblib.dump(Gated(), tmp_path / "gated.joblib")
    tensor = {"name": "x", "shape": [1, 1], "datatype": "FP64", "data": [1.0]}
    async with serve(tmp_path / "gated.joblib", name="gated") as client:
        calls = [
            asyncio.create_task(client.post("/v1/models/gated:predict", json={"instances": [[i]]}))
            for i in range(2)
        ]
        calls.append(
            asyncio.create_task(client.post("/v2/models/gated/infer", json={"inputs": [tensor]}))
        )
        assert await asyncio.to_thread(ENTERED.wait, 30)
        deadline = time.monotonic() + 15
        while (busy := await stats(client)).in_flight < 3:
            assert time.monotonic() < deadline, f"in flight stayed at {busy.in_flight}"
            await asyncio.sleep(0.01)
        # Probes, scrapes and stats reads while three predictions are held: not load.
        for path in ("/v2/health/ready", "/v2/health/live", "/metrics", STATS_PATH):
            assert (await client.get(path)).status_code == 200
        held = await stats(client)
        gauge = value(await scrape(client), "modelops_in_flight_requests")
        gate.set()
        answers = await asyncio.gather(*calls)
        done = await stats(client)
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert (held.in_flight, held.requests) == (3, 0)
    assert gauge == 3  # the Prometheus gauge reads the same counter
    assert (done.in_flight, done.requests) == (0, 3)
    assert done.last_request >= held.started


async def test_refused_predictions_are_answered_requests_too(serve: Serve, iris: Trained) -> None:
    async with serve(iris.path, name="iris") as client:
        bad = await client.post("/v1/models/iris:predict", json={"instances": [[1, 2]]})
        good = await client.post("/v1/models/iris:predict", json={"instances": iris.rows[:2]})
        found = await stats(client)
    assert (bad.status_code, good.status_code) == (400, 200)
    assert (found.in_flight, found.requests) == (0, 2)
    np.testing.assert_array_equal(good.json()["predictions"], iris.local_predict()[:2])


async def test_a_draining_pod_is_not_ready_and_says_why(serve: Serve, iris: Trained) -> None:
    async with serve(iris.path, name="iris") as client:
        client.plane.pod.draining = True  # type: ignore[attr-defined]
        ready = await client.get("/v2/health/ready")
        model_ready = await client.get("/v2/models/iris/ready")
        predicted = await client.post("/v1/models/iris:predict", json={"instances": iris.rows})
        found = await stats(client)
    assert (ready.status_code, model_ready.status_code) == (503, 503)
    assert ready.json()["reason"] == "Draining"
    assert "shutting down" in ready.json()["error"]
    assert predicted.status_code == 200  # still answered while the pod drains
    assert predicted.headers["connection"] == "close"  # the next one goes elsewhere
    assert found.draining is True
