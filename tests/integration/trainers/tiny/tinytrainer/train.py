"""Iris -> LogisticRegression, as the trainer contract asks: the model in the model dir
(which is also --job-dir), metrics both ways (report_metrics and cloudml-hypertune),
hyperparameters as --name=value, and evaluate(model) on the held-out half."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--job-dir", required=True)
    parser.add_argument("--C", type=float, default=1.0)
    parser.add_argument("--predictions", help="also write predictions for held-out rows here")
    return parser.parse_args(argv)


def data() -> tuple[Any, Any, Any, Any]:
    from sklearn.datasets import load_iris

    features, labels = load_iris(return_X_y=True)
    return features[::2], labels[::2], features[1::2], labels[1::2]


def evaluate(model: Any) -> dict[str, float]:
    _, _, held_out, labels = data()
    return {"accuracy": float(model.score(held_out, labels))}


def main() -> None:
    import hypertune
    import joblib
    from sklearn.linear_model import LogisticRegression

    from modelops_runtime.training import report_metrics

    args = parse(sys.argv[1:])
    model_dir = Path(os.environ["MODELOPS_MODEL_DIR"])
    if Path(args.job_dir) != model_dir:
        sys.exit(f"--job-dir {args.job_dir} is not the model dir {model_dir}")
    features, labels, held_out, held_out_labels = data()
    model = LogisticRegression(C=args.C, max_iter=1000).fit(features, labels)
    accuracy = float(model.score(held_out, held_out_labels))
    report_metrics(accuracy=accuracy)
    hypertune.HyperTune().report_hyperparameter_tuning_metric(
        hyperparameter_metric_tag="held_out_accuracy", metric_value=accuracy, global_step=1
    )
    print(f"C={args.C} run date {os.environ['MODELOPS_RUN_DATE']} accuracy {accuracy:.4f}")
    joblib.dump(model, model_dir / "model.joblib")
    if args.predictions:
        rows = held_out[:10]
        Path(args.predictions).write_text(
            json.dumps({"rows": rows.tolist(), "predict_proba": model.predict_proba(rows).tolist()})
        )


if __name__ == "__main__":
    main()
