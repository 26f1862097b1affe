"""Which framework a predictor imports while its artifact downloads, and which artifacts
are downloaded by a child at all."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelops_runtime.prefetch import framework_module, start


@pytest.mark.parametrize(
    ("uri", "declared", "module"),
    [
        ("s3://models/ctr/v1/model.json", "", "xgboost"),
        ("gs://models/ctr/v1/model.ubj", "", "xgboost"),
        ("s3://models/ctr/v1/", "xgboost-ubj", "xgboost"),
        ("s3://models/ctr/v1/", "", "sklearn.base"),
        ("https://example.com/iris.joblib", "", "sklearn.base"),
        ("s3://models/iris/model.skops", "", "sklearn.base"),
        # A declared format wins over the name; an unknown one is the load's to refuse.
        ("s3://models/ctr/v1/model.json", "joblib", "sklearn.base"),
        ("s3://models/ctr/v1/model.json", "onnx", "sklearn.base"),
    ],
)
def test_the_framework_imported_during_the_download(uri: str, declared: str, module: str) -> None:
    assert framework_module(uri, declared) == module


@pytest.mark.parametrize(
    "uri", ["/models/iris.joblib", "file:///models/iris.joblib", "pvc://claim/iris.joblib",
            "ftp://example.com/iris.joblib"],
)  # fmt: skip
def test_nothing_is_forked_for_a_local_or_unsupported_uri(uri: str, tmp_path: Path) -> None:
    prefetch = start(uri, tmp_path / "cache")
    assert prefetch.pid is None
    assert prefetch.module == "sklearn.base"  # imported all the same, by the wait
    assert not (tmp_path / "cache").exists()


def test_a_local_folder_is_judged_by_its_model_file(tmp_path: Path) -> None:
    """What the fetch step places (``/models/model/``) names no format; its file does."""
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "model.ubj").write_bytes(b"{")
    (folder / "metadata.json").write_text("{}")
    assert start(str(folder), tmp_path / "cache").module == "xgboost"
    (folder / "second.joblib").write_bytes(b"\x80")  # two model files: the load refuses
    assert start(str(folder), tmp_path / "cache").module == "sklearn.base"
