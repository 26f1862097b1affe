"""Crafted input is a 400 with a message, never a 500 or a stall: headers that only look
like numbers, data nested far deeper than any tensor, sizes that point backwards, and a
binary tensor far bigger than its shape, refused on its count before it is decoded."""

from __future__ import annotations

import json
import struct

import pytest

from tests.api.conftest import Serve
from tests.models import Trained

INFER = "/v2/models/iris/infer"
PREDICT = "/v1/models/iris:predict"
HEADER = "inference-header-content-length"


def _binary(inputs: list[dict], raw: bytes) -> tuple[bytes, dict[str, str]]:
    head = json.dumps({"inputs": inputs}).encode()
    return head + raw, {HEADER: str(len(head))}


def _nested(depth: int, leaf: str) -> str:
    return "[" * depth + leaf + "]" * depth


def _error(response) -> str:
    assert response.status_code == 400, response.text
    assert response.json()["reason"] == "InvalidInput", response.text
    return response.json()["error"]


# "²" and "¹" are digits to str.isdigit() (and to int() not at all): latin-1 header bytes.
@pytest.mark.parametrize("value", [b"\xb2", b"1\xb9", b"\xb3\xb2"])
async def test_a_binary_header_length_with_non_ascii_digits_is_a_400(
    serve: Serve, iris: Trained, value: bytes
) -> None:
    body, _ = _binary([{"name": "x", "shape": [1, 4], "datatype": "FP32",
                        "parameters": {"binary_data_size": 16}}], b"\0" * 16)  # fmt: skip
    async with serve(iris.path, name="iris") as client:
        response = await client.post(INFER, content=body, headers={HEADER: value})
        healthy = await client.post(PREDICT, json={"instances": iris.rows[:1]})
    assert HEADER in _error(response)
    assert healthy.status_code == 200


async def test_a_content_length_with_non_ascii_digits_is_a_400(serve: Serve, iris: Trained) -> None:
    async with serve(iris.path, name="iris") as client:
        response = await client.post(
            PREDICT, content=json.dumps({"instances": iris.rows[:1]}),
            headers={"content-length": b"\xb9\xb2"},
        )  # fmt: skip
    assert "content-length" in _error(response)


def _tensor(datatype: str, shape: str, data: str) -> str:
    return (
        '{"inputs": [{"name": "x", "shape": ' + shape + ', "datatype": "' + datatype + '", '
        '"data": ' + data + "}]}"
    )


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (INFER, _tensor("BYTES", "[1]", _nested(1000, '"a"'))),
        (INFER, _tensor("FP32", "[1, 4]", _nested(1000, "1"))),
        (INFER, _tensor("FP32", "[1, 4]", "[1, 2, 3, " + _nested(1000, "4") + "]")),
        (PREDICT, '{"instances": [[1, 2, 3, ' + _nested(1000, "4") + "]]}"),
        (PREDICT, '{"instances": ' + _nested(1000, "1") + "}"),
    ],
    ids=["v2-bytes", "v2-fp32", "v2-fp32-last-value", "v1-value", "v1-instances"],
)
async def test_data_nested_a_thousand_deep_is_a_400(
    serve: Serve, iris: Trained, path: str, body: str
) -> None:
    async with serve(iris.path, name="iris") as client:
        response = await client.post(path, content=body)
        healthy = await client.post(PREDICT, json={"instances": iris.rows[:1]})
    assert "nested" in _error(response)
    assert healthy.status_code == 200


async def test_a_record_value_nested_deeper_than_a_list_of_strings_is_a_400(
    serve: Serve, ctr: Trained
) -> None:
    record = {**ctr.rows[0], "site": [["shop"]]}
    async with serve(ctr.path, name="ctr") as client:
        response = await client.post("/v1/models/ctr:predict", json={"instances": [record]})
        listed = await client.post(  # a list of strings is what a DictVectorizer takes
            "/v1/models/ctr:predict", json={"instances": [{**ctr.rows[0], "site": ["shop"]}]}
        )
    assert "nested" in _error(response)
    assert listed.status_code == 200, listed.text


@pytest.mark.parametrize("value", [[1, 2], {"a": "b"}, ["shop", 3]])
async def test_a_record_value_the_first_step_cannot_take_is_a_400_not_a_model_failure(
    serve: Serve, ctr: Trained, value: object
) -> None:
    """A DictVectorizer takes strings, numbers and lists of strings: a list of numbers or
    an object used to reach it and fail there (a 500 blamed on the model)."""
    async with serve(ctr.path, name="ctr") as client:
        response = await client.post(
            "/v1/models/ctr:predict", json={"instances": [{**ctr.rows[0], "site": value}]}
        )
        healthy = await client.post("/v1/models/ctr:predict", json={"instances": ctr.rows[:1]})
    assert response.status_code == 400, response.text
    assert "instance 0: field 'site'" in _error(response)
    assert "lists of strings" in _error(response)
    assert healthy.status_code == 200


def test_a_feature_hasher_takes_no_list_of_strings() -> None:
    """A FeatureHasher's records take strings and numbers only: its schema says so."""
    from sklearn.feature_extraction import FeatureHasher
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    from modelops_runtime.models.sklearn import schema_of

    model = make_pipeline(FeatureHasher(n_features=8), LogisticRegression())
    model.fit([{"site": "shop"}, {"site": "news"}], [0, 1])
    assert schema_of(model).string_lists is False


@pytest.mark.parametrize("size", [-4, -16, True])
async def test_a_binary_data_size_that_is_not_a_count_of_bytes_is_a_400(
    serve: Serve, iris: Trained, size: object
) -> None:
    spec = {"name": "x", "shape": [1, 4], "datatype": "FP32"}
    body, headers = _binary([{**spec, "parameters": {"binary_data_size": size}}], b"\0" * 16)
    async with serve(iris.path, name="iris") as client:
        response = await client.post(INFER, content=body, headers=headers)
    message = _error(response)
    assert "binary_data_size" in message
    assert "non-negative" in message


async def test_a_16_mib_bytes_tensor_is_refused_on_its_count_before_it_is_decoded(
    serve: Serve, iris: Trained
) -> None:
    """Four elements declared, four million sent: the refusal says how many the shape
    holds and never how many were sent, which only decoding all of them would tell."""
    sent = 4 * 1024 * 1024 - 256  # empty elements: a 4-byte length each, 16 MiB in all
    body, headers = _binary(
        [{"name": "x", "shape": [1, 4], "datatype": "BYTES",
          "parameters": {"binary_data_size": 4 * sent}}],
        struct.pack("<I", 0) * sent,
    )  # fmt: skip
    assert len(body) <= 16 * 1024 * 1024
    async with serve(iris.path, name="iris") as client:
        response = await client.post(INFER, content=body, headers=headers)
        healthy = await client.post(PREDICT, json={"instances": iris.rows[:1]})
    message = _error(response)
    assert "more than the 4 elements of its shape [1, 4]" in message
    assert str(sent) not in message
    assert healthy.status_code == 200


async def test_a_bytes_tensor_whose_shape_needs_more_bytes_than_sent_is_refused_at_once(
    serve: Serve, iris: Trained
) -> None:
    body, headers = _binary(
        [{"name": "x", "shape": [1_000_000, 4], "datatype": "BYTES",
          "parameters": {"binary_data_size": 8}}],
        b"\0" * 8,
    )  # fmt: skip
    async with serve(iris.path, name="iris") as client:
        response = await client.post(INFER, content=body, headers=headers)
    assert "4000000 elements" in _error(response)


async def test_a_shape_with_more_dimensions_than_an_array_can_have_is_a_400(
    serve: Serve, iris: Trained
) -> None:
    body = {"inputs": [{"name": "x", "shape": [1] * 100, "datatype": "FP32", "data": [1]}]}
    async with serve(iris.path, name="iris") as client:
        response = await client.post(INFER, json=body)
    assert "dimensions" in _error(response)


async def test_a_large_body_is_decoded_off_the_event_loop(
    serve: Serve, iris: Trained, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Millions of BYTES elements take seconds to decode: in a thread, while the event
    loop goes on answering (a small body is decoded in place, a thread hop costs more)."""
    import threading

    from modelops_runtime.protocols import v2

    threads: list[str] = []
    decode = v2.decode_tensor

    def spy(spec, binary=None):
        threads.append(threading.current_thread().name)
        return decode(spec, binary)

    monkeypatch.setattr(v2, "decode_tensor", spy)
    rows = iris.rows * (v2.DECODE_ON_LOOP_BYTES // 100)
    elements = [str(value).encode() for row in rows for value in row]
    raw = b"".join(struct.pack("<I", len(e)) + e for e in elements)
    body, headers = _binary(
        [{"name": "x", "shape": [len(rows), 4], "datatype": "BYTES",
          "parameters": {"binary_data_size": len(raw)}}], raw)  # fmt: skip
    assert len(body) > v2.DECODE_ON_LOOP_BYTES
    async with serve(iris.path, name="iris") as client:
        large = await client.post(INFER, content=body, headers=headers)
        small = await client.post(INFER, json={"inputs": [
            {"name": "x", "shape": [1, 4], "datatype": "FP64", "data": iris.rows[0]}]})  # fmt: skip
    assert large.status_code == 200, large.text
    assert large.json()["outputs"][0]["shape"] == [len(rows)]
    assert small.status_code == 200, small.text
    assert threads[0] != threading.main_thread().name
    assert threads[1] == threading.main_thread().name


@pytest.mark.parametrize(("datatype", "value"), [("FP16", 70000.0), ("FP32", 1e39)])
async def test_a_value_too_large_for_its_float_type_is_a_400_not_an_infinity(
    serve: Serve, iris: Trained, datatype: str, value: float
) -> None:
    tensor = {"name": "x", "shape": [1, 4], "datatype": datatype, "data": [1.0, 2.0, 3.0, value]}
    async with serve(iris.path, name="iris") as client:
        response = await client.post(INFER, json={"inputs": [tensor]})
    assert f"out of range for {datatype}" in _error(response)
