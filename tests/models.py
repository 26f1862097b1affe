"""Real models trained in the test session, saved in every format we serve.

Nothing here is committed as a file: each test session trains and saves its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np


@dataclass
class Trained:
    """A model, the file it was saved to, and rows in each input shape it accepts."""

    name: str
    path: Path
    model: Any
    rows: list[Any]  # JSON-ready request rows
    local_input: Any  # the same rows as the local model takes them

    def local_predict(self, method: str = "predict") -> np.ndarray:
        return np.asarray(getattr(self.model, method)(self.local_input))

    def sha256(self) -> str:
        import hashlib

        return hashlib.sha256(self.path.read_bytes()).hexdigest()


def iris_pipeline(folder: Path) -> Trained:
    import joblib
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = load_iris(return_X_y=True)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(X, y)
    path = folder / "iris.joblib"
    joblib.dump(model, path)
    sample = X[::15]
    return Trained("iris", path, model, sample.tolist(), sample)


def ctr_dict_pipeline(folder: Path, flipped: bool = False) -> Trained:
    """Click-through records → DictVectorizer → XGBoost, the way the demo trains it.
    ``flipped`` learns the opposite labels: another model whose every prediction differs."""
    import joblib
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.pipeline import make_pipeline
    from xgboost import XGBClassifier

    rng = np.random.default_rng(7)
    sites = ["news", "sports", "shop", "video"]
    devices = ["phone", "desktop", "tablet"]
    records = [
        {
            "site": str(rng.choice(sites)),
            "device": str(rng.choice(devices)),
            "hour": int(rng.integers(0, 24)),
            "position": int(rng.integers(1, 6)),
        }
        for _ in range(400)
    ]
    y = np.array(
        [(r["site"] == "shop") ^ (r["position"] < 3) ^ flipped for r in records], dtype=int
    )
    model = make_pipeline(
        DictVectorizer(sparse=False), XGBClassifier(n_estimators=20, max_depth=3, n_jobs=1)
    ).fit(records, y)
    path = folder / ("ctr-flipped.joblib" if flipped else "ctr.joblib")
    joblib.dump(model, path)
    sample = records[:12]
    return Trained("ctr", path, model, sample, sample)


def column_pipeline(folder: Path) -> Trained:
    """A ColumnTransformer on a DataFrame with a string and two numeric columns."""
    import joblib
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    rng = np.random.default_rng(3)
    frame = pd.DataFrame(
        {
            "city": rng.choice(["paris", "lyon", "nice"], size=200),
            "rooms": rng.integers(1, 6, size=200),
            "area": rng.uniform(20, 150, size=200).round(1),
        }
    )
    price = frame["area"] * 100 + frame["rooms"] * 500 + (frame["city"] == "paris") * 3000
    columns = ColumnTransformer(
        [
            ("city", OneHotEncoder(handle_unknown="ignore"), ["city"]),
            ("numbers", StandardScaler(), ["rooms", "area"]),
        ]
    )
    model = make_pipeline(columns, RandomForestRegressor(n_estimators=10, random_state=0)).fit(
        frame, price
    )
    path = folder / "houses.joblib"
    joblib.dump(model, path)
    sample = frame.iloc[:10].reset_index(drop=True)
    rows = [
        {"city": str(r.city), "rooms": int(r.rooms), "area": float(r.area)}
        for r in sample.itertuples()
    ]
    return Trained("houses", path, model, rows, sample)


def xgb_booster(folder: Path, suffix: str, feature_names: bool = False) -> Trained:
    """A native Booster (binary:logistic) saved with save_model as .json or .ubj."""
    import xgboost as xgb

    rng = np.random.default_rng(11)
    X = rng.normal(size=(300, 6)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] * X[:, 2] > 0).astype(int)
    names = [f"f_{i}" for i in range(6)] if feature_names else None
    train = xgb.DMatrix(X, label=y, feature_names=names)
    booster = xgb.train(
        {"objective": "binary:logistic", "max_depth": 3, "nthread": 1}, train, num_boost_round=15
    )
    path = folder / f"booster{'-named' if feature_names else ''}{suffix}"
    booster.save_model(path)
    sample = X[:8]

    class Local:
        """Booster.predict on a DMatrix, the way a user predicts locally."""

        def predict(self, rows: np.ndarray) -> np.ndarray:
            return booster.predict(xgb.DMatrix(rows, feature_names=names))

    rows: list[Any] = sample.tolist()
    if feature_names:
        rows = [dict(zip(names or [], map(float, r), strict=True)) for r in sample]
    return Trained("booster", path, Local(), rows, sample)


def skops_pipeline(folder: Path) -> Trained:
    import skops.io as sio

    trained = iris_pipeline(folder)
    path = folder / "iris.skops"
    sio.dump(trained.model, path)
    trained.path.unlink()
    return Trained("iris-skops", path, trained.model, trained.rows, trained.local_input)


class Slow:
    """A model whose every call takes ``seconds``: requests stay in flight long enough to
    be seen. Pickled by reference, so a predictor process started from the repository's
    root (as the integration tests start it) loads it too."""

    n_features_in_ = 1

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def predict(self, rows: np.ndarray) -> np.ndarray:
        import time

        time.sleep(self.seconds)
        return np.arange(len(rows), dtype=float)


class SlowToLoad(Slow):
    """A model whose load takes ``seconds`` (its calls do not): a start that lasts."""

    def __setstate__(self, state: dict[str, Any]) -> None:
        import time

        time.sleep(state["seconds"])
        self.seconds = 0.0


def slow_model(folder: Path, seconds: float, to_load: bool = False) -> Path:
    import joblib

    path = folder / f"slow-{'load-' if to_load else ''}{seconds:g}.joblib"
    joblib.dump((SlowToLoad if to_load else Slow)(seconds), path)
    return path
