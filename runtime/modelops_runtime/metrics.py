"""Prometheus metrics of the predictor, registered once per process."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_LATENCY_BUCKETS = (
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
)


class PredictorMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.requests = Counter(
            "modelops_requests",
            "HTTP requests by route and status code",
            ["route", "code"],
            registry=self.registry,
        )
        self.step_seconds = Histogram(
            "modelops_step_seconds",
            "Seconds spent per step of a prediction",
            ["step"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.request_seconds = Histogram(
            "modelops_request_seconds",
            "Seconds from request to response, by route",
            ["route"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "modelops_in_flight_requests",
            "Predict and infer requests being served now (what /modelops/stats reports)",
            registry=self.registry,
        )
        self.batch_rows = Histogram(
            "modelops_batch_rows",
            "Rows per model call (adaptive batching)",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024),
            registry=self.registry,
        )
        self.model_load_seconds = Gauge(
            "modelops_model_load_seconds",
            "Seconds it took to fetch and load the model",
            registry=self.registry,
        )
        self.model_ready = Gauge(
            "modelops_model_ready", "1 when the model is loaded and serving", registry=self.registry
        )
        self.decode = self.step_seconds.labels("decode")
        self.predict = self.step_seconds.labels("predict")
        self.encode = self.step_seconds.labels("encode")
