"""The predictor pod's own load counters: what ``GET /modelops/stats`` answers.

Plain attributes changed on the event loop only, so counting costs a few attribute
writes per request and no lock. Only predict and infer requests are counted: health
probes, metadata, metrics scrapes and stats reads are not load.
"""

from __future__ import annotations

import time

from modelops_contracts.serving import PodStats


class PodCounters:
    __slots__ = ("draining", "in_flight", "last_request", "requests", "started")

    def __init__(self) -> None:
        self.in_flight = 0
        self.requests = 0
        self.last_request = 0.0
        self.started = time.time()
        self.draining = False

    def snapshot(self) -> PodStats:
        return PodStats(
            in_flight=self.in_flight,
            requests=self.requests,
            last_request=self.last_request,
            started=self.started,
            draining=self.draining,
        )
