"""The operator's metrics: the state of versions and TrainingJobs as Prometheus reads it."""

from __future__ import annotations

from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from modelops_operator.metrics import Observed, exposition, registry_for


def version(name: str, ready: str, reason: str, **status: Any) -> dict[str, Any]:
    conditions = [{"type": "Ready", "status": ready, "reason": reason}]
    return {
        "metadata": {"namespace": "ads", "name": name},
        "spec": {"model": "ctr"},
        "status": {"conditions": conditions, **status},
    }


def training_job(name: str, **status: Any) -> dict[str, Any]:
    return {"metadata": {"namespace": "ads", "name": name}, "spec": {"model": "ctr"},
            "status": status}  # fmt: skip


def samples(observed: Observed) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """What a scrape reads, by sample name and labels."""
    _, body = exposition(registry_for(lambda: observed))
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(body.decode())
        for s in family.samples
    }


def labels(**found: str) -> frozenset[tuple[str, str]]:
    return frozenset(found.items())


def test_a_version_is_ready_or_not_with_the_reason_its_replicas_and_recorded_metrics():
    found = samples(Observed([
        version("ctr-v1", "True", "Ready", desiredReplicas=2, readyReplicas=1,
                metrics={"auc": 0.91}),
        version("ctr-v2", "False", "ChecksumMismatch"),
    ], []))  # fmt: skip
    ids = {"namespace": "ads", "model": "ctr"}
    ready = labels(**ids, version="ctr-v1", reason="Ready")
    assert found["modelops_modelversion_ready", ready] == 1
    assert found["modelops_modelversion_ready",
                 labels(**ids, version="ctr-v2", reason="ChecksumMismatch")] == 0  # fmt: skip
    assert found["modelops_modelversion_desired_replicas", labels(**ids, version="ctr-v1")] == 2
    assert found["modelops_modelversion_ready_replicas", labels(**ids, version="ctr-v1")] == 1
    assert found["modelops_modelversion_ready_replicas", labels(**ids, version="ctr-v2")] == 0
    metric = labels(**ids, version="ctr-v1", metric="auc")
    assert found["modelops_modelversion_metric", metric] == 0.91


def test_a_failed_training_job_says_why_and_a_succeeded_one_its_metrics():
    failed = training_job("nightly", phase="Failed", conditions=[
        {"type": "Succeeded", "status": "False", "reason": "TrainerFailed"}])  # fmt: skip
    trained = [{"type": "Succeeded", "status": "True", "reason": "Trained"}]
    done = training_job("once", phase="Succeeded", version="once", metrics={"auc": 0.8},
                        conditions=trained)  # fmt: skip
    found = samples(Observed([], [failed, done]))
    nightly = {"namespace": "ads", "model": "ctr", "trainingjob": "nightly"}
    once = {**nightly, "trainingjob": "once"}
    assert found["modelops_trainingjob_failed", labels(**nightly, reason="TrainerFailed")] == 1
    assert found["modelops_trainingjob_failed", labels(**once, reason="")] == 0
    assert found["modelops_trainingjob_phase", labels(**nightly, phase="Failed")] == 1
    assert found["modelops_trainingjob_phase", labels(**nightly, phase="Running")] == 0
    assert found["modelops_trainingjob_runs", labels(**nightly, phase="Failed")] == 1
    metric = labels(**once, version="once", metric="auc")
    assert found["modelops_trainingjob_run_metric", metric] == 0.8


def test_a_schedule_counts_its_recent_runs_by_phase():
    runs = [{"job": "a", "phase": "Succeeded"}, {"job": "b", "phase": "Failed"},
            {"job": "c", "phase": "Succeeded"}]  # fmt: skip
    found = samples(Observed([], [training_job("daily", phase="Scheduled", runs=runs)]))
    daily = {"namespace": "ads", "model": "ctr", "trainingjob": "daily"}
    assert found["modelops_trainingjob_runs", labels(**daily, phase="Succeeded")] == 2
    assert found["modelops_trainingjob_runs", labels(**daily, phase="Failed")] == 1
    assert found["modelops_trainingjob_phase", labels(**daily, phase="Scheduled")] == 1


def test_nothing_observed_is_an_empty_scrape_not_an_error():
    assert samples(Observed([], [])) == {}
