"""Train a small click-through-rate model: pandas records → DictVectorizer → XGBoost.

python examples/ctr/train.py OUT.joblib     writes the model and prints sample rows
"""

from __future__ import annotations

import sys
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from sklearn.feature_extraction import DictVectorizer
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline, make_pipeline
from xgboost import XGBClassifier


def impressions(n: int, seed: int = 0) -> pd.DataFrame:
    """Ad impressions: where, on what, when, at which slot — and whether it was clicked."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "site": rng.choice(["news", "sports", "shop", "video"], size=n),
            "device": rng.choice(["phone", "desktop", "tablet"], size=n),
            "hour": rng.integers(0, 24, size=n),
            "position": rng.integers(1, 6, size=n),
        }
    )
    logit = (
        -1.5
        + 1.2 * (frame["site"] == "shop")
        + 0.6 * (frame["device"] == "phone")
        - 0.4 * frame["position"]
        + 0.5 * frame["hour"].between(18, 23)
    )
    frame["clicked"] = rng.random(n) < 1 / (1 + np.exp(-logit))
    return frame


def train(frame: pd.DataFrame) -> tuple[Pipeline, float, list[dict[str, object]]]:
    records = frame.drop(columns="clicked").to_dict("records")
    train_rows, test_rows, y_train, y_test = train_test_split(
        records, frame["clicked"].to_numpy(), test_size=0.25, random_state=0
    )
    model = make_pipeline(
        DictVectorizer(sparse=False),
        XGBClassifier(n_estimators=60, max_depth=4, learning_rate=0.2, n_jobs=1),
    ).fit(train_rows, y_train)
    auc = float(roc_auc_score(y_test, model.predict_proba(test_rows)[:, 1]))
    return model, auc, test_rows


def main(out: Path) -> None:
    model, auc, _ = train(impressions(5000))
    out.parent.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, out)
    print(f"trained {out} (test AUC {auc:.3f})")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "build/ctr.joblib"))
