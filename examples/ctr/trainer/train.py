"""Train the click-through-rate model on the seven days before the run date.

    python -m trainer.train --data=s3://bucket/ctr-days [--max_depth=6] [--learning_rate=0.15]
        [--n_estimators=120] [--days=7] [--holdout_days=1]

With several workers (``TrainingJob.spec.workers``) each reads its share of the training
days (``distributed.assign``, by rank); the workers agree on one feature vocabulary and
train one XGBoost model over XGBoost's collective; rank 0 scores, reports and saves it.
One worker runs the very same code, alone.

The trainer contract (docs/training.md): the run date comes from ``MODELOPS_RUN_DATE``,
the model goes to ``MODELOPS_MODEL_DIR`` (also given as ``--job-dir``), the metrics go
through ``report_metrics``, hyperparameters arrive as ``--name=value``. The newest day of
the window is held out: the model is scored on it (AUC, log loss), and ``evaluate(model)``
scores any model (the serving one too) on the same rows, for the promotion gate.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import joblib
import numpy as np
from sklearn.feature_extraction import DictVectorizer
from sklearn.metrics import log_loss, roc_auc_score
from sklearn.pipeline import Pipeline, make_pipeline

from trainer.data import LABEL, read_days, records

MODEL_FILE = "model.joblib"


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m trainer.train")
    parser.add_argument("--job-dir", help="where to write the model (as the seed-era service)")
    parser.add_argument(
        "--data", default=os.environ.get("CTR_DATA"), help="store URI of the daily partitions"
    )
    parser.add_argument("--days", type=int, default=7, help="days before the run date to use")
    parser.add_argument("--holdout_days", type=int, default=1, help="newest days held out")
    parser.add_argument("--max_depth", type=int, default=6)
    parser.add_argument("--learning_rate", type=float, default=0.15)
    parser.add_argument("--n_estimators", type=int, default=120)
    parser.add_argument("--min_child_weight", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if not args.data:
        parser.error("give --data=URI (or set CTR_DATA): where the daily partitions are")
    if not 0 < args.holdout_days < args.days:
        parser.error("--holdout_days must be at least 1 and less than --days")
    return args


def run_day() -> date:
    """The run's date (the operator sets MODELOPS_RUN_DATE; today when run by hand)."""
    given = os.environ.get("MODELOPS_RUN_DATE")
    if not given:
        return date.today()
    return datetime.fromisoformat(given.replace("Z", "+00:00")).date()


def window(day: date, days: int, holdout_days: int) -> tuple[list[date], list[date]]:
    """The training days and the held-out days: the ``days`` days before ``day``, the
    newest ``holdout_days`` of them held out."""
    dates = [day - timedelta(days=days - i) for i in range(days)]
    return dates[: days - holdout_days], dates[days - holdout_days :]


def load(args: argparse.Namespace, days: list[date]) -> tuple[list[dict[str, Any]], np.ndarray]:
    with tempfile.TemporaryDirectory() as cache:
        frame = read_days(args.data, days, Path(cache))
    return records(frame), frame[LABEL].to_numpy()


def build(args: argparse.Namespace) -> Pipeline:
    return make_pipeline(DictVectorizer(), classifier(args))


def classifier(args: argparse.Namespace) -> Any:
    from xgboost import XGBClassifier

    return XGBClassifier(
        n_estimators=args.n_estimators,
        max_depth=args.max_depth,
        learning_rate=args.learning_rate,
        min_child_weight=args.min_child_weight,
        tree_method="hist",
        random_state=args.seed,
        n_jobs=2,
    )


def shared_vocabulary(vectorizer: DictVectorizer, world_size: int) -> DictVectorizer:
    """Every worker's features, in one vocabulary all workers share (each worker saw only
    its days' tokens); called inside the collective. Alone, the vectorizer as it is."""
    if world_size == 1:
        return vectorizer
    from xgboost import collective

    names: set[str] = set()
    for root in range(world_size):  # each worker's names, sent to all in turn
        mine = list(vectorizer.feature_names_) if collective.get_rank() == root else None
        names.update(collective.broadcast(mine, root))
    vectorizer.feature_names_ = sorted(names)
    vectorizer.vocabulary_ = {name: i for i, name in enumerate(vectorizer.feature_names_)}
    return vectorizer


def fit(args: argparse.Namespace, rows: list[dict[str, Any]], clicked: np.ndarray) -> Pipeline:
    """The pipeline trained on this worker's rows, with every other worker's (alone: just
    ``build(args).fit(rows, clicked)``)."""
    from modelops_runtime.training import distributed

    with distributed.collective() as me:
        vectorizer = shared_vocabulary(DictVectorizer().fit(rows), me.world_size)
        model = classifier(args).fit(vectorizer.transform(rows), clicked)
    return make_pipeline(vectorizer, model)


def score(model: Any, rows: list[dict[str, Any]], clicked: np.ndarray) -> dict[str, float]:
    probability = model.predict_proba(rows)[:, 1]
    return {
        "auc": float(roc_auc_score(clicked, probability)),
        "log_loss": float(log_loss(clicked, probability, labels=[0, 1])),
    }


def evaluate(model: Any) -> dict[str, float]:
    """Any model's scores on this run's held-out days (the entrypoint calls it with the
    trainer's arguments in sys.argv, for the new model and for the serving one)."""
    args = parse_args(sys.argv[1:])
    _, held_out = window(run_day(), args.days, args.holdout_days)
    return score(model, *load(args, held_out))


def main(argv: Sequence[str] | None = None) -> None:
    from modelops_runtime.training import distributed, report_metrics

    args = parse_args(sys.argv[1:] if argv is None else argv)
    train_days, held_out = window(run_day(), args.days, args.holdout_days)
    me = distributed.worker()
    mine = distributed.assign(train_days, me.rank, me.world_size)
    print(f"training on {train_days[0]}..{train_days[-1]}, held out {held_out[0]}..{held_out[-1]}")
    if me.distributed:
        print(f"worker {me.rank} of {me.world_size}: days {', '.join(map(str, mine))}")
    rows, clicked = load(args, mine)
    print(f"worker {me.rank}: {len(rows)} rows")
    model = fit(args, rows, clicked)
    if me.rank != 0:  # rank 0 scores, reports and saves the one model
        return
    metrics = score(model, *load(args, held_out))
    print(f"held-out AUC {metrics['auc']:.4f}, log loss {metrics['log_loss']:.4f}")
    report_metrics(**metrics)
    model_dir = Path(os.environ.get("MODELOPS_MODEL_DIR") or args.job_dir or ".")
    model_dir.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, model_dir / MODEL_FILE)
    print(f"saved {model_dir / MODEL_FILE}")


if __name__ == "__main__":
    main()
