"""Format detection from name and bytes, folders, checksums and metadata."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from modelops_runtime.artifacts import (
    Format,
    detect_format,
    locate,
    read_metadata,
    resolve,
    write_metadata,
)
from modelops_runtime.errors import ArtifactError
from tests.models import Trained

SAVED_FORMATS = [
    ("iris", Format.JOBLIB),
    ("booster_json", Format.XGBOOST_JSON),
    ("booster_ubj", Format.XGBOOST_UBJ),
    ("iris_skops", Format.SKOPS),
]


@pytest.mark.parametrize(("fixture", "expected"), SAVED_FORMATS)
def test_format_follows_name_and_content(
    request: pytest.FixtureRequest, fixture: str, expected: Format
) -> None:
    trained: Trained = request.getfixturevalue(fixture)
    assert detect_format(trained.path) is expected


@pytest.mark.parametrize(("fixture", "expected"), SAVED_FORMATS)
def test_format_from_content_alone_when_the_name_says_nothing(
    request: pytest.FixtureRequest, fixture: str, expected: Format, tmp_path: Path
) -> None:
    trained: Trained = request.getfixturevalue(fixture)
    anonymous = tmp_path / "model"
    anonymous.write_bytes(trained.path.read_bytes())
    assert detect_format(anonymous) is expected


def test_compressed_joblib_is_recognised(iris: Trained, tmp_path: Path) -> None:
    import joblib

    path = tmp_path / "small.joblib"
    joblib.dump(iris.model, path, compress=3)
    assert detect_format(path) is Format.JOBLIB


def test_a_name_that_lies_about_the_content_is_refused(iris: Trained, tmp_path: Path) -> None:
    liar = tmp_path / "model.json"
    liar.write_bytes(iris.path.read_bytes())
    with pytest.raises(
        ArtifactError, match="named as xgboost-json but its content is pickle"
    ) as err:
        detect_format(liar)
    assert err.value.reason == "FormatMismatch"


def test_a_declared_format_must_match_the_content(booster_json: Trained) -> None:
    with pytest.raises(ArtifactError, match="declared or named as skops"):
        detect_format(booster_json.path, declared="skops")
    with pytest.raises(ArtifactError, match="unknown format 'onnx'"):
        detect_format(booster_json.path, declared="onnx")


def test_unknown_content_is_refused_with_what_we_serve(tmp_path: Path) -> None:
    junk = tmp_path / "notes.txt"
    junk.write_text("hello")
    with pytest.raises(ArtifactError, match="expected a joblib/pickle, skops") as err:
        detect_format(junk)
    assert err.value.reason == "UnknownFormat"


def test_a_folder_with_one_model_and_metadata(iris: Trained, tmp_path: Path) -> None:
    folder = tmp_path / "v1"
    folder.mkdir()
    (folder / "model.joblib").write_bytes(iris.path.read_bytes())
    write_metadata(folder, "sklearn", {"accuracy": 0.97})
    artifact = resolve(folder)
    assert artifact.path.name == "model.joblib"
    assert artifact.metadata.metrics == {"accuracy": 0.97}
    assert artifact.metadata.framework_versions["sklearn"]


def test_a_folder_with_two_models_is_ambiguous(iris: Trained, tmp_path: Path) -> None:
    (tmp_path / "a.joblib").write_bytes(iris.path.read_bytes())
    (tmp_path / "b.joblib").write_bytes(iris.path.read_bytes())
    with pytest.raises(ArtifactError, match=r"exactly one model file.*a.joblib, b.joblib"):
        locate(tmp_path)


def test_sha256_mismatch_refuses_and_match_passes(iris: Trained) -> None:
    digest = resolve(iris.path).sha256
    assert resolve(iris.path, expected_sha256=digest.upper()).sha256 == digest
    with pytest.raises(ArtifactError, match="sha256 mismatch") as err:
        resolve(iris.path, expected_sha256="f" * 64)
    assert err.value.reason == "ChecksumMismatch"


def test_bad_metadata_is_an_error_not_a_guess(iris: Trained, tmp_path: Path) -> None:
    (tmp_path / "model.joblib").write_bytes(iris.path.read_bytes())
    (tmp_path / "metadata.json").write_text(json.dumps({"metrics": {"auc": "high"}}))
    with pytest.raises(ArtifactError, match="every metric must be a number"):
        read_metadata(tmp_path / "model.joblib")
