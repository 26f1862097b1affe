"""Open Inference Protocol (V2) tensor codec, JSON and binary (pure)."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from modelops_runtime.errors import InvalidInput
from modelops_runtime.protocols.tensors import (
    datatype_of,
    decode_tensor,
    encode_binary,
    encode_json,
)


@pytest.mark.parametrize(
    ("datatype", "dtype"),
    [
        ("BOOL", np.bool_),
        ("INT8", np.int8),
        ("UINT16", np.uint16),
        ("INT32", np.int32),
        ("INT64", np.int64),
        ("FP16", np.float16),
        ("FP32", np.float32),
        ("FP64", np.float64),
    ],
)
def test_json_and_binary_decode_to_the_same_typed_array(datatype: str, dtype: type) -> None:
    values = np.arange(6).astype(dtype).reshape(2, 3)
    from_json = decode_tensor(
        {"name": "x", "shape": [2, 3], "datatype": datatype, "data": values.tolist()}
    )
    from_binary = decode_tensor(
        {"name": "x", "shape": [2, 3], "datatype": datatype},
        values.astype(np.dtype(dtype).newbyteorder("<")).tobytes(),
    )
    assert from_json.data.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(from_json.data, values)
    np.testing.assert_array_equal(from_binary.data, values)
    assert datatype_of(from_json.data) == datatype


def test_bytes_round_trip_through_binary() -> None:
    array = np.array(["paris", "", "lyon"], dtype=object)
    head, raw = encode_binary("out", array)
    assert head["datatype"] == "BYTES"
    assert raw == b"".join(struct.pack("<I", len(s)) + s.encode() for s in ["paris", "", "lyon"])
    decoded = decode_tensor({"name": "c", "shape": [3], "datatype": "BYTES"}, raw)
    assert decoded.data.tolist() == ["paris", "", "lyon"]


def test_nested_json_data_is_flattened_by_shape() -> None:
    tensor = decode_tensor(
        {"name": "x", "shape": [2, 2], "datatype": "FP32", "data": [[1, 2], [3, 4]]}
    )
    assert tensor.data.tolist() == [[1.0, 2.0], [3.0, 4.0]]


def test_encode_json_reports_shape_and_type() -> None:
    encoded = encode_json("predict_proba", np.array([[0.25, 0.75]]))
    assert encoded["datatype"] == "FP64"
    assert encoded["shape"] == [1, 2]
    assert list(encoded["data"]) == [0.25, 0.75]


def test_binary_size_must_fit_the_shape() -> None:
    with pytest.raises(InvalidInput, match="binary data has 8 bytes, shape needs 16"):
        decode_tensor({"name": "x", "shape": [2], "datatype": "FP64"}, b"\0" * 8)
