"""KServe V1 over the real app: every model kind and input shape, against local predict."""

from __future__ import annotations

import numpy as np
import pytest

from tests.api.conftest import Serve
from tests.models import Trained


def _predict_body(rows: list, **extra: object) -> dict:
    return {"instances": rows, **extra}


@pytest.mark.parametrize(
    "fixture",
    ["iris", "ctr", "houses", "booster_json", "booster_ubj", "booster_named", "iris_skops"],
)
async def test_predictions_equal_local_predict(
    serve: Serve, request: pytest.FixtureRequest, fixture: str
) -> None:
    trained: Trained = request.getfixturevalue(fixture)
    async with serve(trained.path, name=trained.name) as client:
        response = await client.post(
            f"/v1/models/{trained.name}:predict", json=_predict_body(trained.rows)
        )
    assert response.status_code == 200, response.text
    served = np.asarray(response.json()["predictions"])
    local = trained.local_predict()
    if local.dtype.kind == "f":
        np.testing.assert_allclose(served, local.astype(np.float64), rtol=1e-6)
    else:
        np.testing.assert_array_equal(served, local)


async def test_inputs_key_is_accepted_like_instances(serve: Serve, iris: Trained) -> None:
    async with serve(iris.path, name="iris") as client:
        response = await client.post("/v1/models/iris:predict", json={"inputs": iris.rows})
    assert response.json()["predictions"] == iris.local_predict().tolist()


async def test_predict_proba_per_request_and_as_default(serve: Serve, ctr: Trained) -> None:
    expected = ctr.local_predict("predict_proba")
    async with serve(ctr.path, name="ctr") as client:
        per_request = await client.post(
            "/v1/models/ctr:predict", json=_predict_body(ctr.rows, method="predict_proba")
        )
        via_parameters = await client.post(
            "/v1/models/ctr:predict",
            json=_predict_body(ctr.rows, parameters={"method": "predict_proba"}),
        )
    for response in (per_request, via_parameters):
        np.testing.assert_allclose(response.json()["predictions"], expected, rtol=1e-6)
    async with serve(ctr.path, name="ctr", default_method="predict_proba") as client:
        default = await client.post("/v1/models/ctr:predict", json=_predict_body(ctr.rows))
    np.testing.assert_allclose(default.json()["predictions"], expected, rtol=1e-6)


async def test_positional_rows_reach_a_column_model_in_its_column_order(
    serve: Serve, houses: Trained
) -> None:
    rows = [[r["city"], r["rooms"], r["area"]] for r in houses.rows]
    async with serve(houses.path, name="houses") as client:
        response = await client.post("/v1/models/houses:predict", json=_predict_body(rows))
    np.testing.assert_allclose(response.json()["predictions"], houses.local_predict())


async def test_model_status_and_listing(serve: Serve, iris: Trained) -> None:
    async with serve(iris.path, name="iris") as client:
        status = await client.get("/v1/models/iris")
        listing = await client.get("/v1/models")
    assert status.json()["ready"] is True
    assert listing.json() == {"models": ["iris"]}


async def test_class_labels_that_are_strings_come_back_as_strings(serve: Serve, tmp_path) -> None:
    import joblib
    from sklearn.tree import DecisionTreeClassifier

    X = np.array([[0.0], [1.0], [2.0], [3.0]])
    model = DecisionTreeClassifier().fit(X, np.array(["low", "low", "high", "high"]))
    joblib.dump(model, tmp_path / "labels.joblib")
    async with serve(tmp_path / "labels.joblib", name="labels") as client:
        response = await client.post(
            "/v1/models/labels:predict", json={"instances": [[0.5], [2.5]]}
        )
    assert response.json()["predictions"] == ["low", "high"]
