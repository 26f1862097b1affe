"""XGBoost Boosters saved with ``save_model`` (.json / .ubj)."""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from modelops_runtime.models.base import InputKind, InputSchema, ModelInput

_PROBABILITY_OBJECTIVES = {"binary:logistic", "multi:softprob"}


class BoosterModel:
    """A native Booster; ``predict`` is ``inplace_predict``, as ``Booster.predict`` returns."""

    framework = "xgboost"
    classes: np.ndarray | None = None

    def __init__(self, booster: Any) -> None:
        self.booster = booster
        self.objective = objective_of(booster)
        self.model_type = f"Booster({self.objective})" if self.objective else "Booster"
        names = booster.feature_names
        width = booster.num_features()
        if names:
            self.schema = InputSchema(
                kind=InputKind.COLUMNS, n_features=len(names), feature_names=tuple(names)
            )
        else:
            self.schema = InputSchema(kind=InputKind.ARRAY, n_features=width or None)
        probabilistic = self.objective in _PROBABILITY_OBJECTIVES
        self.methods: tuple[str, ...] = (
            ("predict", "predict_proba") if probabilistic else ("predict",)
        )

    def call(self, inputs: ModelInput, method: str) -> np.ndarray:
        if not isinstance(inputs, np.ndarray):
            # Named columns arrive as a DataFrame already in the booster's feature order.
            inputs = np.asarray(inputs, dtype=np.float32)
        output = np.asarray(self.booster.inplace_predict(inputs))
        if method == "predict_proba" and self.objective == "binary:logistic":
            return np.column_stack([1.0 - output, output])
        return output


def objective_of(booster: Any) -> str:
    config = json.loads(booster.save_config())
    return str(config.get("learner", {}).get("objective", {}).get("name", ""))
