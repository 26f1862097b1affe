"""Open Inference Protocol tensors: JSON and binary-extension data to numpy and back (pure)."""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from typing import Any

import numpy as np

from modelops_runtime.errors import InvalidInput
from modelops_runtime.protocols.http import jsonable

DTYPES: dict[str, np.dtype[Any]] = {
    "BOOL": np.dtype(np.bool_),
    "UINT8": np.dtype(np.uint8),
    "UINT16": np.dtype(np.uint16),
    "UINT32": np.dtype(np.uint32),
    "UINT64": np.dtype(np.uint64),
    "INT8": np.dtype(np.int8),
    "INT16": np.dtype(np.int16),
    "INT32": np.dtype(np.int32),
    "INT64": np.dtype(np.int64),
    "FP16": np.dtype(np.float16),
    "FP32": np.dtype(np.float32),
    "FP64": np.dtype(np.float64),
    "BYTES": np.dtype(object),
}


@dataclass(frozen=True)
class Tensor:
    name: str
    datatype: str
    shape: tuple[int, ...]
    data: np.ndarray
    parameters: dict[str, Any]


def datatype_of(array: np.ndarray) -> str:
    kind, size = array.dtype.kind, array.dtype.itemsize
    if kind == "b":
        return "BOOL"
    if kind in "iu":
        return f"{'INT' if kind == 'i' else 'UINT'}{size * 8}"
    if kind == "f":
        return f"FP{size * 8}"
    return "BYTES"


def decode_tensor(spec: Any, binary: bytes | None = None) -> Tensor:
    """One request input (``{"name", "shape", "datatype", "data"}``) → a typed array."""
    if not isinstance(spec, dict):
        raise InvalidInput(
            "each entry of 'inputs' must be an object with name, shape, datatype, data"
        )
    name = spec.get("name")
    datatype = spec.get("datatype")
    shape = spec.get("shape")
    parameters = spec.get("parameters") or {}
    if not isinstance(name, str) or not name:
        raise InvalidInput("every input needs a 'name'")
    if datatype not in DTYPES:
        raise InvalidInput(
            f"input {name!r}: datatype must be one of {sorted(DTYPES)}, got {datatype!r}"
        )
    if (
        not isinstance(shape, list)
        or not shape
        or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)
    ):
        raise InvalidInput(f"input {name!r}: 'shape' must be a list of non-negative integers")
    if not isinstance(parameters, dict):
        raise InvalidInput(f"input {name!r}: 'parameters' must be an object")
    count = math.prod(shape)
    if binary is not None:
        flat = _from_binary(name, datatype, binary, count)
    else:
        if "data" not in spec:
            raise InvalidInput(f"input {name!r} has no 'data'")
        flat = _from_json(name, datatype, spec["data"])
    if flat.size != count:
        raise InvalidInput(f"input {name!r}: shape {shape} needs {count} values, got {flat.size}")
    return Tensor(name, datatype, tuple(shape), flat.reshape(shape), parameters)


def _from_json(name: str, datatype: str, data: Any) -> np.ndarray:
    if not isinstance(data, list):
        data = [data]
    if datatype == "BYTES":
        flat = list(_flatten(data))
        for value in flat:
            if not isinstance(value, (str, int, float, bool)) and value is not None:
                raise InvalidInput(f"input {name!r}: BYTES values must be strings")
        return np.array(flat, dtype=object)
    try:
        return np.asarray(data, dtype=DTYPES[datatype]).reshape(-1)
    except (TypeError, ValueError, OverflowError):
        pass
    try:
        flat = list(_flatten(data))
        return np.asarray(flat, dtype=DTYPES[datatype])
    except (TypeError, ValueError, OverflowError) as err:
        raise InvalidInput(
            f"input {name!r}: data does not fit datatype {datatype}: {err}"
        ) from None


def _flatten(data: list[Any]) -> Any:
    for item in data:
        if isinstance(item, list):
            yield from _flatten(item)
        else:
            yield item


def _from_binary(name: str, datatype: str, raw: bytes, count: int) -> np.ndarray:
    if datatype != "BYTES":
        dtype = DTYPES[datatype].newbyteorder("<")
        needed = count * dtype.itemsize
        if len(raw) != needed:
            raise InvalidInput(
                f"input {name!r}: binary data has {len(raw)} bytes, shape needs {needed}"
            )
        return np.frombuffer(raw, dtype=dtype).astype(DTYPES[datatype], copy=False)
    values, offset = [], 0
    while offset < len(raw):
        if offset + 4 > len(raw):
            raise InvalidInput(f"input {name!r}: truncated BYTES element")
        (length,) = struct.unpack_from("<I", raw, offset)
        offset += 4
        values.append(raw[offset : offset + length].decode("utf-8", errors="replace"))
        offset += length
    return np.array(values, dtype=object)


def encode_json(name: str, array: np.ndarray) -> dict[str, Any]:
    return {
        "name": name,
        "datatype": datatype_of(array),
        "shape": list(array.shape),
        "data": jsonable(array.reshape(-1)),
    }


def encode_binary(name: str, array: np.ndarray) -> tuple[dict[str, Any], bytes]:
    datatype = datatype_of(array)
    if datatype == "BYTES":
        raw = b"".join(
            struct.pack("<I", len(b)) + b for b in (str(v).encode() for v in array.reshape(-1))
        )
    else:
        raw = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).tobytes()
    header = {
        "name": name,
        "datatype": datatype,
        "shape": list(array.shape),
        "parameters": {"binary_data_size": len(raw)},
    }
    return header, raw
