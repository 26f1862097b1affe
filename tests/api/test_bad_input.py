"""Every bad request is a 4xx with a message saying what was expected; the server stays up."""

from __future__ import annotations

import pytest

from tests.api.conftest import Serve
from tests.models import Trained

IRIS = "/v1/models/iris:predict"


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        (b'{"instances": [[1, 2', 400, "not valid JSON"),
        (b"", 400, "body is empty"),
        (b"[1, 2, 3]", 400, "must be a JSON object"),
        (b'{"rows": [[1, 2, 3, 4]]}', 400, '"instances"'),
        (b'{"instances": []}', 400, "non-empty list"),
        (b'{"instances": [1, 2, 3, 4]}', 400, "wrap a single row"),
        (b'{"instances": [[1, 2, 3]]}', 400, "expects 4 features per instance, got 3"),
        (b'{"instances": [[1, 2, 3, 4], [1, 2, 3]]}', 400, "instance 1 has 3"),
        (b'{"instances": [[1, 2, "three", 4]]}', 400, "instance 0, feature 2: expected a number"),
        (b'{"instances": [[1, 2, [3], 4]]}', 400, "expected a number"),
        (b'{"instances": [{"a": 1}]}', 400, "not fitted with feature names"),
        (b'{"instances": [[1, 2, 3, 4], {"a": 1}]}', 400, "instance 1 is dict"),
        (b'{"instances": [[1, 2, 3, 4]], "method": "transform"}', 400, "choose one of"),
    ],
)
async def test_bad_requests_get_a_400_with_what_was_expected(
    serve: Serve, iris: Trained, body: bytes, status: int, fragment: str
) -> None:
    async with serve(iris.path, name="iris") as client:
        response = await client.post(IRIS, content=body)
        assert response.status_code == status, response.text
        assert fragment in response.json()["error"]
        assert "Traceback" not in response.text
        healthy = await client.post(IRIS, json={"instances": iris.rows[:1]})
    assert healthy.status_code == 200


async def test_unknown_model_is_404_and_wrong_method_is_405(serve: Serve, iris: Trained) -> None:
    async with serve(iris.path, name="iris") as client:
        unknown = await client.post("/v1/models/other:predict", json={"instances": iris.rows})
        wrong_method = await client.get(IRIS)
        no_route = await client.get("/v1/nothing/here")
    assert unknown.status_code == 404
    assert "serves 'iris'" in unknown.json()["error"]
    assert wrong_method.status_code == 405
    assert "not allowed" in wrong_method.json()["error"]
    assert no_route.status_code == 404
    assert "error" in no_route.json()


async def test_records_need_every_field_and_no_unknown_ones(serve: Serve, houses: Trained) -> None:
    missing = [{"city": "paris", "rooms": 2}]
    unknown = [{"city": "paris", "rooms": 2, "area": 40.0, "floor": 3}]
    async with serve(houses.path, name="houses") as client:
        first = await client.post("/v1/models/houses:predict", json={"instances": missing})
        second = await client.post("/v1/models/houses:predict", json={"instances": unknown})
    assert first.status_code == 400
    assert "missing ['area']" in first.json()["error"]
    assert second.status_code == 400
    assert "unknown ['floor']" in second.json()["error"]


async def test_a_dict_model_refuses_arrays_with_a_hint(serve: Serve, ctr: Trained) -> None:
    async with serve(ctr.path, name="ctr") as client:
        response = await client.post("/v1/models/ctr:predict", json={"instances": [[1, 2, 3]]})
    assert response.status_code == 400
    assert "takes records" in response.json()["error"]


class Flaky:
    """A model that raises for some valid-looking input, as a buggy custom model would."""

    n_features_in_ = 1

    def predict(self, rows):
        if any(row[0] > 100 for row in rows):
            raise RuntimeError("sensor calibration table has no entry above 100")
        return [0 for _ in rows]


async def test_a_model_that_raises_on_valid_input_is_a_500_with_the_reason(
    serve: Serve, tmp_path
) -> None:
    import joblib

    joblib.dump(Flaky(), tmp_path / "flaky.joblib")
    async with serve(tmp_path / "flaky.joblib", name="flaky") as client:
        failed = await client.post("/v1/models/flaky:predict", json={"instances": [[101]]})
        still_up = await client.post("/v1/models/flaky:predict", json={"instances": [[1]]})
    assert failed.status_code == 500
    assert failed.json()["error"] == (
        "the model raised RuntimeError: sensor calibration table has no entry above 100"
    )
    assert still_up.json() == {"predictions": [0]}


async def test_strings_reach_a_model_that_encodes_them_and_its_refusal_is_a_400(
    serve: Serve, tmp_path
) -> None:
    import joblib
    import numpy as np
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder
    from sklearn.tree import DecisionTreeClassifier

    model = make_pipeline(OneHotEncoder(handle_unknown="error"), DecisionTreeClassifier())
    model.fit(np.array([["a"], ["b"]], dtype=object), [0, 1])
    joblib.dump(model, tmp_path / "strict.joblib")
    async with serve(tmp_path / "strict.joblib", name="strict") as client:
        known = await client.post("/v1/models/strict:predict", json={"instances": [["b"]]})
        unknown = await client.post("/v1/models/strict:predict", json={"instances": [["zzz"]]})
    assert known.json() == {"predictions": [1]}
    assert unknown.status_code == 400
    assert "Found unknown categories" in unknown.json()["error"]
