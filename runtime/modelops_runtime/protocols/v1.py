"""KServe V1 protocol: ``/v1/models/{name}`` and ``/v1/models/{name}:predict``."""

from __future__ import annotations

import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from modelops_runtime.dataplane import DataPlane
from modelops_runtime.errors import InvalidInput
from modelops_runtime.protocols.http import endpoint, json_response, parse_json, read_body


def routes(plane: DataPlane) -> list[Route]:
    metrics = plane.metrics
    limit = plane.settings.max_body_bytes

    @endpoint("v1_models", metrics)
    async def list_models(_: Request) -> Response:
        return json_response({"models": [plane.state.name]})

    @endpoint("v1_model", metrics)
    async def model_status(request: Request) -> Response:
        state = plane.state_of(request.path_params["name"])
        return json_response({"name": state.name, "ready": state.ready, "reason": state.message})

    @endpoint("v1_predict", metrics)
    async def predict(request: Request) -> Response:
        started = time.perf_counter()
        body = parse_json(await read_body(request, limit))
        rows, method = _rows_and_method(body)
        decoded = time.perf_counter()
        metrics.decode.observe(decoded - started)
        prediction = await plane.predict_rows(request.path_params["name"], rows, method)
        encode_started = time.perf_counter()
        response = json_response({"predictions": _jsonable(prediction.outputs)})
        metrics.encode.observe(time.perf_counter() - encode_started)
        return response

    return [
        Route("/v1/models", list_models, methods=["GET"]),
        Route("/v1/models/{name:model}:predict", predict, methods=["POST"]),
        Route("/v1/models/{name:model}", model_status, methods=["GET"]),
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
    parameters = body.get("parameters")
    method = body.get("method")
    if method is None and isinstance(parameters, dict):
        method = parameters.get("method")
    return rows, method


def _jsonable(outputs: Any) -> Any:
    # orjson writes contiguous numeric arrays natively; labels (objects) go through lists.
    if outputs.dtype.kind in "biuf" and outputs.dtype.itemsize > 2 and outputs.flags.c_contiguous:
        return outputs
    return outputs.tolist()
