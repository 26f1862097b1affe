"""How the Airflow operators read what they wait for (pure): a TrainingJob's status → the
XCom a task pushes or the failure it raises; a ModelVersion's Ready; the gate on demand."""

from __future__ import annotations

import json
from typing import Any

import pytest

from modelops_airflow import outcomes
from modelops_operator.api.trainingjob import Promotion

PROMOTED = {
    "decision": "Pending",
    "reason": "auc 0.80 vs 0.78; waiting",
    "version": "ctr-2",
    "servingVersion": "ctr-1",
    "metric": "auc",
    "candidateValue": 0.8,
    "servingValue": 0.78,
    "basis": "same-data",
}


def job(**status: Any) -> dict[str, Any]:
    return {"metadata": {"name": "ctr-20250115"}, "status": status}


def version(
    name: str, label: str = "", decision: dict[str, Any] | None = None, **status: Any
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if label:
        meta["labels"] = {"modelops.dev/promotion": label}
    if decision:
        meta["annotations"] = {"modelops.dev/promotion-decision": json.dumps(decision)}
    return {"metadata": meta, "status": status}


@pytest.mark.parametrize(
    "status", [{}, {"phase": "Pending"}, {"phase": "Running"}, {"phase": "Succeeded"}]
)
def test_a_run_going_on_or_without_its_version_yet_is_waited_for(status: Any) -> None:
    assert outcomes.training_outcome(job(**status)) is None


def test_a_successful_run_pushes_its_version_metrics_and_the_gate_s_decision() -> None:
    done = outcomes.training_outcome(
        job(phase="Succeeded", version="ctr-20250115", metrics={"auc": 0.8}, promotion=PROMOTED)
    )
    assert done == outcomes.Outcome(
        True,
        {
            "trainingjob": "ctr-20250115",
            "version": "ctr-20250115",
            "metrics": {"auc": 0.8},
            "promotion": PROMOTED,
        },
    )


def test_a_failed_run_fails_the_task_with_its_reason_and_message() -> None:
    done = outcomes.training_outcome(
        job(phase="Failed", reason="TrainerFailed", message="exit code 3: boom")
    )
    assert done is not None
    assert not done.succeeded
    assert done.failure == "TrainingJob ctr-20250115 failed: TrainerFailed: exit code 3: boom"
    assert done.xcom == {}


def test_a_version_is_done_when_ready_says_true_or_false() -> None:
    ready = {"type": "Ready", "status": "True", "reason": "Ready"}
    assert outcomes.version_outcome(version("ctr-v4", conditions=[])) is None
    assert (
        outcomes.version_outcome(
            version(
                "ctr-v4", conditions=[{"type": "Ready", "status": "Unknown", "reason": "Deploying"}]
            )
        )
        is None
    )
    done = outcomes.version_outcome(
        version("ctr-v4", "pending", conditions=[ready], url="http://ctr-v4", metrics={"auc": 0.7})
    )
    assert done == outcomes.Outcome(
        True,
        {
            "version": "ctr-v4",
            "url": "http://ctr-v4",
            "metrics": {"auc": 0.7},
            "promotion": "pending",
        },
    )
    failed = outcomes.version_outcome(
        version(
            "ctr-v4",
            conditions=[
                {
                    "type": "Ready",
                    "status": "False",
                    "reason": "ArtifactNotFound",
                    "message": "no s3://x",
                }
            ],
        )
    )
    assert failed == outcomes.Outcome(False, failure="ctr-v4 failed: ArtifactNotFound: no s3://x")


def test_a_watched_object_deleted_is_a_failure() -> None:
    gone = outcomes.outcome(outcomes.TRAINING_JOB, None)
    assert gone is not None
    assert "is gone" in gone.failure


MODEL = {"metadata": {"name": "ctr"}, "spec": {}, "status": {"servingVersion": "ctr-1"}}
SERVING = version("ctr-1", "promoted", metrics={"auc": 0.78})
POLICY = Promotion(metric="auc", goal="maximize", min_improvement=0.01)


def test_a_gated_run_s_passing_candidate_is_promoted_on_its_run_s_decision() -> None:
    verdict = outcomes.gate(version("ctr-2", "pending", PROMOTED), MODEL, SERVING, None)
    assert (verdict.action, verdict.decision, verdict.label) == ("promote", PROMOTED, "")


def test_a_refused_candidate_is_refused_with_the_run_s_reason() -> None:
    refused = {**PROMOTED, "decision": "Rejected", "reason": "auc 0.70 vs 0.78"}
    verdict = outcomes.gate(version("ctr-2", "rejected", refused), MODEL, SERVING, POLICY)
    assert (verdict.action, verdict.decision) == ("refuse", refused)


def test_a_held_version_is_decided_now_by_the_operator_s_gate_on_recorded_metrics() -> None:
    better = outcomes.gate(
        version("ctr-2", "pending", metrics={"auc": 0.80}), MODEL, SERVING, POLICY
    )
    assert (better.action, better.label) == ("promote", "promoted")
    assert better.decision["basis"] == "recorded"
    assert better.decision["servingVersion"] == "ctr-1"
    close = outcomes.gate(
        version("ctr-2", "pending", metrics={"auc": 0.785}), MODEL, SERVING, POLICY
    )
    assert (close.action, close.label) == ("refuse", "rejected")
    assert "better by at least 0.01" in close.decision["reason"]


def test_a_held_version_with_nothing_to_decide_by_asks_for_a_policy() -> None:
    with pytest.raises(ValueError, match="give the operator a promotion policy"):
        outcomes.gate(version("ctr-2", "pending"), MODEL, SERVING, None)


def test_a_version_no_gate_holds_back_has_nothing_to_promote() -> None:
    verdict = outcomes.gate(version("ctr-2"), MODEL, SERVING, POLICY)
    assert verdict.action == "nothing"
    assert "no gate holds it back" in verdict.decision["reason"]
