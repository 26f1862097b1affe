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


MAX_DIMENSIONS = 32
"""The most dimensions a tensor's shape may have (numpy's arrays stop at 64)."""
BYTES_PREFIX = 4
"""Each element of a binary BYTES tensor starts with its length: 4 bytes, little-endian."""


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


def decode_tensor(spec: Any, binary: bytes | memoryview | None = None) -> Tensor:
    """One request input (``{"name", "shape", "datatype", "data"}``) → a typed array.

    Every count is checked before anything is decoded: JSON data may nest no deeper than
    the shape has dimensions, and binary data must hold exactly the shape's elements (a
    BYTES tensor is read element by element, never past the count its shape gives)."""
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
    if len(shape) > MAX_DIMENSIONS:
        raise InvalidInput(
            f"input {name!r}: 'shape' has {len(shape)} dimensions; a tensor has at most "
            f"{MAX_DIMENSIONS}"
        )
    if not isinstance(parameters, dict):
        raise InvalidInput(f"input {name!r}: 'parameters' must be an object")
    count = math.prod(shape)
    if binary is not None:
        flat = _from_binary(name, datatype, binary, shape, count)
    else:
        if "data" not in spec:
            raise InvalidInput(f"input {name!r} has no 'data'")
        flat = _from_json(name, datatype, spec["data"], shape)
    if flat.size != count:
        raise InvalidInput(f"input {name!r}: shape {shape} needs {count} values, got {flat.size}")
    return Tensor(name, datatype, tuple(shape), flat.reshape(shape), parameters)


def _from_json(name: str, datatype: str, data: Any, shape: list[int]) -> np.ndarray:
    if not isinstance(data, list):
        data = [data]
    if datatype == "BYTES":
        flat = _flatten(name, data, shape)
        for value in flat:
            if not isinstance(value, (str, int, float, bool)) and value is not None:
                raise InvalidInput(f"input {name!r}: BYTES values must be strings")
        return np.array(flat, dtype=object)
    dtype = DTYPES[datatype]
    # numpy reads nested lists in C (and refuses more than 64 levels on its own); a float
    # too large for the datatype raises instead of becoming an infinity.
    with np.errstate(over="raise"):
        try:
            array = np.asarray(data, dtype=dtype)
        except FloatingPointError:
            raise _out_of_range(name, datatype) from None
        except (TypeError, ValueError, OverflowError):
            pass
        else:
            if array.ndim > len(shape):
                raise _too_deep(name, shape)
            return array.reshape(-1)
        try:
            return np.asarray(_flatten(name, data, shape), dtype=dtype)
        except FloatingPointError:
            raise _out_of_range(name, datatype) from None
        except (TypeError, ValueError, OverflowError) as err:
            raise InvalidInput(
                f"input {name!r}: data does not fit datatype {datatype}: {err}"
            ) from None


def _out_of_range(name: str, datatype: str) -> InvalidInput:
    return InvalidInput(f"input {name!r}: a value is out of range for {datatype}")


def _flatten(name: str, data: list[Any], shape: list[int]) -> list[Any]:
    """The values of ``data`` in order, nested at most as deep as ``shape`` has
    dimensions; with a stack of its own, never recursing."""
    flat: list[Any] = []
    stack = [iter(data)]
    while stack:
        for item in stack[-1]:
            if isinstance(item, list):
                if len(stack) >= len(shape):
                    raise _too_deep(name, shape)
                stack.append(iter(item))
                break
            flat.append(item)
        else:
            stack.pop()
    return flat


def _too_deep(name: str, shape: list[int]) -> InvalidInput:
    return InvalidInput(
        f"input {name!r}: data is nested deeper than its shape {shape} has dimensions "
        f"({len(shape)}); send it flat, or nested once per dimension"
    )


def _from_binary(
    name: str, datatype: str, raw: bytes | memoryview, shape: list[int], count: int
) -> np.ndarray:
    if datatype != "BYTES":
        dtype = DTYPES[datatype].newbyteorder("<")
        needed = count * dtype.itemsize
        if len(raw) != needed:
            raise InvalidInput(
                f"input {name!r}: binary data has {len(raw)} bytes, shape needs {needed}"
            )
        return np.frombuffer(raw, dtype=dtype).astype(DTYPES[datatype], copy=False)
    size = len(raw)
    if count * BYTES_PREFIX > size:
        raise InvalidInput(
            f"input {name!r}: shape {shape} needs {count} elements, and {size} bytes of "
            f"BYTES data hold at most {size // BYTES_PREFIX}"
        )
    values, offset = [], 0
    for index in range(count):  # never more elements than the shape holds
        end = offset + BYTES_PREFIX
        if end > size:
            raise InvalidInput(f"input {name!r}: BYTES element {index} is cut short")
        (length,) = struct.unpack_from("<I", raw, offset)
        offset, end = end, end + length
        if end > size:
            raise InvalidInput(
                f"input {name!r}: BYTES element {index} declares {length} bytes, "
                f"{size - offset} are left"
            )
        values.append(str(raw[offset:end], "utf-8", "replace"))
        offset = end
    if offset != size:
        raise InvalidInput(
            f"input {name!r}: binary data holds more than the {count} elements of its shape "
            f"{shape} ({size - offset} bytes are left after them)"
        )
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
