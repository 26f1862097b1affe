"""The predictor's ASGI app: routes, error answers, metrics, and the model loaded at start."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from modelops_contracts.serving import STATS_PATH
from modelops_runtime.auth import guard_for
from modelops_runtime.dataplane import DataPlane
from modelops_runtime.protocols import v1, v2
from modelops_runtime.protocols.http import Call, Dispatcher, Endpoint, Guard, Reply
from modelops_runtime.settings import Settings


def create_app(
    settings: Settings,
    plane: DataPlane | None = None,
    load_in_background: bool = True,
    freeze_heap: bool = False,
    guard: Guard | None = None,
) -> Dispatcher:
    """An app serving one model. Loading runs in a thread so liveness answers meanwhile.

    Predict routes are checked by ``guard``, by default the one the settings' auth mode
    asks for; health, metadata, metrics and stats stay open.

    ``freeze_heap`` (for a server process, not tests) moves everything alive after the
    load out of the garbage collector's reach: a loaded model is hundreds of thousands of
    objects, and full collections walking them stalled every request in flight (~70 ms).
    """
    plane = plane or DataPlane(settings)

    @contextlib.asynccontextmanager
    async def lifespan() -> AsyncIterator[None]:
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

    async def metrics(_: Call) -> Reply:
        return Reply(200, generate_latest(plane.metrics.registry), CONTENT_TYPE_LATEST)

    async def stats(_: Call) -> Reply:
        return Reply(200, plane.pod.snapshot().to_json().encode())

    endpoints = [
        *v1.endpoints(plane),
        *v2.endpoints(plane),
        Endpoint("GET", "/metrics", "metrics", metrics),
        Endpoint("GET", STATS_PATH, "stats", stats),
    ]
    return Dispatcher(
        endpoints,
        plane.metrics,
        settings.max_body_bytes,
        lifespan,
        pod=plane.pod,
        guard=guard or guard_for(settings),
    )


def _freeze_heap() -> None:
    gc.collect()
    gc.freeze()
    logging.getLogger("modelops.predictor").info(
        "heap frozen after load", extra={"frozen_objects": gc.get_freeze_count()}
    )
