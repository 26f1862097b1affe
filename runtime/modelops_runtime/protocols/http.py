"""The predictor's HTTP layer: a small ASGI dispatcher, JSON in and out, errors as answers.

Endpoints are plain ``async (Call) -> Reply`` functions. The dispatcher matches a route,
hands the endpoint a bounded body reader, and turns every error into a JSON answer with a
status; it counts and times every route. Routes that predict are also checked by the
guard (authentication, when one is configured) and counted in the pod's load counters.
It replaces a general-purpose framework on this path because per-request framework
overhead (routing, middleware, Request/Response objects) cost more than the model itself
at small batches (see docs/benchmarks.md).
"""

from __future__ import annotations

import contextlib
import logging
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson

from modelops_runtime.errors import InvalidInput, ModelopsError
from modelops_runtime.metrics import PredictorMetrics
from modelops_runtime.stats import PodCounters

log = logging.getLogger("modelops.predictor")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
_JSON_OPTIONS = orjson.OPT_SERIALIZE_NUMPY
# A model name never holds "/" or ":", so "{name}:predict" is never read as a name.
_PARAMETERS = {"name": "[^/:]+", "model_version": "[^/]+"}


class PayloadTooLarge(ModelopsError):
    status = 413
    reason = "PayloadTooLarge"


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()


@dataclass
class Call:
    """One request as endpoints see it: path parameters, headers, and a bounded body."""

    params: dict[str, str]
    headers: dict[str, str]
    receive: Receive
    limit: int

    async def body(self) -> bytes:
        """The request body, refusing more than the limit before reading it all."""
        declared = self.headers.get("content-length")
        if declared is not None:
            size = byte_count(declared, "content-length")
            if size > self.limit:
                raise PayloadTooLarge(
                    f"request body of {size} bytes is over the limit of {self.limit} bytes"
                )
        chunks, size, more = [], 0, True
        while more:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                raise InvalidInput("the client went away before sending the whole body")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                raise PayloadTooLarge(f"request body is over the limit of {self.limit} bytes")
            chunks.append(chunk)
            more = message.get("more_body", False)
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)


Handler = Callable[[Call], Awaitable[Reply]]
Guard = Callable[[dict[str, str]], Awaitable[None]]
"""Checks a predict request's headers; raises a ModelopsError (401, 403, 503) to refuse it."""


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # a template: "/v1/models/{name}:predict"
    route: str  # the metrics label
    handler: Handler
    predicts: bool = False
    """A predict or infer route: guarded, and counted as the pod's load."""
    pattern: re.Pattern[str] = field(init=False)

    def __post_init__(self) -> None:
        regex = re.sub(r"\{(\w+)\}", lambda m: f"(?P<{m[1]}>{_PARAMETERS[m[1]]})", self.path)
        object.__setattr__(self, "pattern", re.compile(regex))


def jsonable(array: np.ndarray) -> Any:
    """An output array as orjson writes it fastest: contiguous numbers natively (no Python
    list in between), anything else (labels, float16, views) through a list."""
    if array.dtype.kind in "biuf" and array.dtype.itemsize > 2 and array.flags.c_contiguous:
        return array
    return array.tolist()


def json_reply(content: Any, status: int = 200) -> Reply:
    return Reply(status, orjson.dumps(content, option=_JSON_OPTIONS))


def error_reply(
    status: int, message: str, reason: str = "", headers: tuple[tuple[str, str], ...] = ()
) -> Reply:
    body: dict[str, Any] = {"error": message}
    if reason:
        body["reason"] = reason
    return Reply(status, orjson.dumps(body), headers=headers)


def byte_count(value: str, header: str) -> int:
    """A header that counts bytes: ASCII digits only (``"²".isdigit()`` is true, and
    ``int("²")`` raises), refused with a 400 that names the header."""
    if not (value.isascii() and value.isdigit()):
        raise InvalidInput(f"{header} must be a number of bytes in ASCII digits, got {value!r}")
    return int(value)


def nested_deeper_than(value: Any, depth: int) -> bool:
    """Does ``value`` hold lists or objects more than ``depth`` levels deep (``value``
    itself is level 1)? Level by level, never recursing: JSON nested a thousand deep
    parses, and anything that walks it recursively would raise RecursionError. A level
    with no container in it costs one C-level pass over its values."""
    level = [value] if type(value) in _CONTAINERS else []
    for _ in range(depth):
        below: list[Any] = []
        for container in level:
            items = container.values() if type(container) is dict else container
            if not _CONTAINERS.isdisjoint(map(type, items)):
                below += [item for item in items if type(item) in _CONTAINERS]
        if not below:
            return False
        level = below
    return True


_CONTAINERS = frozenset((list, dict))


def parse_json(body: bytes) -> Any:
    if not body:
        raise InvalidInput("request body is empty; send a JSON object")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as err:
        raise InvalidInput(f"request body is not valid JSON: {err}") from None


Lifespan = Callable[[], contextlib.AbstractAsyncContextManager[None]]


class Dispatcher:
    """The ASGI app: routes requests to endpoints and runs the lifespan."""

    def __init__(
        self,
        endpoints: list[Endpoint],
        metrics: PredictorMetrics,
        max_body_bytes: int,
        lifespan: Lifespan | None = None,
        *,
        pod: PodCounters | None = None,
        guard: Guard | None = None,
    ) -> None:
        self._endpoints = endpoints
        self._metrics = metrics
        self.pod = pod or PodCounters()
        self._guard = guard
        self._limit = max_body_bytes
        self._lifespan = lifespan
        self._latency = {e.route: metrics.request_seconds.labels(e.route) for e in endpoints}

    @property
    def routes(self) -> list[tuple[str, str]]:
        """Each endpoint's method and path template, as the OpenAPI description names them."""
        return [(e.method, e.path) for e in self._endpoints]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "lifespan":
            await self._run_lifespan(receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        path, method = scope["path"], scope["method"]
        allowed = False
        for endpoint in self._endpoints:
            match = endpoint.pattern.fullmatch(path)
            if match is None:
                continue
            if endpoint.method != method:
                allowed = True
                continue
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
            call = Call(match.groupdict(), headers, receive, self._limit)
            reply = await self._guarded(endpoint, call)
            break
        else:
            if allowed:
                reply = error_reply(405, f"method {method} is not allowed on {path}")
            else:
                reply = error_reply(
                    404, "no such route; see /v1/models/{name}:predict and /v2/models/{name}/infer"
                )
        await _send(send, reply, close=self.pod.draining)

    async def _guarded(self, endpoint: Endpoint, call: Call) -> Reply:
        """Authenticate, count, time and translate errors; no stack trace ever reaches a
        client. A caller the guard refuses is not load: nothing counts it, so refused
        requests cannot keep a version awake or scale it out."""
        started = time.perf_counter()
        pod, predicts = self.pod, endpoint.predicts
        counted = False
        try:
            if predicts and self._guard is not None:
                await self._guard(call.headers)
            if predicts:
                counted = True
                pod.in_flight += 1
            reply = await endpoint.handler(call)
        except ModelopsError as err:
            reply = error_reply(err.status, str(err), err.reason, err.headers)
            # A health or metadata route's 503 while the model loads is its answer, asked
            # for every few milliseconds during a start: only predictions failed.
            if err.status >= 500 and predicts:
                log.error("request failed", extra={"route": endpoint.route, "error": str(err)})
        except Exception as err:  # the last line of defence: a clear 500, logged in full
            log.exception("unexpected error", extra={"route": endpoint.route})
            reply = error_reply(500, f"internal error: {type(err).__name__}: {err}")
        finally:
            if counted:
                pod.in_flight -= 1
                pod.requests += 1
                pod.last_request = time.time()
        self._metrics.requests.labels(endpoint.route, str(reply.status)).inc()
        self._latency[endpoint.route].observe(time.perf_counter() - started)
        return reply

    async def _run_lifespan(self, receive: Receive, send: Send) -> None:
        message = await receive()
        assert message["type"] == "lifespan.startup"
        async with self._lifespan() if self._lifespan else _nothing():
            await send({"type": "lifespan.startup.complete"})
            message = await receive()
        await send({"type": "lifespan.shutdown.complete"})


@contextlib.asynccontextmanager
async def _nothing() -> AsyncIterator[None]:
    yield


async def _send(send: Send, reply: Reply, close: bool = False) -> None:
    headers = [
        (b"content-type", reply.content_type.encode()),
        (b"content-length", str(len(reply.body)).encode()),
    ]
    headers += [(k.encode("latin-1"), v.encode("latin-1")) for k, v in reply.headers]
    if close:  # draining: the client's next request opens a connection to another pod
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": reply.status, "headers": headers})
    await send({"type": "http.response.body", "body": reply.body})
