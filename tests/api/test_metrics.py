"""The metrics docs/predictor.md lists are on /metrics and move as requests are served."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.api.conftest import Serve
from tests.models import Trained

ENTERED = threading.Event()  # a Gated model call has started
GATE = threading.Event()  # lets Gated model calls finish


class Gated:
    """A model whose calls wait at a gate the test opens: requests stay in flight."""

    n_features_in_ = 1

    def predict(self, rows: np.ndarray) -> np.ndarray:
        ENTERED.set()
        assert GATE.wait(timeout=30), "the test never opened the gate"
        return np.zeros(len(rows))


@pytest.fixture
def gate() -> Iterator[threading.Event]:
    ENTERED.clear()
    GATE.clear()
    yield GATE
    GATE.set()  # never leave a model thread waiting


async def scrape(client: httpx.AsyncClient) -> dict[tuple[str, frozenset], float]:
    response = await client.get("/metrics")
    assert response.status_code == 200
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: dict[tuple[str, frozenset], float], name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def moved(before: dict, after: dict, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


async def test_a_loaded_model_is_ready_and_its_load_time_recorded(
    serve: Serve, iris: Trained
) -> None:
    async with serve(iris.path, name="iris") as client:
        loaded = await scrape(client)
    async with serve(iris.path, name="iris", sha256="0" * 64) as client:
        refused = await scrape(client)
    assert value(loaded, "modelops_model_ready") == 1.0
    assert value(loaded, "modelops_model_load_seconds") > 0.0
    assert value(refused, "modelops_model_ready") == 0.0


async def test_requests_move_the_counters_timers_and_step_histograms(
    serve: Serve, iris: Trained
) -> None:
    rows = iris.rows[:3]
    tensor = {"name": "x", "shape": [3, 4], "datatype": "FP64", "data": np.ravel(rows).tolist()}
    async with serve(iris.path, name="iris") as client:
        before = await scrape(client)
        for _ in range(3):  # one after another: each is a model call of its own
            v1 = await client.post("/v1/models/iris:predict", json={"instances": rows})
            assert v1.status_code == 200
        for _ in range(2):
            v2 = await client.post("/v2/models/iris/infer", json={"inputs": [tensor]})
            assert v2.status_code == 200
        bad = await client.post("/v1/models/iris:predict", json={"instances": [[1, 2]]})
        assert bad.status_code == 400
        after = await scrape(client)

    def count(name: str, **labels: str) -> float:
        return moved(before, after, name, **labels)

    assert count("modelops_requests_total", route="v1_predict", code="200") == 3
    assert count("modelops_requests_total", route="v1_predict", code="400") == 1
    assert count("modelops_requests_total", route="v2_infer", code="200") == 2
    assert count("modelops_request_seconds_count", route="v1_predict") == 4
    assert count("modelops_request_seconds_count", route="v2_infer") == 2
    assert count("modelops_request_seconds_sum", route="v2_infer") > 0
    assert count("modelops_step_seconds_count", step="decode") == 6  # the 400 was decoded too
    assert count("modelops_step_seconds_count", step="predict") == 5
    assert count("modelops_step_seconds_count", step="encode") == 5
    for step in ("decode", "predict", "encode"):
        assert count("modelops_step_seconds_sum", step=step) > 0
    assert count("modelops_batch_rows_count") == 5
    assert count("modelops_batch_rows_sum") == 15


async def test_in_flight_counts_requests_being_served(
    serve: Serve, tmp_path: Path, gate: threading.Event
) -> None:
    import joblib

    joblib.dump(Gated(), tmp_path / "gated.joblib")
    async with serve(tmp_path / "gated.joblib", name="gated") as client:
        idle = value(await scrape(client), "modelops_in_flight_requests")
        calls = [
            asyncio.create_task(client.post("/v1/models/gated:predict", json={"instances": [[i]]}))
            for i in range(3)
        ]
        assert await asyncio.to_thread(ENTERED.wait, 30)
        deadline = time.monotonic() + 15
        while (busy := value(await scrape(client), "modelops_in_flight_requests")) < idle + 3:
            assert time.monotonic() < deadline, f"in flight stayed at {busy}, idle {idle}"
            await asyncio.sleep(0.01)
        gate.set()
        answers = await asyncio.gather(*calls)
        done = value(await scrape(client), "modelops_in_flight_requests")
    assert [a.json() for a in answers] == [{"predictions": [0.0]}] * 3
    assert busy == idle + 3
    assert done == idle
