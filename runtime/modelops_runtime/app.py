"""The predictor's ASGI app: routes, error answers, metrics, and the model loaded at start."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from modelops_runtime.dataplane import DataPlane
from modelops_runtime.protocols import v1, v2
from modelops_runtime.protocols.http import error_response
from modelops_runtime.settings import Settings


def create_app(
    settings: Settings,
    plane: DataPlane | None = None,
    load_in_background: bool = True,
    freeze_heap: bool = False,
) -> Starlette:
    """An app serving one model. Loading runs in a thread so liveness answers meanwhile.

    ``freeze_heap`` (for a server process, not tests) moves everything alive after the
    load out of the garbage collector's reach: a loaded model is hundreds of thousands of
    objects, and full collections walking them stalled every request in flight (~70 ms).
    """
    plane = plane or DataPlane(settings)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        loading = asyncio.create_task(asyncio.to_thread(plane.load))
        if freeze_heap:
            loading.add_done_callback(lambda _: _freeze_heap())
        if not load_in_background:
            await loading
        try:
            yield
        finally:
            loading.cancel()
            await plane.close()

    async def metrics(_: Request) -> Response:
        return Response(generate_latest(plane.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    async def http_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        messages = {
            404: "no such route; see /v1/models/{name}:predict and /v2/models/{name}/infer",
            405: "method not allowed on this route",
        }
        return error_response(exc.status_code, messages.get(exc.status_code, str(exc.detail)))

    app = Starlette(
        routes=[*v1.routes(plane), *v2.routes(plane), Route("/metrics", metrics, methods=["GET"])],
        lifespan=lifespan,
        exception_handlers={HTTPException: http_error},
    )
    app.state.plane = plane
    return app


def _freeze_heap() -> None:
    gc.collect()
    gc.freeze()
    logging.getLogger("modelops.predictor").info(
        "heap frozen after load", extra={"frozen_objects": gc.get_freeze_count()}
    )
