"""The activator's Prometheus metrics, read at scrape time from the counters the proxy
keeps per version (the same ones /modelops/stats reports): nothing is added to the
proxied path for them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from modelops_contracts.serving import LATENCY_BUCKETS_MS

if TYPE_CHECKING:
    from modelops_runtime.activator.proxy import Activator

_LABELS = ["namespace", "version"]
WAKE_BUCKETS_S = (0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0)


class ActivatorCollector(Collector):
    def __init__(self, activator: Activator) -> None:
        self._activator = activator

    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            "modelops_activator_requests",
            "Requests proxied to a version, by status code (the activator's own 502/503/504 too)",
            labels=[*_LABELS, "code"],
        )
        upstream = HistogramMetricFamily(
            "modelops_activator_upstream_seconds",
            "From sending a request to a pod to having its whole answer",
            labels=_LABELS,
        )
        held = GaugeMetricFamily(
            "modelops_activator_held_requests",
            "Requests waiting now for a ready pod of the version",
            labels=_LABELS,
        )
        wakes = CounterMetricFamily(
            "modelops_activator_wakes", "Wakes asked for the version", labels=_LABELS
        )
        wake_seconds = HistogramMetricFamily(
            "modelops_activator_wake_seconds",
            "From asking for a wake to a ready pod of the version",
            labels=_LABELS,
        )
        for state in list(self._activator.versions.values()):
            labels = [state.namespace, state.name]
            for code, count in sorted(state.codes.items()):
                requests.add_metric([*labels, str(code)], count)
            upstream.add_metric(
                labels,
                _buckets([ms / 1000 for ms in LATENCY_BUCKETS_MS], state.latency),
                state.latency_sum,
            )
            held.add_metric(labels, state.held)
            wakes.add_metric(labels, state.wakes)
            wake_seconds.add_metric(
                labels, _buckets(list(WAKE_BUCKETS_S), state.wake_counts), state.wake_sum
            )
        yield from (requests, upstream, held, wakes, wake_seconds)


def _buckets(bounds: list[float], counts: list[int]) -> list[tuple[str, float]]:
    cumulative, total = [], 0
    for bound, count in zip([*bounds, float("inf")], counts, strict=True):
        total += count
        cumulative.append(("+Inf" if bound == float("inf") else repr(bound), float(total)))
    return cumulative


def registry_for(activator: Activator) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(ActivatorCollector(activator))
    return registry


def exposition(registry: CollectorRegistry) -> tuple[str, bytes]:
    return CONTENT_TYPE_LATEST, generate_latest(registry)
