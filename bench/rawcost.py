"""In-process predict cost of a saved model: what a server cannot go below.

Run as a child pinned to the server's core: ``rawcost.py MODEL.joblib ROWS.npy REPEATS``.
Prints one JSON object of median microseconds per call.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import joblib
import numpy as np


def median_us(call: Callable[[], Any], repeats: int) -> float:
    for _ in range(min(50, repeats)):
        call()
    times = []
    for _ in range(repeats):
        started = time.perf_counter_ns()
        call()
        times.append(time.perf_counter_ns() - started)
    return statistics.median(times) / 1000.0


def main(model_path: str, rows_path: str, repeats: int) -> dict[str, float]:
    model = joblib.load(model_path)
    rows = np.load(rows_path)
    costs: dict[str, float] = {}
    for size in (1, 32):
        batch = rows[:size]
        costs[f"predict_{size}"] = median_us(lambda b=batch: model.predict(b), repeats)
        booster = getattr(model, "get_booster", None)
        if booster is not None:
            native = booster()
            costs[f"inplace_predict_{size}"] = median_us(
                lambda b=batch, n=native: n.inplace_predict(b), repeats
            )
    return costs


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2], int(sys.argv[3]))))
