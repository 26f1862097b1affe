"""The folders and variables the user's code gets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from modelops_contracts.training import (
    BASELINE_URI,
    BASELINE_VERSION,
    HYPERTUNE_FILE,
    JOB_NAME,
    METRICS_FILE,
    MODEL_DIR,
    OUTPUT_URI,
    RUN_DATE,
    SCHEDULE_NAME,
)
from modelops_runtime.training.environment import Workspace, baseline, run_date, trainer_env


def test_the_run_date_is_the_operators_or_now_in_utc() -> None:
    assert run_date({RUN_DATE: "2025-01-15T03:00:00Z"}) == "2025-01-15T03:00:00Z"
    paris = datetime(2025, 1, 15, 4, 30, tzinfo=timezone(timedelta(hours=1)))
    assert run_date({}, now=paris) == "2025-01-15T03:30:00Z"
    assert run_date({RUN_DATE: " "}, now=paris.astimezone(UTC)) == "2025-01-15T03:30:00Z"


def test_a_scheduled_runs_date_is_the_tick_in_its_jobs_name() -> None:
    tick = datetime(2025, 1, 15, 3, 0, tzinfo=UTC)
    minutes = int(tick.timestamp()) // 60
    env = {SCHEDULE_NAME: "ctr-daily", JOB_NAME: f"ctr-daily-{minutes}"}
    assert run_date(env) == "2025-01-15T03:00:00Z"
    later = datetime(2025, 2, 1, tzinfo=UTC)
    assert run_date({SCHEDULE_NAME: "ctr-daily", JOB_NAME: "other-1"}, now=later) == (
        "2025-02-01T00:00:00Z"
    )
    assert run_date({JOB_NAME: f"ctr-daily-{minutes}"}, now=later) == "2025-02-01T00:00:00Z"


def test_the_contract_variables_and_what_passes_through(tmp_path: Path) -> None:
    workspace = Workspace.of(tmp_path, {})
    base = {"PATH": "/bin", BASELINE_URI: "s3://m/ctr/v1/", RUN_DATE: "ignored here"}
    env = trainer_env(base, workspace, "2025-01-15T03:00:00Z", "s3://m/ctr/v2/")
    assert env[MODEL_DIR] == str(tmp_path / "model")
    assert env[METRICS_FILE] == str(tmp_path / "metrics" / "metrics.json")
    assert env[HYPERTUNE_FILE] == str(tmp_path / "metrics" / "hypertune" / "output.metrics")
    assert (env[RUN_DATE], env[OUTPUT_URI]) == ("2025-01-15T03:00:00Z", "s3://m/ctr/v2/")
    assert (env["PATH"], env[BASELINE_URI]) == ("/bin", "s3://m/ctr/v1/")
    assert env["PYTHONUNBUFFERED"] == "1"
    assert env["TMPDIR"] == str(tmp_path / "tmp")
    assert baseline({BASELINE_URI: "s3://m/ctr/v1/", BASELINE_VERSION: "ctr-v1"}) == (
        "s3://m/ctr/v1/", "ctr-v1",
    )  # fmt: skip


def test_the_pods_paths_win(tmp_path: Path) -> None:
    """The operator sets them on the pod; an image's trainer wrote there."""
    pod = {
        MODEL_DIR: f"{tmp_path}/model", METRICS_FILE: f"{tmp_path}/metrics.json",
        HYPERTUNE_FILE: f"{tmp_path}/hypertune/output.metrics", "TMPDIR": f"{tmp_path}/tmp",
    }  # fmt: skip
    workspace = Workspace.of(tmp_path, pod)
    env = trainer_env(pod, workspace, "d", "o")
    assert {k: env[k] for k in pod} == pod
    workspace.prepare()
    assert (tmp_path / "tmp").is_dir()  # TMPDIR exists before anything needs it
    assert (tmp_path / "hypertune").is_dir()


def test_a_new_run_starts_from_empty_folders(tmp_path: Path) -> None:
    workspace = Workspace.of(tmp_path, {METRICS_FILE: str(tmp_path / "metrics.json")})
    workspace.prepare()
    (workspace.model_dir / "model.joblib").write_text("last run's")
    workspace.metrics_file.write_text('{"auc": 0.9}')
    workspace.hypertune_file.write_text('{"auc": "0.9"}')
    (workspace.downloads / "kept.whl").write_text("downloads are a cache")
    workspace.prepare(keep_outputs=True)  # collecting: an image's trainer just wrote them
    assert workspace.metrics_file.exists()
    assert (workspace.model_dir / "model.joblib").exists()
    workspace.prepare()
    assert list(workspace.model_dir.iterdir()) == []
    assert not workspace.metrics_file.exists()
    assert not workspace.hypertune_file.exists()
    assert workspace.hypertune_file.parent.is_dir()
    assert (workspace.downloads / "kept.whl").exists()  # the work dir itself stays
