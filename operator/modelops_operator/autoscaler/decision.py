"""How many pods a version should run (pure), shaped like Knative's KPA.

Concurrency is averaged over a stable window (60 s) and a panic window (6 s). Each pod is
asked for ``target_concurrency * target_utilization`` requests in flight. When the
short window wants at least ``panic_threshold`` times the ready pods, the autoscaler
panics: it follows the short window up and never scales down until the stable window
has passed without another trigger. A fresh history (an operator that just started)
counts as panic, so a restart never scales down on an empty window. Scale-ups are
bounded by ``max_scale_up_rate``; a lower recommendation takes effect only after it has
held for ``scale_down_delay``. With ``min_replicas`` 0, a version that answered nothing
for ``idle_timeout`` goes to zero, and a wake request (a held request) brings it to one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from modelops_contracts.serving import WAKE_LEASE_SECONDS
from modelops_operator.api.common import Predictor

TARGET_CONCURRENCY = 8
TARGET_UTILIZATION = 0.7
STABLE_WINDOW = 60.0
PANIC_WINDOW = 6.0
PANIC_THRESHOLD = 2.0
MAX_SCALE_UP_RATE = 10.0
SCALE_DOWN_DELAY = 30.0
IDLE_TIMEOUT = 300.0
WAKE_HOLD = WAKE_LEASE_SECONDS
"""How long a wake request keeps a version at one pod at least (it carries a request)."""


@dataclass(frozen=True)
class Policy:
    min_replicas: int
    max_replicas: int
    target_concurrency: float = TARGET_CONCURRENCY
    target_utilization: float = TARGET_UTILIZATION
    stable_window: float = STABLE_WINDOW
    panic_window: float = PANIC_WINDOW
    panic_threshold: float = PANIC_THRESHOLD
    max_scale_up_rate: float = MAX_SCALE_UP_RATE
    scale_down_delay: float = SCALE_DOWN_DELAY
    idle_timeout: float = IDLE_TIMEOUT

    @classmethod
    def of(cls, predictor: Predictor) -> Policy:
        low = 1 if predictor.min_replicas is None else predictor.min_replicas
        high = predictor.max_replicas or max(low, 1)
        return cls(
            min_replicas=low,
            max_replicas=max(high, low),
            target_concurrency=float(predictor.target_concurrency or TARGET_CONCURRENCY),
            scale_down_delay=float(
                SCALE_DOWN_DELAY
                if predictor.scale_down_delay_seconds is None
                else predictor.scale_down_delay_seconds
            ),
            idle_timeout=float(
                IDLE_TIMEOUT
                if predictor.idle_timeout_seconds is None
                else predictor.idle_timeout_seconds
            ),
        )

    @property
    def fixed(self) -> bool:
        return self.min_replicas == self.max_replicas

    @property
    def per_pod(self) -> float:
        return max(self.target_concurrency * self.target_utilization, 0.01)


@dataclass(frozen=True)
class Observation:
    """One reading of a version: what its ready pods hold, and when it last answered."""

    at: float
    ready_pods: int
    in_flight: float
    """Requests in flight across the ready pods."""
    last_request: float = 0.0
    """Unix time of the version's last answer (0: none seen)."""
    wake_requested: float = 0.0
    """Unix time of the activator's last wake request (0: none)."""


@dataclass(frozen=True)
class State:
    """The autoscaler's memory of a version: recent readings and recommendations."""

    started: float
    samples: tuple[tuple[float, float], ...] = ()
    """(time, in-flight across ready pods) within the stable window."""
    recommendations: tuple[tuple[float, int], ...] = ()
    """(time, pods recommended) within the scale-down delay."""
    panic_until: float = 0.0
    last_request: float = 0.0
    ready_since: float = 0.0
    """When the version last went from no ready pod to one (0: none ready): a version
    that has just come up is kept for a whole idle timeout before it may sleep."""


@dataclass(frozen=True)
class Decision:
    replicas: int
    state: State
    stable_concurrency: float
    panic: bool
    reason: str = field(default="")


def _mean(samples: tuple[tuple[float, float], ...], since: float) -> float:
    values = [v for t, v in samples if t >= since]
    return sum(values) / len(values) if values else 0.0


def decide(policy: Policy, state: State, seen: Observation, current: int) -> Decision:
    """The pods ``policy`` wants now, given ``seen`` and the ``current`` replica count."""
    now = seen.at
    samples = (*[(t, v) for t, v in state.samples if t >= now - policy.stable_window],
               (now, seen.in_flight))  # fmt: skip
    last_request = max(state.last_request, seen.last_request)
    ready_since = (state.ready_since or now) if seen.ready_pods > 0 else 0.0
    stable = _mean(samples, now - policy.stable_window)
    short = _mean(samples, now - policy.panic_window)
    if policy.fixed:
        kept = replace(state, samples=samples, last_request=last_request, ready_since=ready_since)
        return Decision(policy.min_replicas, kept, stable, False, "fixed size")

    wanted_stable = math.ceil(stable / policy.per_pod - 1e-9)
    wanted_panic = math.ceil(short / policy.per_pod - 1e-9)
    young = now - state.started < policy.stable_window
    triggered = seen.ready_pods > 0 and wanted_panic >= policy.panic_threshold * seen.ready_pods
    panic_until = now + policy.stable_window if triggered else state.panic_until
    panicking = young or now < panic_until
    wanted = max(wanted_panic, current) if panicking else wanted_stable
    why = "panic" if panicking else "stable"

    if seen.ready_pods > 0:  # a bounded scale-up from what is ready
        wanted = min(wanted, max(1, math.ceil(seen.ready_pods * policy.max_scale_up_rate)))
    recommendations = (*[(t, r) for t, r in state.recommendations
                         if t >= now - policy.scale_down_delay], (now, wanted))  # fmt: skip
    if not panicking:  # a lower recommendation waits out the delay
        wanted = max(r for _, r in recommendations)

    woken = now - seen.wake_requested < WAKE_HOLD
    if policy.min_replicas == 0:
        idle_for = now - max(last_request, seen.wake_requested, state.started, ready_since)
        if seen.in_flight > 0 or woken:
            wanted = max(wanted, 1)
            why = "woken by a request" if current == 0 else why
        elif current == 0:
            wanted, why = 0, "asleep"
        elif idle_for >= policy.idle_timeout and wanted <= 1:
            wanted, why = 0, f"idle for {idle_for:.0f}s"
        else:
            wanted = max(wanted, 1)
    wanted = min(max(wanted, policy.min_replicas), policy.max_replicas)
    kept = State(state.started, samples, recommendations, panic_until, last_request, ready_since)
    return Decision(wanted, kept, stable, panicking, why)
