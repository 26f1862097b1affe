"""The autoscaler's decision, a case per rule (a table of readings over time)."""

from __future__ import annotations

import pytest

from modelops_operator.api.common import Predictor
from modelops_operator.autoscaler.decision import Observation, Policy, State, decide

# target 4 in flight per pod at 70%: 2.8 per pod
POLICY = Policy(min_replicas=1, max_replicas=10, target_concurrency=4, scale_down_delay=30)
T0 = 1_000_000.0
OLD = T0 - 3600  # an operator that has run for an hour: no start-up panic


def run(policy, readings, current=1, started=OLD):
    """Feed (seconds after T0, ready pods, in flight) readings; the decisions made."""
    state, decisions = State(started=started), []
    for at, ready, in_flight, *more in readings:
        extra = more[0] if more else {}
        seen = Observation(T0 + at, ready, in_flight, **extra)
        decision = decide(policy, state, seen, current)
        state, current = decision.state, decision.replicas
        decisions.append(decision)
    return decisions


def test_steady_load_settles_at_load_over_target():
    readings = [(t, 3, 8.0) for t in range(0, 120, 2)]  # 8 in flight / 2.8 per pod
    assert run(POLICY, readings, current=3)[-1].replicas == 3


def test_a_burst_panics_up_at_once():
    """16 in flight against 1 pod: the 6 s window (8.5 on average with the reading
    before) asks for 4, at least twice what is ready, so it scales up at once without
    waiting for the stable window; once the window holds only the burst, 6."""
    decisions = run(POLICY, [(0, 1, 1.0), (2, 1, 16.0), (4, 4, 16.0), (8, 4, 16.0)])
    assert decisions[1].panic
    assert decisions[1].replicas == 4
    assert decisions[-1].replicas == 6


def test_no_scale_down_while_panicking():
    readings = [(0, 1, 16.0), (2, 6, 16.0), *[(t, 6, 1.0) for t in range(4, 50, 2)]]
    decisions = run(POLICY, readings)
    assert all(d.replicas >= 6 for d in decisions[1:])
    assert decisions[-1].panic


def test_scale_down_waits_for_the_delay_then_follows_the_stable_window():
    readings = [(t, 4, 10.0) for t in range(0, 120, 2)] + [(t, 4, 2.0) for t in range(120, 400, 2)]
    decisions = run(POLICY, readings, current=4)
    by_time = {120 + 2 * i: d.replicas for i, d in enumerate(decisions[60:])}
    assert by_time[124] == 4  # not yet: the delay
    assert decisions[-1].replicas == 1


def test_a_fresh_history_never_scales_down():
    """Just after an operator restart the windows are empty: it must not read that as no
    load and remove pods."""
    decisions = run(POLICY, [(0, 5, 0.0), (2, 5, 0.0)], current=5, started=T0)
    assert [d.replicas for d in decisions] == [5, 5]
    assert decisions[0].panic


def test_scale_up_is_bounded_by_the_rate():
    limited = Policy(min_replicas=1, max_replicas=100, target_concurrency=1, max_scale_up_rate=2)
    assert run(limited, [(0, 2, 100.0)], current=2)[-1].replicas == 4


def test_bounds():
    assert run(POLICY, [(0, 1, 1000.0)])[-1].replicas == 10
    assert run(POLICY, [(t, 1, 0.0) for t in range(0, 200, 2)])[-1].replicas == 1


def test_fixed_size_when_min_equals_max():
    fixed = Policy(min_replicas=3, max_replicas=3)
    assert run(fixed, [(0, 3, 100.0), (2, 3, 0.0)], current=3)[-1].replicas == 3


SCALE_TO_ZERO = Policy(min_replicas=0, max_replicas=3, idle_timeout=60, scale_down_delay=0)


def test_an_idle_version_goes_to_zero_after_the_timeout():
    served = [(0, 1, 1.0, {"last_request": T0})]
    quiet = [(t, 1, 0.0, {"last_request": T0}) for t in range(2, 80, 2)]
    decisions = run(SCALE_TO_ZERO, served + quiet)
    times = [d.replicas for d in decisions]
    assert times[25] == 1  # 50 s idle: not yet
    assert decisions[-1].replicas == 0
    went = next(d for d in decisions if d.replicas == 0)
    assert went.reason.startswith("idle for 6")


def test_a_version_that_has_just_come_up_is_kept_a_whole_idle_timeout():
    """Its first pod took 50 s to be ready (a slow pull): the idle timer starts then, so
    the callers who waited for the deploy find it warm."""
    starting = [(t, 0, 0.0) for t in range(0, 50, 10)]
    up = [(t, 1, 0.0) for t in range(50, 160, 2)]
    decisions = run(SCALE_TO_ZERO, starting + up, current=1, started=T0)
    replicas = [d.replicas for d in decisions]
    assert replicas[: len(starting) + 25] == [1] * (len(starting) + 25)  # up to 100 s: kept
    assert replicas[-1] == 0
    went = next(d for d in decisions if d.replicas == 0)
    assert went.reason.startswith("idle for 6")


def test_a_wake_request_brings_a_sleeping_version_to_one_and_holds_it():
    asleep = run(SCALE_TO_ZERO, [(0, 0, 0.0)], current=0)
    assert asleep[-1].replicas == 0
    woken = run(SCALE_TO_ZERO, [(0, 0, 0.0, {"wake_requested": T0}),
                                (10, 0, 0.0, {"wake_requested": T0})], current=0)  # fmt: skip
    assert [d.replicas for d in woken] == [1, 1]
    assert woken[0].reason == "woken by a request"


def test_a_restart_does_not_wake_sleeping_versions():
    assert run(SCALE_TO_ZERO, [(0, 0, 0.0)], current=0, started=T0)[-1].replicas == 0


@pytest.mark.parametrize(
    ("predictor", "expected"),
    [
        (Predictor(), (1, 1, 8.0, 300.0)),
        (Predictor(min_replicas=0), (0, 1, 8.0, 300.0)),
        (
            Predictor(
                min_replicas=2, max_replicas=5, target_concurrency=4, idle_timeout_seconds=30
            ),
            (2, 5, 4.0, 30.0),
        ),
    ],
)
def test_policy_defaults(predictor, expected):
    policy = Policy.of(predictor)
    found = (policy.min_replicas, policy.max_replicas, policy.target_concurrency,
             policy.idle_timeout)  # fmt: skip
    assert found == expected
