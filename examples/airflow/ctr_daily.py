"""The daily CTR retraining as an Airflow 3 DAG (docs/airflow.md).

Each DAG run trains the CTR trainer (examples/ctr) on the cluster on the seven days before
its logical date, the newest one held out; the trainer's evaluation hook scores the
candidate and the version serving now on that same held-out day, and the promotion gate
(``mode: manual``) records whether the candidate beats it. ``promote`` then lets a passing
candidate serve, or stops the run with the gate's reason; ``serving`` waits until the Model
serves the new version.

    train ──> promote ──> serving

Set the store URIs as params (or trigger with ``--conf``); the Kubernetes connection is
``kubernetes_default`` (its namespace is where the Model lives).
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG, Param

from modelops_airflow.operators import ModelOpsPromoteOperator, ModelOpsTrainingOperator
from modelops_airflow.sensors import ModelOpsServingSensor

with DAG(
    dag_id="ctr_daily",
    description="Train CTR on the last seven days, promote only a better model",
    schedule="0 3 * * *",
    start_date=datetime(2025, 1, 1),
    catchup=False,
    max_active_runs=1,
    params={
        "data": Param("s3://data/ctr-days", type="string", description="the daily partitions"),
        "package": Param(
            "s3://models/ctr/packages/ctr_trainer-0.1.0-py3-none-any.whl",
            type="string",
            description="the trainer's wheel",
        ),
        "store": Param("s3://models", type="string", description="where models go"),
        "max_depth": Param(6, type="integer", minimum=1),
        "n_estimators": Param(120, type="integer", minimum=1),
    },
    tags=["modelops"],
) as dag:
    train = ModelOpsTrainingOperator(
        task_id="train",
        model="ctr",
        package="{{ params.package }}",
        module="trainer.train",
        args=[
            "--data={{ params.data }}",
            "--days=7",
            "--max_depth={{ params.max_depth }}",
            "--n_estimators={{ params.n_estimators }}",
        ],
        store="{{ params.store }}",
        # The gate decides on the same held-out day; manual: a passing candidate waits for
        # the promote task instead of serving at once.
        promotion={"metric": "auc", "goal": "maximize", "minImprovement": 0.0, "mode": "manual"},
        deferrable=True,
        poll_interval=5,
    )
    promote = ModelOpsPromoteOperator(
        task_id="promote", model="ctr", version=train.output["version"]
    )
    serving = ModelOpsServingSensor(
        task_id="serving",
        model="ctr",
        version=promote.output["version"],
        poke_interval=2,
        timeout=300,
    )
    train >> promote >> serving
