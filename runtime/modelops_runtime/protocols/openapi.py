"""The predictor's own OpenAPI description (``openapi.json`` beside this module), served at
``GET /openapi.json``: the routes, bodies and errors of both protocols, which clients and
the API fuzzing test read. A test checks it names exactly the routes the app serves."""

from __future__ import annotations

from importlib import resources

import orjson

from modelops_runtime.protocols.http import Call, Endpoint, Reply
from modelops_runtime.protocols.v2 import modelops_version

PATH = "/openapi.json"


def document() -> dict[str, object]:
    """The description, with this server's version."""
    text = resources.files(__package__).joinpath("openapi.json").read_bytes()
    found: dict[str, object] = orjson.loads(text)
    found["info"] = {**found["info"], "version": modelops_version()}  # type: ignore[dict-item]
    return found


def endpoints() -> list[Endpoint]:
    body = orjson.dumps(document())

    async def openapi(_: Call) -> Reply:
        return Reply(200, body)

    return [Endpoint("GET", PATH, "openapi", openapi)]
