"""The predictor's OpenAPI description: served at /openapi.json, valid OpenAPI 3.1, naming
exactly the routes the app serves, and not counted as load."""

from __future__ import annotations

from importlib import metadata

from modelops_contracts.serving import STATS_PATH
from modelops_runtime.app import create_app
from modelops_runtime.settings import Settings
from tests.api.conftest import Serve
from tests.models import Trained


async def test_the_description_is_served_with_the_servers_version(
    serve: Serve, iris: Trained
) -> None:
    async with serve(iris.path, name="iris") as client:
        response = await client.get("/openapi.json")
        stats = (await client.get(STATS_PATH)).json()
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    document = response.json()
    assert document["openapi"] == "3.1.0"
    assert document["info"]["version"] == metadata.version("modelops")
    assert (stats["requests"], stats["in_flight"]) == (0, 0)  # a read of it is not load


def test_the_description_is_valid_openapi_and_names_every_route_the_app_serves() -> None:
    import schemathesis

    from modelops_runtime.protocols.openapi import document

    described = document()
    schemathesis.openapi.from_dict(described).validate()
    app = create_app(Settings(model_uri="unused", model_name="m"))
    paths: dict[str, dict[str, object]] = described["paths"]  # type: ignore[assignment]
    named = {(method.upper(), path) for path, item in paths.items() for method in item}
    assert named == set(app.routes)
