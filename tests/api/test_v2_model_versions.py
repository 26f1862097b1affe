"""V2 routes that name a model version answer only for the version this server serves.

The server serves one ModelVersion; its name (``--version``) is the Open Inference
Protocol's model version. Any other version is a 404 that names both.
"""

from __future__ import annotations

import httpx
import numpy as np
import pytest

from tests.api.conftest import Serve
from tests.models import Trained

ROUTES = ["infer", "ready", "metadata"]


async def _ask(client: httpx.AsyncClient, route: str, path: str, rows: list) -> httpx.Response:
    if route == "infer":
        data = {"name": "x", "shape": [len(rows), len(rows[0])], "datatype": "FP64"}
        body = {"inputs": [{**data, "data": np.ravel(rows).tolist()}]}
        return await client.post(f"{path}/infer", json=body)
    if route == "ready":
        return await client.get(f"{path}/ready")
    return await client.get(path)


@pytest.mark.parametrize("route", ROUTES)
async def test_the_served_version_answers(serve: Serve, iris: Trained, route: str) -> None:
    async with serve(iris.path, name="iris", model_version="iris-v3") as client:
        response = await _ask(client, route, "/v2/models/iris/versions/iris-v3", iris.rows)
    assert response.status_code == 200, response.text
    body = response.json()
    if route == "infer":
        assert body["model_version"] == "iris-v3"
        assert body["outputs"][0]["data"] == iris.local_predict().tolist()
    elif route == "ready":
        assert body == {"name": "iris", "ready": True}
    else:
        assert body["versions"] == ["iris-v3"]


@pytest.mark.parametrize("route", ROUTES)
async def test_another_version_is_404_naming_both(serve: Serve, iris: Trained, route: str) -> None:
    async with serve(iris.path, name="iris", model_version="iris-v3") as client:
        response = await _ask(client, route, "/v2/models/iris/versions/iris-v2", iris.rows)
        served = await _ask(client, route, "/v2/models/iris", iris.rows)
    assert response.status_code == 404, response.text
    assert response.json() == {
        "error": "model 'iris' has no version 'iris-v2' here; it serves version 'iris-v3'",
        "reason": "ModelNotFound",
    }
    assert served.status_code == 200  # the same request without a version


@pytest.mark.parametrize("route", ROUTES)
async def test_a_server_without_a_version_says_so(serve: Serve, iris: Trained, route: str) -> None:
    async with serve(iris.path, name="iris") as client:
        response = await _ask(client, route, "/v2/models/iris/versions/1", iris.rows)
    assert response.status_code == 404, response.text
    error = response.json()["error"]
    assert error.startswith("model 'iris' has no version '1' here; ")
    assert "started without a version" in error


async def test_the_model_name_is_checked_before_the_version(serve: Serve, iris: Trained) -> None:
    async with serve(iris.path, name="iris", model_version="iris-v3") as client:
        response = await client.get("/v2/models/other/versions/iris-v3/ready")
    assert response.status_code == 404
    assert response.json()["error"] == (
        "model 'other' is not served here; this server serves 'iris'"
    )


async def test_a_wrong_version_is_refused_before_the_body_is_read(
    serve: Serve, iris: Trained
) -> None:
    async with serve(iris.path, name="iris", model_version="iris-v3") as client:
        response = await client.post("/v2/models/iris/versions/iris-v2/infer", content=b"{not json")
    assert response.status_code == 404
    assert "no version 'iris-v2'" in response.json()["error"]
