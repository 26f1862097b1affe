"""The artifact a run leaves: where it goes, and its metadata.json."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from modelops_contracts.training import UPLOAD_FAILED
from modelops_runtime.artifacts import Format, installed_framework_versions, resolve
from modelops_runtime.training import publish
from modelops_runtime.training.discovery import Found
from modelops_runtime.training.failure import TrainingFailure
from tests.models import Trained


def test_the_output_folder(tmp_path: Path) -> None:
    assert publish.output_folder("s3://models/ctr/v2") == "s3://models/ctr/v2/"
    assert publish.output_folder("gs://models/ctr/v2/") == "gs://models/ctr/v2/"
    assert publish.output_folder("pvc://claim/ctr/v2") == "pvc://claim/ctr/v2/"
    assert publish.output_folder(str(tmp_path / "out")) == f"file://{tmp_path}/out/"
    for refused, says in [
        ("https://example.com/ctr/", "https:// is read-only here"),
        ("ftp://host/ctr/", "unsupported URI scheme 'ftp'"),
    ]:
        with pytest.raises(TrainingFailure) as caught:
            publish.output_folder(refused)
        assert caught.value.reason == UPLOAD_FAILED
        assert says in caught.value.message


def test_staged_with_the_trainers_framework_versions(tmp_path: Path, ctr: Trained) -> None:
    versions = {"python": "3.11.7", "sklearn": "1.9.1", "xgboost": "3.2.0"}
    staged = publish.stage(
        Found(ctr.path, Format.JOBLIB), tmp_path / "artifact", versions, {"auc": 0.9},
        {"args": ["--max_depth=4"], "run_date": "2025-01-15T03:00:00Z"},
    )  # fmt: skip
    assert staged.framework == "xgboost"
    assert staged.sha256 == ctr.sha256()
    metadata = json.loads((tmp_path / "artifact" / "metadata.json").read_text())
    assert metadata["framework_versions"] == versions
    assert metadata["metrics"] == {"auc": 0.9}
    assert (metadata["sha256"], metadata["format"]) == (ctr.sha256(), "joblib")
    assert metadata["args"] == ["--max_depth=4"]
    artifact = resolve(tmp_path / "artifact")  # as the predictor reads it
    assert artifact.metadata.metrics == {"auc": 0.9}
    assert artifact.sha256 == ctr.sha256()


def test_framework_versions_of_this_interpreter_and_of_a_venvs(tmp_path: Path) -> None:
    assert publish.framework_versions(Path(sys.executable)) == installed_framework_versions()
    from modelops_runtime.training.package import create_venv

    venv_python = create_venv(tmp_path / "venv")
    assert publish.framework_versions(venv_python) == installed_framework_versions()


def test_an_upload_that_fails_says_where(tmp_path: Path, iris: Trained) -> None:
    staged = publish.stage(Found(iris.path, Format.JOBLIB), tmp_path / "a", {}, {}, {})
    (tmp_path / "blocker").write_text("a file where a folder must go")
    with pytest.raises(TrainingFailure) as caught:
        publish.upload(staged, f"file://{tmp_path}/blocker/ctr/v1/")
    assert caught.value.reason == UPLOAD_FAILED
    assert f"cannot upload the model to file://{tmp_path}/blocker/ctr/v1/" in caught.value.message
