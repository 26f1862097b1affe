"""Missing values follow the nan policy on every input shape: rows, records, V2 tensors.

``allow`` (the default) hands them to the model as NaN, so the answer is the model's own
for a missing value (not a zero or a dropped field); ``reject`` refuses them with a 400.
"""

from __future__ import annotations

import numpy as np
import orjson
import pytest

from tests.api.conftest import Serve
from tests.models import Trained

REFUSED = "instances contain missing values (null or NaN) and this model is served with "
REFUSED += "nan_policy=reject"


def _with_missing(record: dict, field: str) -> dict:
    return {**record, field: None}


def _refused(response) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == 400, response.text
    assert response.json() == {"error": REFUSED, "reason": "InvalidInput"}


async def test_null_in_a_row_reaches_xgboost_as_nan(serve: Serve, booster_json: Trained) -> None:
    missing, zero = [[None, 1, 2, 3, 4, 5]], [[0.0, 1, 2, 3, 4, 5]]
    local_missing = booster_json.model.predict(np.array(missing, dtype=np.float32))
    local_zero = booster_json.model.predict(np.array(zero, dtype=np.float32))
    assert abs(local_missing[0] - local_zero[0]) > 0.1  # this row tells NaN from 0.0
    async with serve(booster_json.path, name="b") as client:
        allowed = await client.post("/v1/models/b:predict", json={"instances": missing})
        zeroed = await client.post("/v1/models/b:predict", json={"instances": zero})
    assert allowed.status_code == 200, allowed.text
    np.testing.assert_allclose(allowed.json()["predictions"], local_missing, rtol=1e-6)
    np.testing.assert_allclose(zeroed.json()["predictions"], local_zero, rtol=1e-6)
    async with serve(booster_json.path, name="b", nan_policy="reject") as client:
        _refused(await client.post("/v1/models/b:predict", json={"instances": missing}))


async def test_a_model_that_refuses_nan_gives_a_400_naming_it(serve: Serve, iris: Trained) -> None:
    async with serve(iris.path, name="iris") as client:
        # LogisticRegression cannot take NaN: the model's refusal becomes a 400 naming it.
        response = await client.post(
            "/v1/models/iris:predict", json={"instances": [[5.1, None, 1.4, 0.2]]}
        )
    assert response.status_code == 400
    assert response.json()["error"].startswith("instances contain missing values (null), ")


async def test_records_for_a_dict_model(serve: Serve, ctr: Trained) -> None:
    record = _with_missing(ctr.rows[0], "position")
    local = ctr.model.predict_proba([record])
    assert not np.allclose(local, ctr.model.predict_proba([{**record, "position": 0}]))
    body = {"instances": [record], "method": "predict_proba"}
    async with serve(ctr.path, name="ctr") as client:
        allowed = await client.post("/v1/models/ctr:predict", json=body)
    assert allowed.status_code == 200, allowed.text
    np.testing.assert_allclose(allowed.json()["predictions"], local, rtol=1e-6)
    async with serve(ctr.path, name="ctr", nan_policy="reject") as client:
        _refused(await client.post("/v1/models/ctr:predict", json=body))


async def test_records_for_a_column_model(serve: Serve, houses: Trained) -> None:
    record = _with_missing(houses.rows[0], "area")
    frame = houses.local_input.iloc[:1].copy()
    frame.loc[0, "area"] = np.nan
    local = houses.model.predict(frame)
    assert not np.allclose(local, houses.model.predict(houses.local_input.iloc[:1]))
    async with serve(houses.path, name="houses") as client:
        allowed = await client.post("/v1/models/houses:predict", json={"instances": [record]})
    assert allowed.status_code == 200, allowed.text
    np.testing.assert_allclose(allowed.json()["predictions"], local)
    async with serve(houses.path, name="houses", nan_policy="reject") as client:
        _refused(await client.post("/v1/models/houses:predict", json={"instances": [record]}))


async def test_null_in_a_json_tensor(serve: Serve, booster_json: Trained) -> None:
    rows = np.array(booster_json.local_input[:2], dtype=np.float32)  # a copy
    data: list = rows.ravel().tolist()
    data[0] = None
    expected = rows.copy()
    expected[0, 0] = np.nan
    tensor = {"name": "x", "shape": list(rows.shape), "datatype": "FP32", "data": data}
    async with serve(booster_json.path, name="b") as client:
        allowed = await client.post("/v2/models/b/infer", json={"inputs": [tensor]})
    assert allowed.status_code == 200, allowed.text
    served = allowed.json()["outputs"][0]["data"]
    np.testing.assert_allclose(served, booster_json.model.predict(expected), rtol=1e-6)
    assert abs(served[0] - booster_json.local_predict()[0]) > 0.01  # not the value it replaced
    async with serve(booster_json.path, name="b", nan_policy="reject") as client:
        _refused(await client.post("/v2/models/b/infer", json={"inputs": [tensor]}))


async def test_nan_in_a_binary_tensor(serve: Serve, booster_json: Trained) -> None:
    rows = np.array(booster_json.local_input[:2], dtype=np.float32)  # a copy
    rows[1, 0] = np.nan
    head = {"name": "x", "shape": list(rows.shape), "datatype": "FP32"}
    header = orjson.dumps({"inputs": [{**head, "parameters": {"binary_data_size": rows.nbytes}}]})
    request = {
        "content": header + rows.tobytes(),
        "headers": {"Inference-Header-Content-Length": str(len(header))},
    }
    async with serve(booster_json.path, name="b") as client:
        allowed = await client.post("/v2/models/b/infer", **request)
    assert allowed.status_code == 200, allowed.text
    np.testing.assert_allclose(
        allowed.json()["outputs"][0]["data"], booster_json.model.predict(rows), rtol=1e-6
    )
    async with serve(booster_json.path, name="b", nan_policy="reject") as client:
        _refused(await client.post("/v2/models/b/infer", **request))


@pytest.mark.parametrize("content_type", ["pd", None])
async def test_null_in_named_tensors(serve: Serve, ctr: Trained, content_type: str | None) -> None:
    records = [_with_missing(ctr.rows[0], "hour"), ctr.rows[1]]
    inputs = []
    for name in records[0]:
        values = [r[name] for r in records]
        datatype = "BYTES" if isinstance(values[1], str) else "FP64"
        inputs.append({"name": name, "shape": [2], "datatype": datatype, "data": values})
    body: dict = {"inputs": inputs, "outputs": [{"name": "predict_proba"}]}
    if content_type:
        body["parameters"] = {"content_type": content_type}
    async with serve(ctr.path, name="ctr") as client:
        allowed = await client.post("/v2/models/ctr/infer", json=body)
    assert allowed.status_code == 200, allowed.text
    output = allowed.json()["outputs"][0]
    np.testing.assert_allclose(
        np.reshape(output["data"], output["shape"]), ctr.model.predict_proba(records), rtol=1e-6
    )
    async with serve(ctr.path, name="ctr", nan_policy="reject") as client:
        _refused(await client.post("/v2/models/ctr/infer", json=body))
