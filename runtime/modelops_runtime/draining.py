"""uvicorn with a drain: on SIGTERM, not ready at once, still answering while requests
keep arriving, then uvicorn's graceful shutdown (bounded by its ``timeout_graceful_shutdown``),
then exit 0.

Shared by the predictor and the activator: both sit behind endpoints that learn of a
terminating pod asynchronously, through a chain (EndpointSlice controller, the operator's
copy for a Model's Service, kube-proxy) whose lag grows under load. A fixed delay guesses
that lag; the drain instead ends once no request came for ``quiet_seconds`` (the rule of
Knative's queue-proxy drainer), and at the latest ``DRAIN_LIMIT_FACTOR`` times
``quiet_seconds`` after SIGTERM so the pod's grace period still covers the shutdown.
"""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Callable
from types import FrameType

import uvicorn

log = logging.getLogger("modelops.server")

DRAIN_LIMIT_FACTOR = 3


def drain_over(now: float, started: float, last_request: float, quiet_seconds: float) -> bool:
    """Whether a drain begun at ``started`` may end at ``now`` (wall-clock seconds): no
    request since ``quiet_seconds``, or the limit reached."""
    if now - started >= DRAIN_LIMIT_FACTOR * quiet_seconds:
        return True
    return now - max(started, last_request) >= quiet_seconds


class DrainingServer(uvicorn.Server):
    """uvicorn, with a drain before its graceful shutdown on SIGTERM, and exit status 0
    after it (uvicorn re-raises a signal it handled, which would end the process by it).

    ``last_request`` gives the wall-clock time of the latest request on the data path
    (0 when none): probes and scrapes are not counted, or the drain would never end."""

    def __init__(
        self,
        config: uvicorn.Config,
        quiet_seconds: float,
        on_drain: Callable[[], None],
        last_request: Callable[[], float],
    ) -> None:
        super().__init__(config)
        self._quiet_seconds = quiet_seconds
        self._on_drain = on_drain
        self._last_request = last_request
        self._drain_started: float | None = None
        self._told_twice = False
        self._announced = False

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if sig != signal.SIGTERM:
            super().handle_exit(sig, frame)
        elif self._drain_started is None:
            self._on_drain()  # only flips a flag: safe in a signal handler
            self._drain_started = time.time()
        else:
            self._told_twice = True  # told again: stop waiting

    async def on_tick(self, counter: int) -> bool:
        if self._drain_started is not None:
            if not self._announced:
                self._announced = True
                log.info("draining: not ready, still answering", extra=self._drain_extra())
            now = time.time()
            if self._told_twice or drain_over(
                now, self._drain_started, self._last_request(), self._quiet_seconds
            ):
                if not self.should_exit:
                    log.info("drained", extra={"seconds": round(now - self._drain_started, 3)})
                self.should_exit = True
        return await super().on_tick(counter)

    def _drain_extra(self) -> dict[str, float]:
        return {
            "quiet_seconds": self._quiet_seconds,
            "limit_seconds": DRAIN_LIMIT_FACTOR * self._quiet_seconds,
        }
