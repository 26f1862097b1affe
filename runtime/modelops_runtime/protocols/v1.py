"""KServe V1 protocol: ``/v1/models/{name}`` and ``/v1/models/{name}:predict``."""

from __future__ import annotations

import time
from typing import Any

from modelops_runtime.dataplane import DataPlane
from modelops_runtime.errors import InvalidInput
from modelops_runtime.protocols.http import (
    Call,
    Endpoint,
    Reply,
    json_reply,
    jsonable,
    nested_deeper_than,
    parse_json,
)

MAX_DEPTH = 3
"""How deep ``instances`` may nest: the list of rows, a row (a list of values or an
object), and a value that is a list of strings (what a DictVectorizer one-hot encodes)."""


def endpoints(plane: DataPlane) -> list[Endpoint]:
    metrics = plane.metrics

    async def list_models(_: Call) -> Reply:
        return json_reply({"models": [plane.state.name]})

    async def model_status(call: Call) -> Reply:
        state = plane.state_of(call.params["name"])
        return json_reply({"name": state.name, "ready": state.ready, "reason": state.message})

    async def predict(call: Call) -> Reply:
        started = time.perf_counter()
        body = parse_json(await call.body())
        rows, method = _rows_and_method(body)
        decoded = time.perf_counter()
        metrics.decode.observe(decoded - started)
        prediction = await plane.predict_rows(call.params["name"], rows, method)
        encode_started = time.perf_counter()
        reply = json_reply({"predictions": jsonable(prediction.outputs)})
        metrics.encode.observe(time.perf_counter() - encode_started)
        return reply

    return [
        Endpoint("POST", "/v1/models/{name}:predict", "v1_predict", predict, predicts=True),
        Endpoint("GET", "/v1/models", "v1_models", list_models),
        Endpoint("GET", "/v1/models/{name}", "v1_model", model_status),
    ]


def _rows_and_method(body: Any) -> tuple[Any, Any]:
    if not isinstance(body, dict):
        raise InvalidInput('request body must be a JSON object like {"instances": [[...], ...]}')
    if "instances" in body:
        rows = body["instances"]
    elif "inputs" in body:
        rows = body["inputs"]
    else:
        raise InvalidInput('request body must have "instances" (or "inputs"): a list of rows')
    if nested_deeper_than(rows, MAX_DEPTH):
        raise InvalidInput(
            f"'instances' is nested more than {MAX_DEPTH} deep: send a list of rows, each a "
            "list of values or an object whose values are numbers, strings or lists of strings"
        )
    parameters = body.get("parameters")
    method = body.get("method")
    if method is None and isinstance(parameters, dict):
        method = parameters.get("method")
    return rows, method
