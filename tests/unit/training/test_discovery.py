"""The model in the model dir: one file, or one folder with one model file."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelops_contracts.training import NO_MODEL_WRITTEN
from modelops_runtime.artifacts import Format
from modelops_runtime.training.discovery import find_model
from modelops_runtime.training.failure import TrainingFailure
from tests.models import Trained


def _copy(src: Path, dest: Path) -> Path:
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(src.read_bytes())
    return dest


def test_one_file(tmp_path: Path, iris: Trained) -> None:
    path = _copy(iris.path, tmp_path / "model.joblib")
    (tmp_path / ".nfs0001").write_text("hidden files are not models")
    found = find_model(tmp_path)
    assert (found.path, found.format) == (path, Format.JOBLIB)


def test_one_file_named_by_its_content(tmp_path: Path, booster_ubj: Trained) -> None:
    path = _copy(booster_ubj.path, tmp_path / "model")
    assert find_model(tmp_path).format == Format.XGBOOST_UBJ
    assert find_model(tmp_path).path == path


def test_a_folder_with_one_model_file_and_its_metadata(
    tmp_path: Path, booster_json: Trained
) -> None:
    path = _copy(booster_json.path, tmp_path / "export" / "model.json")
    (tmp_path / "export" / "metadata.json").write_text("{}")
    found = find_model(tmp_path)
    assert (found.path, found.format) == (path, Format.XGBOOST_JSON)


def _refused(model_dir: Path) -> str:
    with pytest.raises(TrainingFailure) as caught:
        find_model(model_dir)
    assert caught.value.reason == NO_MODEL_WRITTEN
    return caught.value.message


def test_nothing_written(tmp_path: Path) -> None:
    message = _refused(tmp_path)
    assert "wrote no model" in message
    assert "$MODELOPS_MODEL_DIR" in message
    (tmp_path / "metadata.json").write_text("{}")
    assert "wrote no model" in _refused(tmp_path)


def test_two_model_files(tmp_path: Path, iris: Trained) -> None:
    _copy(iris.path, tmp_path / "a.joblib")
    _copy(iris.path, tmp_path / "b.joblib")
    assert "exactly one model file" in _refused(tmp_path)
    assert "a.joblib, b.joblib" in _refused(tmp_path)


def test_two_folders(tmp_path: Path, iris: Trained) -> None:
    _copy(iris.path, tmp_path / "a" / "m.joblib")
    _copy(iris.path, tmp_path / "b" / "m.joblib")
    assert "several folders (a/, b/)" in _refused(tmp_path)


def test_a_file_that_is_no_model(tmp_path: Path) -> None:
    (tmp_path / "model.txt").write_text("weights: 1 2 3")
    assert "model.txt is not a model file we can serve" in _refused(tmp_path)
