"""uvicorn with a drain: on SIGTERM, not ready at once, still answering for a while, then
uvicorn's graceful shutdown (bounded by its ``timeout_graceful_shutdown``), then exit 0.

Shared by the predictor and the activator: both sit behind endpoints that learn of a
terminating pod asynchronously.
"""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Callable
from types import FrameType

import uvicorn

log = logging.getLogger("modelops.server")


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
