"""The predictor's ASGI app: routes, error answers, metrics, and the model loaded at start."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Callable

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from modelops_contracts.serving import STATS_PATH
from modelops_contracts.verdict import VERIFICATION_FAILED
from modelops_runtime.auth import guard_for
from modelops_runtime.dataplane import DataPlane, ModelState
from modelops_runtime.protocols import openapi, v1, v2
from modelops_runtime.protocols.http import Call, Dispatcher, Endpoint, Guard, Reply
from modelops_runtime.settings import Settings


def create_app(
    settings: Settings,
    plane: DataPlane | None = None,
    *,
    load_in_background: bool = True,
    freeze_heap: bool = False,
    guard: Guard | None = None,
    on_refused: Callable[[ModelState], None] | None = None,
) -> Dispatcher:
    """An app serving one model. Loading runs in a thread so liveness answers meanwhile.

    Predict routes are checked by ``guard``, by default the one the settings' auth mode
    asks for; health, metadata, metrics and stats stay open.

    ``freeze_heap`` (for a server process, not tests) moves everything alive after the
    load out of the garbage collector's reach: a loaded model is hundreds of thousands of
    objects, and full collections walking them stalled every request in flight (~70 ms).
    It then turns the collector on, which a predictor's start turns off (``commands``):
    collections during the imports only walk objects that stay.

    ``on_refused`` is called with the state when the artifact could not be served (a pod
    that reports the refusal and exits, rather than staying not-ready).
    """
    plane = plane or DataPlane(settings)

    @contextlib.asynccontextmanager
    async def lifespan() -> AsyncIterator[None]:
        loading = asyncio.create_task(asyncio.to_thread(plane.load))
        if freeze_heap:
            loading.add_done_callback(lambda _: _freeze_heap())
        if on_refused is not None:
            loading.add_done_callback(lambda task: _report_refusal(task, plane.state, on_refused))
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
        *openapi.endpoints(),
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


def _report_refusal(
    task: asyncio.Task[ModelState], state: ModelState, on_refused: Callable[[ModelState], None]
) -> None:
    if task.cancelled():
        return
    failed = task.exception()
    if failed is not None:  # not an ArtifactError: the load itself broke
        state.reason, state.message = VERIFICATION_FAILED, f"{type(failed).__name__}: {failed}"
    if not state.ready:
        on_refused(state)


def _freeze_heap() -> None:
    # No collection first: with the collector off since the start, the imports and the
    # load leave ~1,000 unreachable objects among ~200,000, and finding them is a full
    # collection (~0.15 s) between the load and the first answer. Frozen, they stay.
    gc.freeze()
    gc.enable()
    logging.getLogger("modelops.predictor").info(
        "heap frozen after load",
        extra={"frozen_objects": gc.get_freeze_count(), "collector_enabled": gc.isenabled()},
    )
