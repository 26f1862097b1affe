"""The framework-version rule for artifacts (pure): which saved versions load here."""

from __future__ import annotations

from modelops_runtime.artifacts import Format
from modelops_runtime.models.compatibility import framework_version_problems

INSTALLED = {"sklearn": "1.9.1", "xgboost": "3.2.0"}


def problems(recorded: dict[str, str], artifact_format: Format, framework: str) -> list[str]:
    return framework_version_problems(recorded, INSTALLED, artifact_format, framework)


def test_pickles_need_the_same_sklearn_minor() -> None:
    assert problems({"sklearn": "1.9.0"}, Format.JOBLIB, "sklearn") == []
    (problem,) = problems({"sklearn": "1.5.2"}, Format.JOBLIB, "sklearn")
    assert problem == "artifact was saved with sklearn 1.5.2 but this runtime has sklearn 1.9.1"


def test_pickled_xgboost_wrappers_need_the_same_xgboost_minor_too() -> None:
    found = problems({"sklearn": "1.9.1", "xgboost": "2.1.0"}, Format.PICKLE, "xgboost")
    assert found == ["artifact was saved with xgboost 2.1.0 but this runtime has xgboost 3.2.0"]


def test_booster_files_load_in_the_same_or_a_newer_xgboost() -> None:
    assert problems({"xgboost": "2.0.3"}, Format.XGBOOST_UBJ, "xgboost") == []
    assert problems({"xgboost": "3.4.0"}, Format.XGBOOST_JSON, "xgboost") != []


def test_nothing_recorded_means_nothing_to_judge() -> None:
    assert problems({}, Format.JOBLIB, "sklearn") == []
    assert problems({"sklearn": "dev"}, Format.JOBLIB, "sklearn") == []
