"""The benchmark models, trained fresh for every run and saved where each server wants them.

Nothing here is committed: the artifacts land in the run's folder under ``bench/results/``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import joblib
import numpy as np

SEED = 7


@dataclass(frozen=True)
class Workload:
    """One model as both servers get it, plus the rows the load generator sends."""

    name: str  # also the model name in the URL paths
    framework: str  # as metadata.json records it
    description: str
    ours_artifact: Path  # what `modelops serve` loads
    ours_format: str
    mlserver_artifact: Path  # what MLServer's runtime loads
    mlserver_implementation: str
    rows: np.ndarray  # 32 held-out rows; batch N sends the first N

    def batch(self, size: int) -> np.ndarray:
        return self.rows[:size]

    def expected(self, size: int) -> np.ndarray:
        """What ``model.predict`` says locally for the rows of a batch (a Booster's
        ``inplace_predict``, as the predictor serves it)."""
        if self.ours_artifact.suffix in (".json", ".ubj"):
            import xgboost

            booster = xgboost.Booster(model_file=str(self.ours_artifact))
            return np.asarray(booster.inplace_predict(self.batch(size).astype(np.float32)))
        model = joblib.load(self.ours_artifact)
        return np.asarray(model.predict(self.batch(size)))


def train_all(folder: Path) -> list[Workload]:
    folder.mkdir(parents=True, exist_ok=True)
    return [train_xgboost(folder / "xgb"), train_pipeline(folder / "pipeline")]


def train_xgboost(folder: Path) -> Workload:
    """XGBClassifier, 200 trees of depth 6 on 40 features (binary)."""
    from sklearn.datasets import make_classification
    from xgboost import XGBClassifier

    x, y = make_classification(n_samples=12_000, n_features=40, n_informative=24, random_state=SEED)
    model = XGBClassifier(n_estimators=200, max_depth=6, learning_rate=0.1, random_state=SEED)
    model.fit(x[:10_000], y[:10_000])
    # mlserver-xgboost 1.7.1 would load a Booster .json into an XGBRegressor first, which
    # xgboost 3.x accepts: it then answers probabilities, not labels. Its sklearn runtime
    # serves the same XGBClassifier from joblib and answers what model.predict does.
    return _saved(
        model,
        folder,
        name="xgb",
        framework="xgboost",
        description="XGBClassifier, 200 trees, depth 6, 40 features",
        ours_format="joblib (XGBClassifier)",
        rows=_rows(x[10_000:]),
    )


def train_booster(folder: Path) -> Workload:
    """The same XGBoost model as ``train_xgboost``, saved the way XGBoost saves its own:
    ``booster.save_model("model.ubj")`` (a Booster; no scikit-learn needed to serve it)."""
    classifier = train_xgboost(folder / "classifier")
    booster = joblib.load(classifier.ours_artifact).get_booster()
    ours = folder / "model.ubj"
    booster.save_model(ours)
    return Workload(
        name="booster",
        framework="xgboost",
        description="the XGBClassifier's Booster, saved with save_model (.ubj)",
        ours_artifact=ours,
        ours_format="xgboost-ubj (Booster)",
        mlserver_artifact=classifier.mlserver_artifact,
        mlserver_implementation=classifier.mlserver_implementation,
        rows=classifier.rows,
    )


def train_pipeline(folder: Path) -> Workload:
    """Pipeline(StandardScaler, LogisticRegression) on 20 features."""
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x, y = make_classification(
        n_samples=6_000, n_features=20, n_informative=12, n_classes=3, random_state=SEED
    )
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1_000))
    model.fit(x[:5_000], y[:5_000])
    return _saved(
        model,
        folder,
        name="pipeline",
        framework="sklearn",
        description="Pipeline(StandardScaler, LogisticRegression), 20 features, 3 classes",
        ours_format="joblib (Pipeline)",
        rows=_rows(x[5_000:]),
    )


def _saved(
    model: object,
    folder: Path,
    name: str,
    framework: str,
    description: str,
    ours_format: str,
    rows: np.ndarray,
) -> Workload:
    """Save the fitted model for both servers: ours and MLServer's sklearn runtime read the
    same joblib file, each from its own folder."""
    folder.mkdir(parents=True, exist_ok=True)
    ours = folder / "model.joblib"
    joblib.dump(model, ours)
    mlserver_dir = folder / "mlserver"
    mlserver_dir.mkdir(exist_ok=True)
    mlserver_file = mlserver_dir / "model.joblib"
    joblib.dump(model, mlserver_file)
    return Workload(
        name=name,
        framework=framework,
        description=description,
        ours_artifact=ours,
        ours_format=ours_format,
        mlserver_artifact=mlserver_file,
        mlserver_implementation="mlserver_sklearn.SKLearnModel",
        rows=rows,
    )


def _rows(held_out: np.ndarray) -> np.ndarray:
    # Values that survive a JSON round trip exactly, so served and local inputs are equal.
    rows = np.round(held_out[:32], 6)
    return np.asarray(json.loads(json.dumps(rows.tolist())), dtype=np.float64)
