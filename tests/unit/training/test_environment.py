"""The folders and variables the user's code gets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from modelops_contracts.training import (
    BASELINE_URI,
    HYPERTUNE_FILE,
    METRICS_FILE,
    MODEL_DIR,
    OUTPUT_URI,
    RUN_DATE,
)
from modelops_runtime.training.environment import Workspace, run_date, trainer_env


def test_the_run_date_is_the_operators_or_now_in_utc() -> None:
    assert run_date({RUN_DATE: "2025-01-15T03:00:00Z"}) == "2025-01-15T03:00:00Z"
    paris = datetime(2025, 1, 15, 4, 30, tzinfo=timezone(timedelta(hours=1)))
    assert run_date({}, now=paris) == "2025-01-15T03:30:00Z"
    assert run_date({RUN_DATE: " "}, now=paris.astimezone(UTC)) == "2025-01-15T03:30:00Z"


def test_the_contract_variables_and_what_passes_through(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path)
    base = {"PATH": "/bin", BASELINE_URI: "s3://m/ctr/v1/", RUN_DATE: "ignored here"}
    env = trainer_env(base, workspace, "2025-01-15T03:00:00Z", "s3://m/ctr/v2/")
    assert env[MODEL_DIR] == str(tmp_path / "model")
    assert env[METRICS_FILE] == str(tmp_path / "metrics" / "metrics.json")
    assert env[HYPERTUNE_FILE] == str(tmp_path / "metrics" / "hypertune" / "output.metrics")
    assert (env[RUN_DATE], env[OUTPUT_URI]) == ("2025-01-15T03:00:00Z", "s3://m/ctr/v2/")
    assert (env["PATH"], env[BASELINE_URI], env["PYTHONUNBUFFERED"]) == (
        "/bin",
        "s3://m/ctr/v1/",
        "1",
    )
    assert env["TMPDIR"] == str(tmp_path / "tmp")
    assert trainer_env({"TMPDIR": "/scratch"}, workspace, "d", "o")["TMPDIR"] == "/scratch"


def test_a_new_run_starts_from_empty_folders(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path)
    workspace.prepare()
    (workspace.model_dir / "model.joblib").write_text("last run's")
    workspace.metrics_file.write_text('{"auc": 0.9}')
    workspace.hypertune_file.write_text('{"auc": "0.9"}')
    (workspace.downloads / "kept.whl").write_text("downloads are a cache")
    workspace.prepare()
    assert list(workspace.model_dir.iterdir()) == []
    assert not workspace.metrics_file.exists()
    assert not workspace.hypertune_file.exists()
    assert workspace.hypertune_file.parent.is_dir()
    assert (workspace.downloads / "kept.whl").exists()
