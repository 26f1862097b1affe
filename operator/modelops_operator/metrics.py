"""The operator's Prometheus metrics: the state of the versions and TrainingJobs it
serves, read at scrape time from what its watches show (as kube-state-metrics does), so
nothing is counted on the reconcile path and a restart loses nothing.

Pure functions from the objects' bodies to metric families; the handler that serves
``/metrics`` gives them the objects of the namespaces this install serves."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from modelops_operator.conditions import READY, find

SUCCEEDED = "Succeeded"
_VERSION = ["namespace", "model", "version"]
_JOB = ["namespace", "model", "trainingjob"]
TRAINING_PHASES = ("Pending", "Running", "Succeeded", "Failed", "Scheduled")


@dataclass(frozen=True)
class Observed:
    """The bodies the metrics are read from (as the indexes hold them)."""

    versions: list[dict[str, Any]]
    training_jobs: list[dict[str, Any]]


def _ids(body: dict[str, Any]) -> tuple[str, str, str]:
    meta = body.get("metadata") or {}
    model = str((body.get("spec") or {}).get("model") or "")
    return str(meta.get("namespace") or ""), model, str(meta.get("name") or "")


def _condition(body: dict[str, Any], type_: str) -> dict[str, Any]:
    return find(list((body.get("status") or {}).get("conditions") or []), type_) or {}


def version_families(versions: Iterable[dict[str, Any]]) -> list[Metric]:
    ready = GaugeMetricFamily(
        "modelops_modelversion_ready",
        "1 when the version's Ready condition is True (a version at zero is Ready), else 0; "
        "reason: the condition's",
        labels=[*_VERSION, "reason"],
    )
    desired = GaugeMetricFamily(
        "modelops_modelversion_desired_replicas",
        "Pods the operator asks for (the autoscaler's decision)",
        labels=_VERSION,
    )
    ready_pods = GaugeMetricFamily(
        "modelops_modelversion_ready_replicas", "Pods ready to serve", labels=_VERSION
    )
    recorded = GaugeMetricFamily(
        "modelops_modelversion_metric",
        "A metric recorded with the version's artifact (by its training run)",
        labels=[*_VERSION, "metric"],
    )
    for body in versions:
        ids = list(_ids(body))
        status = body.get("status") or {}
        condition = _condition(body, READY)
        ready.add_metric(
            [*ids, str(condition.get("reason") or "")],
            1.0 if condition.get("status") == "True" else 0.0,
        )
        desired.add_metric(ids, float(status.get("desiredReplicas") or 0))
        ready_pods.add_metric(ids, float(status.get("readyReplicas") or 0))
        for name, value in sorted((status.get("metrics") or {}).items()):
            recorded.add_metric([*ids, str(name)], float(value))
    return [ready, desired, ready_pods, recorded]


def training_families(jobs: Iterable[dict[str, Any]]) -> list[Metric]:
    phase = GaugeMetricFamily(
        "modelops_trainingjob_phase",
        "1 for the TrainingJob's phase now, 0 for the others",
        labels=[*_JOB, "phase"],
    )
    failed = GaugeMetricFamily(
        "modelops_trainingjob_failed",
        "1 when the last run (or the search) failed, with its reason; else 0",
        labels=[*_JOB, "reason"],
    )
    run_metric = GaugeMetricFamily(
        "modelops_trainingjob_run_metric",
        "A metric the last run reported, with the version it produced",
        labels=[*_JOB, "version", "metric"],
    )
    runs = GaugeMetricFamily(
        "modelops_trainingjob_runs",
        "Runs listed in the TrainingJob's status, by phase (a schedule keeps its recent ones)",
        labels=[*_JOB, "phase"],
    )
    for body in jobs:
        ids = list(_ids(body))
        status = body.get("status") or {}
        now = str(status.get("phase") or "")
        for name in TRAINING_PHASES:
            phase.add_metric([*ids, name], 1.0 if name == now else 0.0)
        succeeded = _condition(body, SUCCEEDED)
        is_failed = succeeded.get("status") == "False"
        failed.add_metric(
            [*ids, str(succeeded.get("reason") or "") if is_failed else ""],
            1.0 if is_failed else 0.0,
        )
        version = str(status.get("version") or "")
        for name, value in sorted((status.get("metrics") or {}).items()):
            run_metric.add_metric([*ids, version, str(name)], float(value))
        for name, count in _runs_by_phase(status).items():
            runs.add_metric([*ids, name], float(count))
    return [phase, failed, run_metric, runs]


def _runs_by_phase(status: dict[str, Any]) -> dict[str, int]:
    """A schedule's recent runs by phase; a single run counts as one in its phase."""
    listed = [str(r.get("phase") or "") for r in status.get("runs") or []]
    if not listed and status.get("phase") in ("Pending", "Running", "Succeeded", "Failed"):
        listed = [str(status["phase"])]
    counts: dict[str, int] = {}
    for name in listed:
        counts[name] = counts.get(name, 0) + 1
    return counts


class StateCollector(Collector):
    """Reads the objects at each scrape through ``observe``."""

    def __init__(self, observe: Callable[[], Observed]) -> None:
        self._observe = observe

    def collect(self) -> Iterator[Metric]:
        observed = self._observe()
        yield from version_families(observed.versions)
        yield from training_families(observed.training_jobs)


def registry_for(observe: Callable[[], Observed]) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(StateCollector(observe))
    return registry


def exposition(registry: CollectorRegistry) -> tuple[str, bytes]:
    return CONTENT_TYPE_LATEST, generate_latest(registry)
