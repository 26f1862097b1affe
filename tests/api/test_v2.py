"""Open Inference Protocol over the real app: health, metadata, JSON and binary tensors."""

from __future__ import annotations

import struct

import numpy as np
import orjson
import pytest

from tests.api.conftest import Serve
from tests.models import Trained


def tensor(name: str, array: np.ndarray, datatype: str) -> dict:
    return {
        "name": name,
        "shape": list(array.shape),
        "datatype": datatype,
        "data": array.reshape(-1).tolist(),
    }


async def test_health_and_metadata(serve: Serve, iris: Trained) -> None:
    async with serve(iris.path, name="iris", model_version="v3") as client:
        live = await client.get("/v2/health/live")
        ready = await client.get("/v2/health/ready")
        model_ready = await client.get("/v2/models/iris/ready")
        meta = (await client.get("/v2/models/iris")).json()
        server = (await client.get("/v2")).json()
    assert live.status_code == ready.status_code == model_ready.status_code == 200
    assert meta["name"] == "iris"
    assert meta["versions"] == ["v3"]
    assert meta["platform"] == "sklearn"
    assert meta["inputs"] == [{"name": "input-0", "datatype": "FP64", "shape": [-1, 4]}]
    assert {o["name"] for o in meta["outputs"]} == {"predict", "predict_proba"}
    assert meta["parameters"]["runtime_versions"]["sklearn"]
    assert server["name"] == "modelops"


async def test_infer_fp32_tensor_equals_local_predict(serve: Serve, booster_ubj: Trained) -> None:
    sample = np.asarray(booster_ubj.local_input, dtype=np.float32)
    async with serve(booster_ubj.path, name="b") as client:
        response = await client.post(
            "/v2/models/b/infer", json={"id": "r1", "inputs": [tensor("x", sample, "FP32")]}
        )
    body = response.json()
    assert response.status_code == 200, body
    assert body["id"] == "r1"
    (output,) = body["outputs"]
    assert output["name"] == "predict"
    assert output["datatype"] == "FP32"
    assert output["shape"] == [len(sample)]
    np.testing.assert_allclose(output["data"], booster_ubj.local_predict(), rtol=1e-6)


async def test_named_columns_with_pandas_content_type(serve: Serve, houses: Trained) -> None:
    frame = houses.local_input
    inputs = [
        {
            "name": "city",
            "shape": [len(frame)],
            "datatype": "BYTES",
            "data": frame["city"].tolist(),
        },
        {
            "name": "rooms",
            "shape": [len(frame)],
            "datatype": "INT64",
            "data": frame["rooms"].tolist(),
        },
        {
            "name": "area",
            "shape": [len(frame), 1],
            "datatype": "FP64",
            "data": frame["area"].tolist(),
        },
    ]
    async with serve(houses.path, name="houses") as client:
        response = await client.post(
            "/v2/models/houses/infer",
            json={"parameters": {"content_type": "pd"}, "inputs": inputs},
        )
    assert response.status_code == 200, response.text
    np.testing.assert_allclose(response.json()["outputs"][0]["data"], houses.local_predict())


async def test_records_model_from_named_inputs(serve: Serve, ctr: Trained) -> None:
    names = list(ctr.rows[0])
    inputs = []
    for name in names:
        values = [r[name] for r in ctr.rows]
        datatype = "BYTES" if isinstance(values[0], str) else "INT64"
        inputs.append({"name": name, "shape": [len(values)], "datatype": datatype, "data": values})
    async with serve(ctr.path, name="ctr") as client:
        response = await client.post(
            "/v2/models/ctr/infer",
            json={"inputs": inputs, "outputs": [{"name": "predict_proba"}]},
        )
    assert response.status_code == 200, response.text
    output = response.json()["outputs"][0]
    assert output["name"] == "predict_proba"
    assert output["shape"] == [len(ctr.rows), 2]
    np.testing.assert_allclose(
        np.asarray(output["data"]).reshape(output["shape"]),
        ctr.local_predict("predict_proba"),
        rtol=1e-6,
    )


async def test_binary_tensor_extension_in_and_out(serve: Serve, iris: Trained) -> None:
    sample = np.asarray(iris.local_input, dtype=np.float64)
    header = orjson.dumps(
        {
            "inputs": [
                {
                    "name": "x",
                    "shape": list(sample.shape),
                    "datatype": "FP64",
                    "parameters": {"binary_data_size": sample.nbytes},
                }
            ],
            "outputs": [{"name": "predict_proba", "parameters": {"binary_data": True}}],
        }
    )
    async with serve(iris.path, name="iris") as client:
        response = await client.post(
            "/v2/models/iris/infer",
            content=header + sample.tobytes(),
            headers={"Inference-Header-Content-Length": str(len(header))},
        )
    assert response.status_code == 200, response.text
    cut = int(response.headers["inference-header-content-length"])
    head = orjson.loads(response.content[:cut])
    (output,) = head["outputs"]
    values = np.frombuffer(response.content[cut:], dtype="<f8").reshape(output["shape"])
    np.testing.assert_allclose(values, iris.local_predict("predict_proba"))


async def test_binary_bytes_tensor_for_string_columns(serve: Serve, houses: Trained) -> None:
    cities = [c.encode() for c in houses.local_input["city"]]
    raw = b"".join(struct.pack("<I", len(c)) + c for c in cities)
    header = orjson.dumps(
        {
            "parameters": {"content_type": "pd"},
            "inputs": [
                {
                    "name": "city",
                    "shape": [len(cities)],
                    "datatype": "BYTES",
                    "parameters": {"binary_data_size": len(raw)},
                },
                {
                    "name": "rooms",
                    "shape": [len(cities)],
                    "datatype": "INT64",
                    "data": houses.local_input["rooms"].tolist(),
                },
                {
                    "name": "area",
                    "shape": [len(cities)],
                    "datatype": "FP64",
                    "data": houses.local_input["area"].tolist(),
                },
            ],
        }
    )
    async with serve(houses.path, name="houses") as client:
        response = await client.post(
            "/v2/models/houses/infer",
            content=header + raw,
            headers={"Inference-Header-Content-Length": str(len(header))},
        )
    assert response.status_code == 200, response.text
    np.testing.assert_allclose(response.json()["outputs"][0]["data"], houses.local_predict())


@pytest.mark.parametrize(
    ("inputs", "fragment"),
    [
        ([], "non-empty list"),
        (
            [{"name": "x", "shape": [1, 4], "datatype": "FP99", "data": [1, 2, 3, 4]}],
            "datatype must be one of",
        ),
        (
            [{"name": "x", "shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3]}],
            "needs 4 values, got 3",
        ),
        (
            [{"name": "x", "shape": [1, 3], "datatype": "FP32", "data": [1, 2, 3]}],
            "expects 4 features",
        ),
        (
            [{"name": "x", "shape": [1, 4], "datatype": "FP32", "data": ["a", 2, 3, 4]}],
            "does not fit datatype",
        ),
        (
            [{"name": "x", "shape": "1x4", "datatype": "FP32", "data": [1, 2, 3, 4]}],
            "'shape' must be",
        ),
        ([{"shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3, 4]}], "needs a 'name'"),
    ],
)
async def test_bad_tensors_get_a_400(
    serve: Serve, iris: Trained, inputs: list, fragment: str
) -> None:
    async with serve(iris.path, name="iris") as client:
        response = await client.post("/v2/models/iris/infer", json={"inputs": inputs})
    assert response.status_code == 400, response.text
    assert fragment in response.json()["error"]


async def test_not_ready_model_answers_503_with_the_reason(serve: Serve, iris: Trained) -> None:
    async with serve(iris.path, name="iris", sha256="0" * 64) as client:
        ready = await client.get("/v2/health/ready")
        live = await client.get("/v2/health/live")
        predict = await client.post("/v1/models/iris:predict", json={"instances": iris.rows})
    assert live.status_code == 200
    assert ready.status_code == 503
    assert "sha256 mismatch" in ready.json()["error"]
    assert predict.status_code == 503
    assert "sha256 mismatch" in predict.json()["error"]
