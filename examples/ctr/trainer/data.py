"""Synthetic click logs shaped like Criteo's: 13 integer features (I1..I13, heavy-tailed
counts, some missing), 26 categorical ones (C1..C26, hashed tokens, some missing) and a
click label, one gzipped CSV per day under ``day=YYYY-MM-DD/part-0.csv.gz``.

Clicks follow a learnable signal (a few counts and a few categories matter) that drifts a
little from day to day, so a model trained on recent days beats an older one. A day's
rows depend only on the seed and the date, never on how many days are written.

    python -m trainer.data --out s3://bucket/ctr-days --end 2025-01-15 --days 14
"""

from __future__ import annotations

import argparse
import math
import tempfile
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

INTEGER_FEATURES = [f"I{i}" for i in range(1, 14)]
CATEGORICAL_FEATURES = [f"C{i}" for i in range(1, 27)]
LABEL = "clicked"
ROWS_PER_DAY = 2000
PART = "part-0.csv.gz"
# The signal turns slowly, a full turn in half a year (2 degrees a day): a model a week old
# scores about 0.02 AUC below a fresh one on the newest day.
DRIFT_PERIOD_DAYS = 180.0


def partition(day: date) -> str:
    return f"day={day.isoformat()}/{PART}"


def day_frame(day: date, rows: int = ROWS_PER_DAY, seed: int = 0) -> pd.DataFrame:
    """One day of impressions, the same for the same (day, rows, seed)."""
    rng = np.random.default_rng([seed, day.toordinal()])
    columns: dict[str, Any] = {}
    for i, name in enumerate(INTEGER_FEATURES):
        counts = np.floor(rng.lognormal(mean=0.3 + 0.25 * i, sigma=1.1, size=rows))
        missing = rng.random(rows) < 0.05 + 0.01 * i
        columns[name] = pd.array(np.where(missing, np.nan, counts), dtype="Int64")
    for c, name in enumerate(CATEGORICAL_FEATURES):
        vocabulary = _vocabulary(c, seed)
        weights = 1.0 / np.arange(1, len(vocabulary) + 1)  # Zipf-like: a few values dominate
        picked = rng.choice(len(vocabulary), size=rows, p=weights / weights.sum())
        missing = rng.random(rows) < (0.15 if c % 5 == 4 else 0.0)
        columns[name] = np.where(missing, None, np.asarray(vocabulary, dtype=object)[picked])
    frame = pd.DataFrame(columns)
    logit = _logit(frame, day, seed)
    frame[LABEL] = (rng.random(rows) < 1.0 / (1.0 + np.exp(-logit))).astype(int)
    return frame


def _vocabulary(column: int, seed: int) -> list[str]:
    size = int(np.random.default_rng([seed, 1_000 + column]).integers(4, 60))
    return [f"{(column * 2_654_435_761 + k * 40_503 + seed) & 0xFFFFFFFF:08x}" for k in range(size)]


def _logit(frame: pd.DataFrame, day: date, seed: int) -> np.ndarray:
    """The click signal of ``day``: each effect turns between two fixed values."""
    angle = 2 * math.pi * day.toordinal() / DRIFT_PERIOD_DAYS
    turn = np.array([math.cos(angle), math.sin(angle)])
    rng = np.random.default_rng([seed, 7])
    logit = np.full(len(frame), -1.4)
    for name in INTEGER_FEATURES[:5]:
        weight = rng.normal(0.0, 0.35, size=2) @ turn
        values = np.log1p(frame[name].to_numpy(dtype=float, na_value=np.nan))
        logit += weight * np.nan_to_num(values, nan=0.0)
    for c, name in enumerate(CATEGORICAL_FEATURES[:8]):
        vocabulary = _vocabulary(c, seed)
        effects = rng.normal(0.0, 0.8, size=(len(vocabulary), 2)) @ turn
        index = {token: k for k, token in enumerate(vocabulary)}
        logit += np.array([effects[index[v]] if v in index else 0.0 for v in frame[name]])
    return logit


def write_days(out: str, end: date, days: int, rows: int = ROWS_PER_DAY, seed: int = 0) -> None:
    """Days ``end - days + 1`` .. ``end`` under ``out`` (any store URI the runtime writes)."""
    from modelops_runtime import storage

    with tempfile.TemporaryDirectory() as tmp:
        for offset in range(days):
            day = end - timedelta(days=days - 1 - offset)
            path = Path(tmp) / partition(day)
            path.parent.mkdir(parents=True)
            day_frame(day, rows, seed).to_csv(path, index=False)
        storage.upload(Path(tmp), out)


def read_days(data: str, days: Sequence[date], cache: Path) -> pd.DataFrame:
    """The rows of ``days`` from the store at ``data``; a missing day is an error that
    names it."""
    from modelops_runtime import storage
    from modelops_runtime.errors import ArtifactError

    frames = []
    for day in days:
        uri = f"{data.rstrip('/')}/{partition(day)}"
        try:
            local = storage.fetch(uri, cache)
        except ArtifactError as err:
            raise SystemExit(f"no data for {day} at {uri}: {err}") from err
        dtypes = dict.fromkeys(INTEGER_FEATURES, "float64")
        dtypes |= dict.fromkeys(CATEGORICAL_FEATURES, "object")
        frames.append(pd.read_csv(local, dtype=dtypes))
    return pd.concat(frames, ignore_index=True)


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as the model takes them: a record per impression, missing features left out."""
    counts = frame[INTEGER_FEATURES].to_numpy(dtype=float)
    tokens = frame[CATEGORICAL_FEATURES].to_numpy(dtype=object)
    rows = []
    for count_row, token_row in zip(counts, tokens, strict=True):
        row: dict[str, Any] = {
            name: value
            for name, value in zip(INTEGER_FEATURES, count_row.tolist(), strict=True)
            if not math.isnan(value)
        }
        row |= {
            name: value
            for name, value in zip(CATEGORICAL_FEATURES, token_row, strict=True)
            if isinstance(value, str)
        }
        rows.append(row)
    return rows


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m trainer.data", description=__doc__)
    parser.add_argument("--out", required=True, help="store URI, e.g. s3://bucket/ctr-days")
    parser.add_argument("--end", type=date.fromisoformat, default=date.today() - timedelta(1))
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--rows", type=int, default=ROWS_PER_DAY, help="rows per day")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    write_days(args.out, args.end, args.days, args.rows, args.seed)
    print(f"wrote {args.days} days ({args.rows} rows each) up to {args.end} to {args.out}")


if __name__ == "__main__":
    main()
