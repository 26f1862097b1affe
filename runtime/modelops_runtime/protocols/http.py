"""What every endpoint shares: bounded body reading, JSON in and out, errors as answers."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.convertors import StringConvertor, register_url_convertor
from starlette.requests import Request
from starlette.responses import Response

from modelops_runtime.errors import InvalidInput, ModelopsError
from modelops_runtime.metrics import PredictorMetrics

log = logging.getLogger("modelops.predictor")

Handler = Callable[[Request], Awaitable[Response]]
_JSON_OPTIONS = orjson.OPT_SERIALIZE_NUMPY


class ModelNameConvertor(StringConvertor):
    """A model name in a path: no ``/`` and no ``:``, so ``{name}:predict`` never is a name."""

    regex = "[^/:]+"


register_url_convertor("model", ModelNameConvertor())


class PayloadTooLarge(ModelopsError):
    status = 413
    reason = "PayloadTooLarge"


def json_response(
    content: Any, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(
        orjson.dumps(content, option=_JSON_OPTIONS),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


def error_response(status: int, message: str, reason: str = "") -> Response:
    body: dict[str, Any] = {"error": message}
    if reason:
        body["reason"] = reason
    return json_response(body, status=status)


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refusing more than ``limit`` bytes before reading them all."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(
            f"request body of {declared} bytes is over the limit of {limit} bytes"
        )
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"request body is over the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def parse_json(body: bytes) -> Any:
    if not body:
        raise InvalidInput("request body is empty; send a JSON object")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as err:
        raise InvalidInput(f"request body is not valid JSON: {err}") from None


def endpoint(route: str, metrics: PredictorMetrics) -> Callable[[Handler], Handler]:
    """Count, time and translate errors for one route; no stack trace ever reaches a client."""
    in_flight = metrics.in_flight
    latency = metrics.request_seconds.labels(route)

    def wrap(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def run(request: Request) -> Response:
            started = time.perf_counter()
            in_flight.inc()
            try:
                response = await handler(request)
            except ModelopsError as err:
                response = error_response(err.status, str(err), err.reason)
                if err.status >= 500:
                    log.error("prediction failed", extra={"route": route, "error": str(err)})
            except Exception as err:  # the last line of defence: a clear 500, logged in full
                log.exception("unexpected error", extra={"route": route})
                response = error_response(500, f"internal error: {type(err).__name__}: {err}")
            finally:
                in_flight.dec()
            metrics.requests.labels(route, str(response.status_code)).inc()
            latency.observe(time.perf_counter() - started)
            return response

        return run

    return wrap
