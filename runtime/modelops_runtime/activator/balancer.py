"""Which version a request goes to (by percent) and which pod of it (fewest in flight).

Pure and deterministic: a smooth weighted round-robin (nginx's) over the routes' percents
keeps any window of requests within one request per version of the exact split, and the
pod with the fewest requests in flight wins, ties going round the pods in turn.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from modelops_contracts.serving import Route


class Splitter:
    """Versions in proportion to their percents, interleaved (never in long runs)."""

    def __init__(self, routes: Sequence[Route]) -> None:
        self.routes = tuple(routes)
        self._weighted = [r for r in routes if r.percent > 0]
        self._current = [0] * len(self._weighted)
        self._total = sum(r.percent for r in self._weighted)

    def next(self) -> str | None:
        """The next request's version; None when no route has a percent above zero."""
        weighted, current = self._weighted, self._current
        if len(weighted) == 1:
            return weighted[0].version
        best = -1
        for i, route in enumerate(weighted):
            current[i] += route.percent
            if best < 0 or current[i] > current[best]:
                best = i
        if best < 0:
            return None
        current[best] -= self._total
        return weighted[best].version


def least_loaded(candidates: Sequence[str], in_flight: Mapping[str, int], turn: int) -> str:
    """The candidate with the fewest requests in flight; among equals, the first from
    position ``turn`` on (so an idle version's pods take turns)."""
    count = len(candidates)
    best, best_load = candidates[turn % count], 1 << 62
    for step in range(count):
        address = candidates[(turn + step) % count]
        load = in_flight.get(address, 0)
        if load < best_load:
            best, best_load = address, load
            if load == 0:
                break
    return best
