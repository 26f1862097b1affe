"""``modelops fetch``, a predictor pod's init step: the verdict the operator reads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from modelops_cli.main import main
from tests.models import Trained


def _fetch(tmp_path: Path, *args: str) -> tuple[int, dict]:
    log = tmp_path / "termination-log"
    code = main(["fetch", *args, "--dest", str(tmp_path / "shared"), "--termination-log", str(log)])
    return code, json.loads(log.read_text())


def test_success_places_the_model_and_reports_what_it_is(
    tmp_path: Path, booster_ubj: Trained
) -> None:
    code, verdict = _fetch(tmp_path, str(booster_ubj.path))
    assert code == 0
    assert verdict["reason"] == "Verified"
    assert verdict["format"] == "xgboost-ubj"
    assert verdict["framework"] == "xgboost"
    assert verdict["runtime_versions"]["xgboost"]
    placed = tmp_path / "shared" / "model" / booster_ubj.path.name
    assert placed.read_bytes() == booster_ubj.path.read_bytes()
    assert [p.name for p in (tmp_path / "shared").iterdir()] == ["model"]  # no leftovers


@pytest.mark.parametrize(
    ("args", "reason", "condition"),
    [
        (["--sha256", "0" * 64], "ChecksumMismatch", "ArtifactVerified"),
        (["--format", "skops"], "FormatMismatch", "ArtifactVerified"),
    ],
)
def test_failures_name_the_condition_and_reason(
    tmp_path: Path, iris: Trained, args: list[str], reason: str, condition: str
) -> None:
    code, verdict = _fetch(tmp_path, str(iris.path), *args)
    assert code == 1
    assert (verdict["reason"], verdict["condition"]) == (reason, condition)
    assert not (tmp_path / "shared" / "model").exists()


def test_missing_artifact(tmp_path: Path) -> None:
    code, verdict = _fetch(tmp_path, str(tmp_path / "absent.joblib"))
    assert (code, verdict["reason"]) == (1, "ArtifactNotFound")


def test_version_mismatch_is_a_runtime_problem(tmp_path: Path, iris: Trained) -> None:
    folder = tmp_path / "artifact"
    folder.mkdir()
    (folder / "model.joblib").write_bytes(iris.path.read_bytes())
    (folder / "metadata.json").write_text(json.dumps({"framework_versions": {"sklearn": "0.24.2"}}))
    code, verdict = _fetch(tmp_path, str(folder))
    assert code == 1
    assert verdict["condition"] == "RuntimeCompatible"
    assert verdict["reason"] == "VersionMismatch"
    assert "sklearn 0.24.2" in verdict["message"]
