"""The promotion gate: a candidate serves only if it beats the serving version."""

from __future__ import annotations

import pytest

from modelops_contracts.training import TrainingResult
from modelops_operator.api.trainingjob import Promotion
from modelops_operator.trainingjob.promotion import Serving, decide
from modelops_operator.trainingjob.reconcile import version_to_beat

AUC = Promotion(metric="auc", goal="maximize")
SERVING = Serving("ctr-1", {"auc": 0.80})


def trained(auc=None, baseline=None, candidate=None, baseline_version="ctr-1"):
    return TrainingResult(
        reason="Trained", metrics={"auc": auc} if auc is not None else {},
        baseline_version=baseline_version,
        baseline_metrics={"auc": baseline} if baseline is not None else {},
        candidate_metrics={"auc": candidate} if candidate is not None else {},
    )  # fmt: skip


def test_better_on_the_same_data_is_promoted_with_both_numbers():
    found = decide(AUC, "ctr-2", trained(0.70, baseline=0.81, candidate=0.83), SERVING, None)
    assert (found.decision, found.basis) == ("Promoted", "same-data")
    assert (found.candidate_value, found.serving_value) == (0.83, 0.81)
    assert "0.83 vs 0.81 for ctr-1 (on the same held-out data)" in found.reason
    assert found.label == "promoted"


def test_worse_on_the_same_data_is_rejected_even_if_its_own_metric_looks_better():
    found = decide(AUC, "ctr-2", trained(0.95, baseline=0.81, candidate=0.79), SERVING, None)
    assert found.decision == "Rejected"
    assert (found.candidate_value, found.serving_value) == (0.79, 0.81)


def test_without_a_hook_the_recorded_metrics_are_compared_and_it_says_so():
    found = decide(AUC, "ctr-2", trained(0.82), SERVING, None)
    assert (found.decision, found.basis) == ("Promoted", "recorded")
    assert "as recorded at training" in found.reason


def test_a_baseline_scored_for_another_version_is_not_used():
    found = decide(AUC, "ctr-2", trained(0.79, baseline=0.5, candidate=0.9,
                                         baseline_version="ctr-0"), SERVING, None)  # fmt: skip
    assert (found.decision, found.basis) == ("Rejected", "recorded")


@pytest.mark.parametrize(("auc", "minimum", "decision"),
                         [(0.80, 0.0, "Rejected"), (0.805, 0.01, "Rejected"),
                          (0.815, 0.01, "Promoted"), (0.81, 0.0, "Promoted")])  # fmt: skip
def test_it_must_be_strictly_better_by_the_minimum(auc, minimum, decision):
    policy = Promotion(metric="auc", goal="maximize", min_improvement=minimum)
    assert decide(policy, "ctr-2", trained(auc), SERVING, None).decision == decision


def test_minimize_goals():
    loss = Promotion(metric="logloss", goal="minimize")
    serving = Serving("ctr-1", {"logloss": 0.40})
    lower = TrainingResult(reason="Trained", metrics={"logloss": 0.35})
    higher = TrainingResult(reason="Trained", metrics={"logloss": 0.45})
    assert decide(loss, "c", lower, serving, None).decision == "Promoted"
    assert decide(loss, "c", higher, serving, None).decision == "Rejected"


def test_what_cannot_be_compared_does_not_serve():
    assert "reported no auc" in decide(AUC, "c", trained(), SERVING, None).reason
    unknown = decide(AUC, "c", trained(0.9), Serving("ctr-1", {}), None)
    assert unknown.decision == "Rejected"
    assert "recorded no auc" in unknown.reason


def test_the_first_version_passes_and_a_pin_is_never_overridden():
    assert decide(AUC, "c", trained(0.5), None, None).decision == "Promoted"
    pinned = decide(AUC, "ctr-2", trained(0.9), SERVING, "ctr-1")
    assert pinned.decision == "Pinned"
    assert "stays on its pinned version ctr-1" in pinned.reason
    assert decide(AUC, "ctr-2", trained(0.9), SERVING, "ctr-2").decision == "Promoted"


def test_manual_mode_waits_for_a_person():
    manual = Promotion(metric="auc", goal="maximize", mode="manual")
    found = decide(manual, "ctr-2", trained(0.9), SERVING, None)
    assert (found.decision, found.label) == ("Pending", "pending")


def version(name, created, label="promoted", phase="Ready"):
    return {
        "metadata": {"name": name, "creationTimestamp": created,
                     "labels": {"modelops.dev/promotion": label}},
        "status": {"phase": phase},
    }  # fmt: skip


def test_a_run_is_compared_with_a_newer_promoted_version_not_yet_serving():
    serving = version("ctr-1", "2026-01-01T00:00:00Z")
    loading = version("ctr-2", "2026-01-01T00:01:00Z", phase="Pending")
    rejected = version("ctr-3", "2026-01-01T00:02:00Z", label="rejected")
    assert version_to_beat(serving, [serving, loading, rejected]) is loading
    assert version_to_beat(None, [loading, rejected]) is loading  # nothing serves yet


def test_a_run_is_compared_with_the_serving_version_when_nothing_newer_was_promoted():
    serving = version("ctr-2", "2026-01-01T00:01:00Z")
    older = version("ctr-1", "2026-01-01T00:00:00Z")
    broken = version("ctr-3", "2026-01-01T00:02:00Z", phase="Failed")
    assert version_to_beat(serving, [older, serving, broken]) is serving
    assert version_to_beat(None, [broken]) is None
