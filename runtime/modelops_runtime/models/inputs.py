"""Turning decoded request rows into what a model takes, with a clear 400 when they don't fit.

Shared by every protocol and framework: rows arrive as JSON lists or objects (V1) or as
columns (V2) and leave as the model's input kind.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np

from modelops_runtime.errors import InvalidInput
from modelops_runtime.models.base import InputKind, InputSchema, ModelInput

_NUMBER_TYPES = (int, float, bool)


def check_rows(rows: Any, schema: InputSchema) -> Hashable:
    """Cheap structural checks of request rows; returns a key that says which rows merge.

    Runs on the event loop for each request, so a malformed request is refused before it
    can join a batch; the value-level checks happen in ``rows_to_input``.
    """
    if not isinstance(rows, list) or not rows:
        raise InvalidInput("'instances' must be a non-empty list of rows")
    first = rows[0]
    if isinstance(first, Mapping):
        _all_of(rows, Mapping, "JSON objects (records)")
        if schema.kind is InputKind.COLUMNS:
            _check_fields(rows, schema)
        elif schema.kind is InputKind.ARRAY:
            raise _names_not_known(schema)
        return "records"
    if isinstance(first, list):
        _all_of(rows, list, "lists of feature values")
        if schema.kind is InputKind.RECORDS:
            raise _records_expected()
        _check_ragged(rows)
        _check_width(len(first), schema)
        return ("lists", len(first))
    raise InvalidInput(
        "each instance must be a list of feature values or a JSON object of named features, "
        f"got {type(first).__name__} ({_short(first)}); wrap a single row as [[...]]"
    )


def rows_to_input(rows: Sequence[Any], schema: InputSchema, reject_nulls: bool) -> ModelInput:
    """Request rows (lists of values or JSON objects) → the model's input for them."""
    kind = check_rows(rows, schema)
    if kind == "records":
        return _records_to_input(rows, schema, reject_nulls)
    if schema.kind is InputKind.COLUMNS and schema.feature_names is not None:
        return _frame(rows, schema.feature_names, reject_nulls)
    return _numeric(rows, reject_nulls)


def columns_to_input(
    columns: Mapping[str, Sequence[Any]], schema: InputSchema, reject_nulls: bool
) -> ModelInput:
    """Named columns of equal length (V2 ``content_type: pd``) → the model's input."""
    lengths = {name: len(values) for name, values in columns.items()}
    if len(set(lengths.values())) > 1:
        raise InvalidInput(f"named inputs must have the same number of rows, got {lengths}")
    n_rows = next(iter(lengths.values()), 0)
    if n_rows == 0:
        raise InvalidInput("inputs hold no rows")
    names = list(columns)
    records = [{name: columns[name][i] for name in names} for i in range(n_rows)]
    return _records_to_input(records, schema, reject_nulls)


def array_to_input(array: np.ndarray, schema: InputSchema, reject_nulls: bool) -> ModelInput:
    """A typed tensor (V2) → the model's input; numeric 1-D is one row per element."""
    if array.ndim == 1:
        array = array.reshape(-1, 1) if schema.n_features == 1 else array.reshape(1, -1)
    if array.ndim != 2:
        raise InvalidInput(
            f"input tensor must have 2 dimensions [rows, features], got {array.ndim}"
        )
    if array.shape[0] == 0:
        raise InvalidInput("input tensor holds no rows")
    if schema.kind is InputKind.RECORDS:
        raise _records_expected()
    if schema.kind is InputKind.COLUMNS:
        return rows_to_input(array.tolist(), schema, reject_nulls)
    _check_width(array.shape[1], schema)
    if array.dtype.kind not in "biuf":
        return _numeric(array.tolist(), reject_nulls)
    if reject_nulls and array.dtype.kind == "f" and np.isnan(array).any():
        raise _nulls_refused()
    return array


def _records_to_input(
    records: Sequence[Mapping[str, Any]], schema: InputSchema, reject_nulls: bool
) -> ModelInput:
    if schema.kind is InputKind.RECORDS:
        _check_record_values(records, schema.string_lists)
        if reject_nulls and any(_missing(v) for r in records for v in r.values()):
            raise _nulls_refused()
        return list(records)
    if schema.feature_names is None:
        raise _names_not_known(schema)
    _check_fields(records, schema)
    names = schema.feature_names
    return _frame([[record[n] for n in names] for record in records], names, reject_nulls)


def _check_record_values(records: Sequence[Mapping[str, Any]], string_lists: bool) -> None:
    """What the model's first step takes as a record's values: strings, numbers, booleans
    and nulls, and (DictVectorizer) lists of strings; anything else is the caller's error,
    not a failure of the model."""
    for index, record in enumerate(records):
        for name, value in record.items():
            if value is None or isinstance(value, (str, int, float)):
                continue
            if string_lists and isinstance(value, list) and all(isinstance(v, str) for v in value):
                continue
            allowed = "strings, numbers, booleans, null" + (
                " or lists of strings" if string_lists else ""
            )
            raise InvalidInput(
                f"instance {index}: field {_short(name)} is {_short(value)}; this model's "
                f"values are {allowed}"
            )


def _check_fields(records: Sequence[Mapping[str, Any]], schema: InputSchema) -> None:
    names = schema.feature_names or ()
    known = set(names)
    for index, record in enumerate(records):
        if len(record) == len(names) and all(n in record for n in names):
            continue
        missing = [n for n in names if n not in record]
        unknown = [k for k in record if k not in known]
        parts = []
        if missing:
            parts.append(f"missing {missing}")
        if unknown:
            parts.append(f"unknown {unknown}")
        raise InvalidInput(
            f"instance {index}: {' and '.join(parts)}; the model expects the fields {list(names)}"
        )


def _names_not_known(schema: InputSchema) -> InvalidInput:
    expected = f"lists of {schema.n_features} numbers" if schema.n_features else "lists"
    return InvalidInput(
        "this model was not fitted with feature names, so it cannot take named fields; "
        f"send each instance as a list of feature values ({expected})"
    )


def _numeric(rows: Sequence[Sequence[Any]], reject_nulls: bool) -> np.ndarray:
    try:
        array = np.asarray(rows, dtype=np.float64)
    except (TypeError, ValueError):
        return _mixed(rows, reject_nulls)
    if array.ndim != 2:
        raise InvalidInput("each instance must be a flat list of numbers")
    if reject_nulls and np.isnan(array).any():
        raise _nulls_refused()
    return array


def _mixed(rows: Sequence[Sequence[Any]], reject_nulls: bool) -> np.ndarray:
    """Rows that are not all numbers: some models (an encoder first) take strings, so the
    model decides, and a refusal is reported against the first value that is not a number."""
    try:
        array = np.asarray(rows, dtype=object)
    except (TypeError, ValueError):
        raise _first_non_number(rows) from None
    if array.ndim != 2:
        raise _first_non_number(rows)
    if reject_nulls and any(_missing(v) for row in rows for v in row):
        raise _nulls_refused()
    return array


def input_problem(model_input: ModelInput) -> str | None:
    """Why a model may have refused this input: missing or non-numeric values, if any."""
    if isinstance(model_input, np.ndarray):
        if model_input.dtype == object:
            return str(_first_non_number(model_input.tolist()))
        if model_input.dtype.kind == "f" and np.isnan(model_input).any():
            return "instances contain missing values (null)"
        return None
    if isinstance(model_input, list):
        has_null = any(_missing(v) for row in model_input for v in row.values())
        return "instances contain missing values (null)" if has_null else None
    isna = getattr(model_input, "isna", None)
    if isna is not None and bool(isna().to_numpy().any()):
        return "instances contain missing values (null)"
    return None


def _frame(rows: Sequence[Sequence[Any]], names: Sequence[str], reject_nulls: bool) -> ModelInput:
    import pandas as pd

    if reject_nulls and any(_missing(v) for row in rows for v in row):
        raise _nulls_refused()
    for row_index, row in enumerate(rows):
        for col, value in zip(names, row, strict=True):
            if isinstance(value, (list, dict)):
                raise InvalidInput(
                    f"instance {row_index}, field {col!r}: expected a number or a string, "
                    f"got {type(value).__name__}"
                )
    return pd.DataFrame(list(rows), columns=list(names))


def _check_ragged(rows: Sequence[Sequence[Any]]) -> None:
    width = len(rows[0])
    for index, row in enumerate(rows):
        if len(row) != width:
            raise InvalidInput(
                f"all instances must have the same number of features: instance 0 has {width}, "
                f"instance {index} has {len(row)}"
            )


def _check_width(width: int, schema: InputSchema) -> None:
    if schema.n_features is not None and width != schema.n_features:
        raise InvalidInput(
            f"the model expects {schema.n_features} features per instance, got {width}"
        )


def _first_non_number(rows: Sequence[Sequence[Any]]) -> InvalidInput:
    for row_index, row in enumerate(rows):
        if not isinstance(row, list):
            return InvalidInput(f"instance {row_index} must be a list of numbers")
        for col, value in enumerate(row):
            if value is not None and not isinstance(value, _NUMBER_TYPES):
                try:
                    float(value)
                except (TypeError, ValueError):
                    return InvalidInput(
                        f"instance {row_index}, feature {col}: expected a number, got "
                        f"{type(value).__name__} {_short(value)}"
                    )
    return InvalidInput("instances must be lists of numbers")


def _all_of(rows: Sequence[Any], kind: type, what: str) -> None:
    for index, row in enumerate(rows):
        if not isinstance(row, kind):
            raise InvalidInput(
                f"instances must all be {what}: instance {index} is {type(row).__name__}"
            )


def _missing(value: Any) -> bool:
    """A missing value as requests carry it: JSON null, or NaN from a V2 float tensor."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def _records_expected() -> InvalidInput:
    return InvalidInput(
        "this model takes records: send each instance as a JSON object of feature names to "
        "values (it starts with a DictVectorizer or FeatureHasher)"
    )


def _nulls_refused() -> InvalidInput:
    return InvalidInput(
        "instances contain missing values (null or NaN) and this model is served with "
        "nan_policy=reject"
    )


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
