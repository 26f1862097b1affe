"""The Airflow operators with a real Airflow 3 on the real cluster.

Airflow runs from its own virtual environment (``make airflow-venv``; its pins are not the
project's), with SQLite metadata in a temporary AIRFLOW_HOME and the cluster reached
through a Kubernetes connection (``AIRFLOW_CONN_KUBERNETES_DEFAULT``). ``airflow dags
test`` runs examples/airflow/ctr_daily.py for two logical dates, on synthetic click logs
in the cluster's S3 server with the CTR trainer built here: the first run's candidate is
promoted (nothing serves yet) and serves; the second, trained with a much weaker setting
(the run's conf), is refused by the gate on the same held-out day, and the first version
keeps serving. The training task waits deferred, its trigger run in line by ``dags test``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import S3, Cluster, _unavailable
from tests.e2e.operator_support import get
from tests.e2e.run import locked, shared_dir

# Each `airflow` command may take 10 minutes (Airflow.run); a DAG run trains on the cluster.
pytestmark = [pytest.mark.usefixtures("operator", "storage_secret"), pytest.mark.timeout(900)]
REPO_ROOT = Path(__file__).resolve().parents[2]
CONSTRAINTS = sorted((REPO_ROOT / "hack" / "airflow").glob("constraints-*.txt"))[-1]
FIRST, SECOND = date(2025, 1, 15), date(2025, 1, 16)
ROWS_PER_DAY = 400
DAGS = REPO_ROOT / "examples" / "airflow"


def airflow_venv() -> Path:
    """The venv ``make airflow-venv`` made (the Makefile exports its path)."""
    version = CONSTRAINTS.stem.removeprefix("constraints-")
    key = hashlib.sha256(CONSTRAINTS.read_bytes()).hexdigest()[:12]
    cache = Path(os.environ.get("MODELOPS_CACHE", Path.home() / ".cache" / "modelops"))
    venv = Path(os.environ.get("MODELOPS_AIRFLOW_VENV") or cache / f"airflow-{version}-{key}")
    if not (venv / ".installed").exists():
        _unavailable(f"no Airflow venv at {venv}: run make airflow-venv")
    return venv


@pytest.fixture
def ctr_inputs(s3: S3, s3_bucket: str, tmp_path: Path) -> dict[str, str]:
    """The days both runs read, and the trainer's wheel (built as ``train submit`` does)."""
    sys.path.insert(0, str(REPO_ROOT / "examples" / "ctr"))
    try:
        from trainer.data import day_frame, partition
    finally:
        sys.path.remove(str(REPO_ROOT / "examples" / "ctr"))
    from modelops_cli.packaging import build

    uploads = s3.client()
    for offset in range(8):  # the seven days before each logical date
        day = SECOND - timedelta(days=8 - offset)
        path = tmp_path / "days" / partition(day)
        path.parent.mkdir(parents=True)
        day_frame(day, rows=ROWS_PER_DAY).to_csv(path, index=False)
        uploads.upload_file(str(path), s3_bucket, f"ctr-days/{partition(day)}")
    wheel = build(REPO_ROOT / "examples" / "ctr", tmp_path / "dist")
    uploads.upload_file(str(wheel), s3_bucket, f"packages/{wheel.name}")
    return {
        "data": f"s3://{s3_bucket}/ctr-days",
        "package": f"s3://{s3_bucket}/packages/{wheel.name}",
        "store": f"s3://{s3_bucket}/models",
    }


@pytest.fixture
def airflow_home(request: pytest.FixtureRequest, cluster: Cluster, tmp_path: Path) -> Path:
    """An AIRFLOW_HOME with a migrated metadata database: migrated once per run (~36 s),
    under a lock shared by the parallel workers, and copied for each test."""
    template = shared_dir(request.config) / "airflow-migrated.db"
    with locked(request.config, "airflow-db"):
        if not template.exists():
            scratch = tmp_path / "migrate"
            scratch.mkdir()
            Airflow(airflow_venv(), scratch, cluster, "default").run("db", "migrate")
            shutil.copyfile(scratch / "airflow.db", template)
    home = tmp_path / "airflow-home"
    home.mkdir()
    shutil.copyfile(template, home / "airflow.db")
    return home


class Airflow:
    """``airflow`` commands in a temporary AIRFLOW_HOME, with the repo's packages."""

    def __init__(
        self, venv: Path, home: Path, cluster: Cluster, namespace: str, dags: Path = DAGS
    ) -> None:
        self.venv = venv
        self.home = home
        connection = {
            "conn_type": "kubernetes",
            "extra": {
                "kube_config_path": str(cluster.kubeconfig),
                "cluster_context": cluster.context,
                "namespace": namespace,
            },
        }
        roots = ["contracts", "runtime", "operator", "cli", "integrations"]
        self.env = {
            "PATH": f"{venv / 'bin'}:{os.environ['PATH']}",
            "HOME": os.environ.get("HOME", str(home)),
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW_CONN_KUBERNETES_DEFAULT": json.dumps(connection),
            "PYTHONPATH": ":".join(str(REPO_ROOT / root) for root in roots),
        }

    def run(self, *args: str, timeout: float = 600) -> str:
        done = subprocess.run(
            [str(self.venv / "bin" / "airflow"), *args],
            env=self.env,
            cwd=self.home,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        output = done.stdout + done.stderr
        assert done.returncode == 0, (
            f"airflow {' '.join(args)} exited {done.returncode}:\n" + (output[-6000:])
        )
        return output

    def dag_test(
        self, day: date, conf: dict[str, Any], dag: str = "ctr_daily"
    ) -> tuple[dict[str, str], dict[str, Any]]:
        """One DAG run: each task's state, and each task's XComs (``task.key``)."""
        self.run("dags", "test", dag, day.isoformat(), "--conf", json.dumps(conf))
        with sqlite3.connect(self.home / "airflow.db") as db:
            run_id = next(
                rid
                for rid, when in db.execute(
                    "SELECT run_id, logical_date FROM dag_run WHERE dag_id = ?", (dag,)
                )
                if str(when).startswith(day.isoformat())
            )
            states = dict(
                db.execute("SELECT task_id, state FROM task_instance WHERE run_id = ?", (run_id,))
            )
            xcoms = {
                f"{task}.{key}": _decoded(value)
                for task, key, value in db.execute(
                    "SELECT task_id, key, value FROM xcom WHERE run_id = ?", (run_id,)
                )
            }
        return states, xcoms


def _decoded(value: Any) -> Any:
    while isinstance(value, str | bytes):
        try:
            value = json.loads(value)
        except ValueError:
            break
    return value


def test_a_daily_dag_promotes_a_better_model_and_stops_a_worse_one_with_the_reason(
    cluster: Cluster, namespace: str, ctr_inputs: dict[str, str], airflow_home: Path
) -> None:
    airflow = Airflow(airflow_venv(), airflow_home, cluster, namespace)

    states, xcoms = airflow.dag_test(FIRST, ctr_inputs)
    assert states == {"train": "success", "promote": "success", "serving": "success"}, xcoms
    first = xcoms["train.version"]
    assert first == "ctr-20250115"
    assert set(xcoms["train.metrics"]) >= {"auc", "log_loss"}
    made = get(cluster, namespace, "modelversions", first)
    assert xcoms["train.metrics"] == made["status"]["metrics"]
    assert xcoms["train.promotion"]["decision"] == "Pending"
    assert xcoms["promote.version"] == first
    job = get(cluster, namespace, "trainingjobs", "ctr-20250115")
    assert job["spec"]["runDate"] == "2025-01-15T00:00:00Z"
    model = get(cluster, namespace, "models", "ctr")
    assert model["status"]["servingVersion"] == first

    weaker = {**ctr_inputs, "max_depth": 1, "n_estimators": 1}
    states, xcoms = airflow.dag_test(SECOND, weaker)
    assert states == {"train": "success", "promote": "skipped", "serving": "skipped"}, xcoms
    second = xcoms["train.version"]
    assert second == "ctr-20250116"
    decision = xcoms["train.promotion"]
    assert (decision["decision"], decision["basis"]) == ("Rejected", "same-data")
    assert decision["servingVersion"] == first
    assert decision["candidateValue"] < decision["servingValue"]
    assert xcoms["promote.promotion"] == decision
    refused = get(cluster, namespace, "modelversions", second)
    assert refused["metadata"]["labels"]["modelops.dev/promotion"] == "rejected"
    model = get(cluster, namespace, "models", "ctr")
    assert model["status"]["servingVersion"] == first


VERSION_GATE_DAG = """
from datetime import datetime

from airflow.sdk import DAG

from modelops_airflow.operators import ModelOpsCreateVersionOperator, ModelOpsPromoteOperator
from modelops_airflow.sensors import ModelOpsServingSensor

with DAG("version_gate", schedule=None, start_date=datetime(2025, 1, 1),
         params={"uri": "", "sha256": ""}) as dag:
    create = ModelOpsCreateVersionOperator(
        task_id="create", model="tiny", version="v1", artifact_uri="{{ params.uri }}",
        sha256="{{ params.sha256 }}", held=True, deferrable=True, poll_interval=2)
    promote = ModelOpsPromoteOperator(
        task_id="promote", model="tiny", version=create.output["version"],
        policy={"metric": "auc", "goal": "maximize"})
    serving = ModelOpsServingSensor(
        task_id="serving", model="tiny", version=promote.output["version"], poke_interval=2,
        timeout=300)
    create >> promote >> serving
"""


def test_a_version_from_an_artifact_is_validated_held_then_let_through_by_the_gate(
    cluster: Cluster,
    namespace: str,
    s3: S3,
    s3_bucket: str,
    tmp_path: Path,
    airflow_home: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A model trained here, uploaded as ``modelops deploy`` uploads it; the DAG creates its
    version held back, waits (deferred) until it is Ready, and the gate on demand promotes
    it (nothing serves yet), after which the Model serves it."""
    import joblib
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    from modelops_cli.deploy_command import upload

    for key, value in s3.env.items():
        monkeypatch.setenv(key, value)
    x = np.random.default_rng(0).normal(size=(200, 3))
    model = LogisticRegression().fit(x, (x[:, 0] > 0).astype(int))
    joblib.dump(model, tmp_path / "model.joblib")
    uri, sha256, _ = upload(tmp_path / "model.joblib", f"s3://{s3_bucket}/models", "tiny", "v1")
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "version_gate.py").write_text(VERSION_GATE_DAG)
    airflow = Airflow(airflow_venv(), airflow_home, cluster, namespace, dags)

    states, xcoms = airflow.dag_test(FIRST, {"uri": uri, "sha256": sha256}, "version_gate")
    assert states == {"create": "success", "promote": "success", "serving": "success"}, xcoms
    assert xcoms["create.version"] == "tiny-v1"
    assert xcoms["create.promotion"] == "pending"
    version = get(cluster, namespace, "modelversions", "tiny-v1")
    url = f"http://tiny-v1-predictor.{namespace}.svc.cluster.local/v1/models/tiny:predict"
    assert xcoms["create.url"] == version["status"]["url"] == url
    decision = xcoms["promote.promotion"]
    assert (decision["decision"], decision["reason"]) == (
        "Promoted",
        "no version serves the Model yet",
    )
    assert version["metadata"]["labels"]["modelops.dev/promotion"] == "promoted"
    recorded = json.loads(version["metadata"]["annotations"]["modelops.dev/promotion-decision"])
    assert recorded == decision
    assert get(cluster, namespace, "models", "tiny")["status"]["servingVersion"] == "tiny-v1"
