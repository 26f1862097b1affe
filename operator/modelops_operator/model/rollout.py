"""Judging a canary against the stable version (pure), from what the activator counted
for each between two readings.

The candidate fails when, with enough requests on both sides, its share of 5xx answers
exceeds the stable version's by more than ``maxErrorRateIncrease``, or its p99 latency is
more than ``maxLatencyRatio`` times the stable version's (beyond ``latencyToleranceMs``).
A failure rolls it back; a pass advances the steps, if any, one window at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from modelops_contracts.serving import LATENCY_BUCKETS_MS, VersionTraffic
from modelops_operator.api.model import Analysis, Rollout
from modelops_operator.model.routing import Split

PASS, FAIL, WAIT = "Pass", "Fail", "Wait"


@dataclass(frozen=True)
class Window:
    """What one version did between two readings."""

    requests: int
    errors: int
    latency_counts: tuple[int, ...]

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0

    def p99_ms(self) -> float:
        """The upper bound of the bucket holding the 99th percentile."""
        if not self.requests or not self.latency_counts:
            return 0.0
        rank = 0.99 * self.requests
        bounds = (*LATENCY_BUCKETS_MS, float("inf"))
        for bound, count in zip(bounds, self.latency_counts, strict=False):
            if count >= rank:
                return bound
        return bounds[-1]


def window(start: VersionTraffic | None, end: VersionTraffic) -> Window:
    """The counters' growth from ``start`` to ``end`` (from zero after a restart)."""
    if start is None or end.requests < start.requests:
        return Window(end.requests, end.errors, end.latency_counts)
    counts = (
        tuple(b - a for a, b in zip(start.latency_counts, end.latency_counts, strict=False))
        or end.latency_counts
    )
    return Window(end.requests - start.requests, end.errors - start.errors, counts)


@dataclass(frozen=True)
class Verdict:
    outcome: str
    reason: str
    candidate: Window
    stable: Window


def judge(analysis: Analysis, candidate: Window, stable: Window) -> Verdict:
    if candidate.requests < analysis.min_requests or stable.requests < analysis.min_requests:
        return Verdict(WAIT, (
            f"waiting for {analysis.min_requests} requests on each side "
            f"(candidate {candidate.requests}, stable {stable.requests})"
        ), candidate, stable)  # fmt: skip
    figures = (
        f"5xx {candidate.error_rate:.2%} vs {stable.error_rate:.2%}, "
        f"p99 {candidate.p99_ms():.0f} ms vs {stable.p99_ms():.0f} ms"
    )
    if candidate.error_rate - stable.error_rate > analysis.max_error_rate_increase:
        return Verdict(FAIL, f"error rate: {figures}", candidate, stable)
    slower = candidate.p99_ms() - stable.p99_ms()
    if (
        candidate.p99_ms() > analysis.max_latency_ratio * stable.p99_ms()
        and slower > analysis.latency_tolerance_ms
    ):
        return Verdict(FAIL, f"latency: {figures}", candidate, stable)
    return Verdict(PASS, figures, candidate, stable)


def advance(
    rollout: Rollout,
    split: Split,
    current: dict[str, Any] | None,
    verdict: Verdict | None,
    now: float,
) -> dict[str, Any]:
    """The rollout's next state (status.rollout) after a judgement, or none yet.

    A new split (another candidate or stable version) starts over; a rolled-back
    candidate stays rolled back until the spec changes (the caller starts over then);
    a pass that has lasted a window moves to the next step; past the last one, or onto a
    step of 100%, the rollout has succeeded."""
    candidate = split.candidates[0] if split.candidates else ""
    fresh = (
        current is None
        or current.get("candidate") != candidate
        or current.get("stable") != split.stable
    )
    state: dict[str, Any] = (
        {"phase": "Progressing" if rollout.steps else "Holding", "candidate": candidate,
         "stable": split.stable, "since": _stamp(now), "reason": "started"}
        if fresh else dict(current or {})
    )  # fmt: skip
    if rollout.steps and state.get("step") is None:
        state["step"] = 0
    if verdict is None or state["phase"] in ("RolledBack", "Succeeded"):
        return state
    state |= _figures(verdict)
    if verdict.outcome == FAIL:
        return state | {"phase": "RolledBack", "reason": verdict.reason, "since": _stamp(now)}
    state["reason"] = verdict.reason
    lasted = now - _unix(str(state["since"])) >= rollout.analysis.window_seconds
    if verdict.outcome == PASS and rollout.steps and lasted:
        nxt = int(state["step"]) + 1
        # Past the last step, or onto a step of 100%: there the stable version would get
        # no request to judge against, so the candidate taking it all is the success.
        if nxt >= len(rollout.steps) or rollout.steps[nxt] == 100:
            return state | {"phase": "Succeeded", "step": min(nxt, len(rollout.steps) - 1),
                            "since": _stamp(now)}  # fmt: skip
        return state | {"step": nxt, "since": _stamp(now)}
    return state


def step_percent(rollout: Rollout | None, state: dict[str, Any] | None) -> int | None:
    """The candidate's share at the rollout's current step (None: the split's own)."""
    if rollout is None or not rollout.steps or not state or state.get("step") is None:
        return None
    return rollout.steps[int(state["step"])]


def _stamp(unix: float) -> str:
    return datetime.fromtimestamp(unix, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _unix(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def _figures(verdict: Verdict) -> dict[str, Any]:
    return {
        "candidateErrorRate": round(verdict.candidate.error_rate, 4),
        "stableErrorRate": round(verdict.stable.error_rate, 4),
        "candidateP99Ms": verdict.candidate.p99_ms(),
        "stableP99Ms": verdict.stable.p99_ms(),
    }
