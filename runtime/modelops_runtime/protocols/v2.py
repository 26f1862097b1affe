"""Open Inference Protocol (KServe V2): health, metadata and ``infer``, JSON or binary tensors."""

from __future__ import annotations

import asyncio
import time
from importlib import metadata as importlib_metadata
from typing import Any

import numpy as np
import orjson

from modelops_runtime.dataplane import DataPlane, ModelState, Prediction
from modelops_runtime.errors import Draining, InvalidInput, ModelNotReady
from modelops_runtime.models import InputKind, Model
from modelops_runtime.protocols.http import (
    Call,
    Endpoint,
    Reply,
    byte_count,
    json_reply,
    parse_json,
)
from modelops_runtime.protocols.tensors import (
    Tensor,
    datatype_of,
    decode_tensor,
    encode_binary,
    encode_json,
)

BINARY_HEADER = "inference-header-content-length"
_METHODS = ("predict", "predict_proba")
DECODE_ON_LOOP_BYTES = 256 * 1024
"""A request body bigger than this is decoded in a thread: a BYTES tensor of millions of
elements takes seconds to decode, and the event loop keeps answering meanwhile."""


def endpoints(plane: DataPlane) -> list[Endpoint]:
    metrics = plane.metrics

    async def server_metadata(_: Call) -> Reply:
        return json_reply(
            {
                "name": "modelops",
                "version": modelops_version(),
                "extensions": ["binary_tensor_data"],
            }
        )

    async def live(_: Call) -> Reply:
        return json_reply({"live": True})

    async def ready(_: Call) -> Reply:
        state = plane.state
        _refuse_when_draining(plane)
        if not state.ready:
            raise ModelNotReady(f"model {state.name!r} is not ready: {state.message}")
        return json_reply({"ready": True})

    async def model_ready(call: Call) -> Reply:
        state = _state(plane, call)
        _refuse_when_draining(plane)
        if not state.ready:
            raise ModelNotReady(f"model {state.name!r} is not ready: {state.message}")
        return json_reply({"name": state.name, "ready": True})

    async def model_metadata(call: Call) -> Reply:
        state = _state(plane, call)
        body: dict[str, Any] = {
            "name": state.name,
            "versions": [state.model_version] if state.model_version else [],
            "platform": "",
            "inputs": [],
            "outputs": [],
            "parameters": {
                "ready": state.ready,
                "reason": state.reason,
                "message": state.message,
                "runtime_versions": state.installed_framework_versions,
            },
        }
        if state.model is not None and state.artifact is not None:
            body["platform"] = state.model.framework
            body["inputs"] = _input_metadata(state.model)
            body["outputs"] = _output_metadata(state.model)
            body["parameters"].update(
                {
                    "model_type": state.model.model_type,
                    "format": state.artifact.format.value,
                    "sha256": state.artifact.sha256,
                    "recorded_versions": state.artifact.metadata.framework_versions,
                    "metrics": state.artifact.metadata.metrics,
                    "input_kind": state.model.schema.kind.value,
                }
            )
        return json_reply(body)

    async def infer(call: Call) -> Reply:
        started = time.perf_counter()
        name = _state(plane, call).name
        raw = await call.body()
        header = call.headers.get(BINARY_HEADER)
        if len(raw) > DECODE_ON_LOOP_BYTES:
            body, tensors, method, wants_binary = await asyncio.to_thread(_decode, raw, header)
        else:
            body, tensors, method, wants_binary = _decode(raw, header)
        metrics.decode.observe(time.perf_counter() - started)
        if len(tensors) > 1 or _content_type(body) == "pd":
            columns = {t.name: _column(t) for t in tensors}
            prediction = await plane.predict_columns(name, columns, method)
        else:
            prediction = await plane.predict_array(name, tensors[0].data, method)
        encode_started = time.perf_counter()
        response = _encode_response(plane, name, body, prediction, wants_binary)
        metrics.encode.observe(time.perf_counter() - encode_started)
        return response

    model = "/v2/models/{name}"
    # The Open Inference Protocol's model version: answered when it is the one served.
    versioned = "/v2/models/{name}/versions/{model_version}"
    return [
        Endpoint("POST", f"{model}/infer", "v2_infer", infer, predicts=True),
        Endpoint("POST", f"{versioned}/infer", "v2_infer", infer, predicts=True),
        Endpoint("GET", "/v2", "v2_server", server_metadata),
        Endpoint("GET", "/v2/health/live", "v2_live", live),
        Endpoint("GET", "/v2/health/ready", "v2_ready", ready),
        Endpoint("GET", f"{model}/ready", "v2_model_ready", model_ready),
        Endpoint("GET", f"{versioned}/ready", "v2_model_ready", model_ready),
        Endpoint("GET", model, "v2_model", model_metadata),
        Endpoint("GET", versioned, "v2_model", model_metadata),
    ]


def _refuse_when_draining(plane: DataPlane) -> None:
    if plane.pod.draining:
        raise Draining(
            "the predictor is shutting down: it answers what reaches it for a short while "
            "and takes no new work; send requests to another pod"
        )


def _state(plane: DataPlane, call: Call) -> ModelState:
    """The model a route names, with the version when the route has one (else a 404)."""
    return plane.state_of(call.params["name"], call.params.get("model_version"))


def modelops_version() -> str:
    """The version of the modelops package this server runs (the V2 server metadata)."""
    try:
        return importlib_metadata.version("modelops")
    except importlib_metadata.PackageNotFoundError:
        return "0+unknown"


def _input_metadata(model: Model) -> list[dict[str, Any]]:
    schema = model.schema
    if schema.kind is InputKind.COLUMNS and schema.feature_names:
        return [{"name": n, "datatype": "FP64", "shape": [-1]} for n in schema.feature_names]
    if schema.kind is InputKind.RECORDS:
        return [
            {
                "name": "records",
                "datatype": "BYTES",
                "shape": [-1],
                "parameters": {"content_type": "pd"},
            }
        ]
    return [{"name": "input-0", "datatype": "FP64", "shape": [-1, schema.n_features or -1]}]


def _output_metadata(model: Model) -> list[dict[str, Any]]:
    classes = model.classes
    labels = "FP64" if classes is None else datatype_of(classes)
    width = -1 if classes is None else len(classes)
    shapes = {"predict": ([-1], labels), "predict_proba": ([-1, width], "FP64")}
    return [{"name": m, "datatype": shapes[m][1], "shape": shapes[m][0]} for m in model.methods]


def _decode(
    raw: bytes, header_length: str | None
) -> tuple[dict[str, Any], list[Tensor], str | None, bool]:
    body, binary = _split_binary(raw, header_length)
    return body, *_decode_request(body, binary)


def _split_binary(raw: bytes, header_length: str | None) -> tuple[Any, memoryview | None]:
    if header_length is None:
        return parse_json(raw), None
    cut = byte_count(header_length, BINARY_HEADER)
    if cut > len(raw):
        raise InvalidInput(
            f"{BINARY_HEADER} is {cut}, and the request body has only {len(raw)} bytes; it "
            "must be the length of the JSON header in bytes"
        )
    return parse_json(raw[:cut]), memoryview(raw)[cut:]


def _decode_request(body: Any, binary: memoryview | None) -> tuple[list[Tensor], str | None, bool]:
    if not isinstance(body, dict):
        raise InvalidInput('request body must be a JSON object with "inputs"')
    inputs = body.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise InvalidInput('"inputs" must be a non-empty list of tensors')
    if not isinstance(body.get("id", ""), str):
        raise InvalidInput("'id' must be a string")
    tensors, offset = [], 0
    for spec in inputs:
        size = _binary_size(spec)
        chunk = None
        if size is not None:
            if binary is None or offset + size > len(binary):
                raise InvalidInput("binary_data_size points past the binary data of the request")
            chunk = binary[offset : offset + size]
            offset += size
        tensors.append(decode_tensor(spec, chunk))
    parameters = body.get("parameters") or {}
    outputs = body.get("outputs") or []
    if not isinstance(parameters, dict) or not isinstance(outputs, list):
        raise InvalidInput("'parameters' must be an object and 'outputs' a list")
    if not all(
        isinstance(o, dict) and isinstance(o.get("parameters") or {}, dict) for o in outputs
    ):
        raise InvalidInput("each entry of 'outputs' must be an object, its 'parameters' too")
    method = parameters.get("method")
    requested = [o.get("name") for o in outputs]
    if method is None and requested and requested[0] in _METHODS:
        method = requested[0]
    wants_binary = bool(parameters.get("binary_data_output")) or any(
        (o.get("parameters") or {}).get("binary_data") for o in outputs
    )
    return tensors, method, wants_binary


def _binary_size(spec: Any) -> int | None:
    """An input's ``binary_data_size``: None when its data is JSON (a ``parameters``
    that is not an object is decode_tensor's to refuse)."""
    parameters = spec.get("parameters") if isinstance(spec, dict) else None
    size = parameters.get("binary_data_size") if isinstance(parameters, dict) else None
    if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 0):
        raise InvalidInput(
            f"input {spec.get('name')!r}: binary_data_size must be a non-negative integer "
            f"(its data's length in bytes), got {size!r}"
        )
    return size


def _content_type(body: dict[str, Any]) -> str:
    parameters = body.get("parameters") or {}
    return str(parameters.get("content_type", "")) if isinstance(parameters, dict) else ""


def _column(tensor: Tensor) -> list[Any]:
    if tensor.data.ndim > 2 or (tensor.data.ndim == 2 and tensor.data.shape[1] != 1):
        raise InvalidInput(
            f"named input {tensor.name!r} must be one column, shape [rows] or [rows, 1], "
            f"got {list(tensor.shape)}"
        )
    return tensor.data.reshape(-1).tolist()


def _encode_response(
    plane: DataPlane, name: str, body: dict[str, Any], prediction: Prediction, binary: bool
) -> Reply:
    outputs = np.asarray(prediction.outputs)
    head: dict[str, Any] = {"model_name": name, "parameters": {}}
    if plane.state.model_version:
        head["model_version"] = plane.state.model_version
    if "id" in body:
        head["id"] = body["id"]
    if not binary:
        head["outputs"] = [encode_json(prediction.method, outputs)]
        return json_reply(head)
    tensor_head, raw = encode_binary(prediction.method, outputs)
    head["outputs"] = [tensor_head]
    header = orjson.dumps(head)
    return Reply(
        200,
        header + raw,
        content_type="application/octet-stream",
        headers=((BINARY_HEADER, str(len(header))),),
    )
