"""scikit-learn estimators and pipelines (and XGBoost's scikit-learn wrappers)."""

from __future__ import annotations

from typing import Any

import numpy as np

from modelops_runtime.models.base import InputKind, InputSchema, ModelInput

_DICT_INPUT_STEPS = {"DictVectorizer", "FeatureHasher"}


class SklearnModel:
    """Any fitted object with ``predict``: an estimator, a Pipeline, an XGBClassifier."""

    def __init__(self, estimator: Any) -> None:
        self.estimator = estimator
        self.model_type = type(estimator).__name__
        self.framework = framework_of(estimator)
        self.schema = schema_of(estimator)
        self.methods = tuple(m for m in ("predict", "predict_proba") if hasattr(estimator, m))
        classes = getattr(last_step(estimator), "classes_", None)
        self.classes = None if classes is None else np.asarray(classes)

    def call(self, inputs: ModelInput, method: str) -> np.ndarray:
        return np.asarray(getattr(self.estimator, method)(inputs))


def first_step(estimator: Any) -> Any:
    """The step that sees the raw input: the first step of (nested) pipelines."""
    while hasattr(estimator, "steps") and estimator.steps:
        estimator = estimator.steps[0][1]
    return estimator


def last_step(estimator: Any) -> Any:
    while hasattr(estimator, "steps") and estimator.steps:
        estimator = estimator.steps[-1][1]
    return estimator


def framework_of(estimator: Any) -> str:
    module = type(last_step(estimator)).__module__
    return "xgboost" if module.startswith("xgboost") else "sklearn"


def schema_of(estimator: Any) -> InputSchema:
    """What input the fitted estimator expects, read from its fitted attributes."""
    head = first_step(estimator)
    if type(head).__name__ in _DICT_INPUT_STEPS and getattr(head, "input_type", "dict") == "dict":
        return InputSchema(
            kind=InputKind.RECORDS, string_lists=type(head).__name__ == "DictVectorizer"
        )
    names = getattr(estimator, "feature_names_in_", None)
    if names is None:
        names = getattr(head, "feature_names_in_", None)
    width = getattr(estimator, "n_features_in_", None) or getattr(head, "n_features_in_", None)
    if names is not None:
        names = tuple(str(n) for n in names)
        return InputSchema(kind=InputKind.COLUMNS, n_features=len(names), feature_names=names)
    return InputSchema(kind=InputKind.ARRAY, n_features=int(width) if width else None)
