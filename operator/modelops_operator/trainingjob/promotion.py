"""The promotion gate (pure): does a candidate beat the version serving now?

The comparison is on the same evaluation data when the run's evaluation hook scored both
models; otherwise on the metrics each version recorded when it was trained, and the
decision says so. A candidate that cannot be compared does not serve. A pin on the Model
is never overridden.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from modelops_contracts.training import TrainingResult
from modelops_operator.api.trainingjob import Promotion

PROMOTED, REJECTED, PENDING, PINNED = "Promoted", "Rejected", "Pending", "Pinned"
# The label a produced version carries: only promoted (or unlabelled) versions may serve.
LABELS = {PROMOTED: "promoted", PINNED: "promoted", REJECTED: "rejected", PENDING: "pending"}


@dataclass(frozen=True)
class Serving:
    """The version serving the Model now, and what it recorded when it was trained."""

    version: str
    metrics: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Decision:
    decision: str
    reason: str
    version: str
    serving_version: str = ""
    metric: str = ""
    candidate_value: float | None = None
    serving_value: float | None = None
    basis: str = ""

    @property
    def label(self) -> str:
        return LABELS[self.decision]

    def as_status(self) -> dict[str, object]:
        return {
            "decision": self.decision,
            "reason": self.reason,
            "version": self.version,
            "servingVersion": self.serving_version,
            "metric": self.metric,
            "candidateValue": self.candidate_value,
            "servingValue": self.serving_value,
            "basis": self.basis,
        }


def decide(
    policy: Promotion,
    candidate: str,
    result: TrainingResult,
    serving: Serving | None,
    pin: str | None,
) -> Decision:
    """Promote ``candidate`` only if it beats ``serving`` on the policy's metric by at
    least ``minImprovement`` (strictly better when that is 0)."""
    metric = policy.metric
    if serving is None:
        passed = Decision(PROMOTED, "no version serves the Model yet", candidate, metric=metric,
                          candidate_value=result.metrics.get(metric))  # fmt: skip
        return _finish(policy, passed, pin)
    same_data = (
        result.baseline_version == serving.version
        and metric in result.baseline_metrics
        and metric in result.candidate_metrics
    )
    ours: float | None = result.metrics.get(metric)
    theirs: float | None = serving.metrics.get(metric)
    basis = "recorded"
    if same_data:
        ours, theirs = result.candidate_metrics[metric], result.baseline_metrics[metric]
        basis = "same-data"
    base = Decision(REJECTED, "", candidate, serving.version, metric, ours, theirs, basis)
    if ours is None:
        return _with(base, f"the candidate reported no {metric}")
    if theirs is None:
        return _with(base, (
            f"cannot compare: {serving.version} recorded no {metric} and the run has no "
            "evaluation hook to score it; add one to the trainer, or pin the version to serve"
        ))  # fmt: skip
    better = ours - theirs if policy.goal == "maximize" else theirs - ours
    how = "on the same held-out data" if basis == "same-data" else "as recorded at training"
    figures = f"{metric} {ours:.6g} vs {theirs:.6g} for {serving.version} ({how})"
    if better <= 0 or better < policy.min_improvement:
        need = f"; it must be better by at least {policy.min_improvement:g}" if (
            policy.min_improvement) else "; it must be better"  # fmt: skip
        return _with(base, figures + need)
    return _finish(policy, _with(base, figures, PROMOTED), pin)


def _with(decision: Decision, reason: str, outcome: str = REJECTED) -> Decision:
    return Decision(outcome, reason, decision.version, decision.serving_version,
                    decision.metric, decision.candidate_value, decision.serving_value,
                    decision.basis)  # fmt: skip


def _finish(policy: Promotion, passed: Decision, pin: str | None) -> Decision:
    """A candidate that passed: it serves, or waits for a person, or for the pin to go."""
    if pin and pin != passed.version:
        return _with(passed, f"{passed.reason}; the Model stays on its pinned version {pin}",
                     PINNED)  # fmt: skip
    if policy.mode == "manual":
        return _with(passed, f"{passed.reason}; waiting for `modelops train promote`", PENDING)
    return passed
