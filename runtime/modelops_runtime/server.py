"""Run the predictor with uvicorn: the same entry point locally and in pods.

On SIGTERM (a pod being deleted) the server drains: readiness fails at once, everything
that arrives is still answered for ``drain_seconds`` (endpoint removal reaches kube-proxy
and the activator asynchronously), then the server stops taking connections, waits at
most ``drain_timeout_seconds`` for the requests it holds, and exits 0. A second SIGTERM
ends the delay early; SIGINT (Ctrl+C) stops at once, gracefully, without the delay.
"""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Callable
from types import FrameType

import uvicorn

from modelops_runtime import logs
from modelops_runtime.app import create_app
from modelops_runtime.settings import Settings

log = logging.getLogger("modelops.predictor")


class DrainingServer(uvicorn.Server):
    """uvicorn, with a drain before its graceful shutdown on SIGTERM, and exit status 0
    after it (uvicorn re-raises a signal it handled, which would end the process by it)."""

    def __init__(
        self, config: uvicorn.Config, drain_seconds: float, on_drain: Callable[[], None]
    ) -> None:
        super().__init__(config)
        self._drain_seconds = drain_seconds
        self._on_drain = on_drain
        self._drain_until: float | None = None
        self._announced = False

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if sig != signal.SIGTERM:
            super().handle_exit(sig, frame)
        elif self._drain_until is None:
            self._on_drain()  # only flips a flag: safe in a signal handler
            self._drain_until = time.monotonic() + self._drain_seconds
        else:
            self._drain_until = time.monotonic()  # told again: stop waiting

    async def on_tick(self, counter: int) -> bool:
        if self._drain_until is not None:
            if not self._announced:
                self._announced = True
                log.info("draining: not ready, still answering", extra=self._drain_extra())
            if time.monotonic() >= self._drain_until:
                self.should_exit = True
        return await super().on_tick(counter)

    def _drain_extra(self) -> dict[str, float]:
        return {"drain_seconds": self._drain_seconds}


def serve(settings: Settings) -> None:
    logs.configure(settings.log_level)
    log.info(
        "predictor starting",
        extra={"model": settings.model_name, "uri": settings.model_uri, "port": settings.port},
    )
    app = create_app(settings, freeze_heap=True)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        loop="auto",
        http="auto",
        access_log=settings.access_log,
        log_config=None,
        timeout_graceful_shutdown=max(1, round(settings.drain_timeout_seconds)),
    )

    def drain() -> None:
        app.pod.draining = True

    DrainingServer(config, settings.drain_seconds, drain).run()
    log.info("predictor stopped", extra={"answered": app.pod.requests})
