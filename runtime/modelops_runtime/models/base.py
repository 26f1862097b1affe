"""The interface every served model has, whatever framework made it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

import numpy as np

# What a model is called with: a 2-D array, a list of records, or a DataFrame.
ModelInput = Any


class InputKind(StrEnum):
    ARRAY = "array"  # rows of numbers
    RECORDS = "records"  # JSON objects, for DictVectorizer/FeatureHasher pipelines
    COLUMNS = "columns"  # named columns, for models fitted on a DataFrame


@dataclass(frozen=True)
class InputSchema:
    """What the model expects, learned from the fitted model itself."""

    kind: InputKind
    n_features: int | None = None
    feature_names: tuple[str, ...] | None = None
    string_lists: bool = False
    """RECORDS: a value may also be a list of strings (a DictVectorizer one-hot encodes
    each; a FeatureHasher takes strings and numbers only)."""


class Model(Protocol):
    framework: str
    schema: InputSchema
    methods: tuple[str, ...]
    model_type: str
    classes: np.ndarray | None  # class labels of a classifier, when it knows them

    def call(self, inputs: ModelInput, method: str) -> np.ndarray:
        """Run ``method`` on a batch of rows; one output row per input row."""
        ...
