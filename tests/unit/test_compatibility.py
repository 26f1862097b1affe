"""The version rule for artifacts (pure)."""

from __future__ import annotations

from modelops_runtime.artifacts import Format
from modelops_runtime.models.compatibility import version_problems

HERE = {"sklearn": "1.9.1", "xgboost": "3.2.0"}


def test_pickles_need_the_same_sklearn_minor() -> None:
    assert version_problems({"sklearn": "1.9.0"}, HERE, Format.JOBLIB, "sklearn") == []
    (problem,) = version_problems({"sklearn": "1.5.2"}, HERE, Format.JOBLIB, "sklearn")
    assert problem == "artifact was saved with sklearn 1.5.2 but this runtime has sklearn 1.9.1"


def test_pickled_xgboost_wrappers_need_the_same_xgboost_minor_too() -> None:
    problems = version_problems(
        {"sklearn": "1.9.1", "xgboost": "2.1.0"}, HERE, Format.PICKLE, "xgboost"
    )
    assert problems == ["artifact was saved with xgboost 2.1.0 but this runtime has xgboost 3.2.0"]


def test_booster_files_load_in_the_same_or_a_newer_xgboost() -> None:
    assert version_problems({"xgboost": "2.0.3"}, HERE, Format.XGBOOST_UBJ, "xgboost") == []
    assert version_problems({"xgboost": "3.4.0"}, HERE, Format.XGBOOST_JSON, "xgboost") != []


def test_nothing_recorded_means_nothing_to_judge() -> None:
    assert version_problems({}, HERE, Format.JOBLIB, "sklearn") == []
    assert version_problems({"sklearn": "dev"}, HERE, Format.JOBLIB, "sklearn") == []
