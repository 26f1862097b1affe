"""A Model's routes (a split, a candidate waiting for pods, a rollback, steps) and the
judgement of a canary against the stable version."""

from __future__ import annotations

from modelops_contracts.serving import LATENCY_BUCKETS_MS, Route, VersionTraffic
from modelops_operator.api.model import Analysis, ModelSpec, Rollout
from modelops_operator.api.schema import parse
from modelops_operator.model.rollout import FAIL, PASS, WAIT, advance, judge, step_percent, window
from modelops_operator.model.routing import Split, routes, split_of

SPLIT = parse(ModelSpec, {"traffic": [{"version": "v1", "percent": 90},
                                      {"version": "v2", "percent": 10}]})  # fmt: skip


def test_without_a_split_the_serving_version_takes_everything():
    assert routes(ModelSpec(), "v1", set()) == [Route("v1", 100)]
    assert routes(ModelSpec(), None, set()) == []


def test_stable_is_the_pin_else_the_largest_share():
    assert split_of(SPLIT) == Split("v1", ("v2",))
    pinned = parse(ModelSpec, {"defaultVersion": "v2", "traffic": [
        {"version": "v1", "percent": 90}, {"version": "v2", "percent": 10}]})  # fmt: skip
    assert split_of(pinned) == Split("v2", ("v1",))


def test_a_candidate_gets_its_share_only_with_ready_pods():
    assert routes(SPLIT, "v1", {"v1"}) == [Route("v1", 100)]
    assert routes(SPLIT, "v1", {"v1", "v2"}) == [Route("v1", 90), Route("v2", 10)]


def test_a_rolled_back_candidate_gets_nothing():
    assert routes(SPLIT, "v1", {"v1", "v2"}, rolled_back=True) == [Route("v1", 100)]


def test_steps_set_the_candidates_share():
    assert routes(SPLIT, "v1", {"v1", "v2"}, step_percent=50) == [Route("v1", 50), Route("v2", 50)]
    assert routes(SPLIT, "v1", {"v1", "v2"}, step_percent=100) == [Route("v2", 100)]


def traffic(requests, errors, latency_ms):
    """Cumulative counts as the activator keeps them: every request took latency_ms."""
    counts = tuple(requests if latency_ms <= bound else 0 for bound in LATENCY_BUCKETS_MS)
    return VersionTraffic("ns", "v", requests, errors, (*counts, requests))


ANALYSIS = Analysis(min_requests=100, max_error_rate_increase=0.01, max_latency_ratio=1.5,
                    latency_tolerance_ms=10)  # fmt: skip


def test_a_candidate_answering_500s_fails():
    verdict = judge(ANALYSIS, window(None, traffic(200, 40, 20)), window(None, traffic(200, 0, 20)))
    assert verdict.outcome == FAIL
    assert verdict.reason.startswith("error rate: 5xx 20.00% vs 0.00%")


def test_a_slower_candidate_fails_beyond_the_tolerance():
    slow = judge(ANALYSIS, window(None, traffic(200, 0, 400)), window(None, traffic(200, 0, 20)))
    assert slow.outcome == FAIL
    assert "p99 500 ms vs 25 ms" in slow.reason
    close = judge(ANALYSIS, window(None, traffic(200, 0, 8)), window(None, traffic(200, 0, 4)))
    assert close.outcome == PASS  # 10 ms vs 5 ms: twice, but within the tolerance


def test_too_few_requests_waits():
    assert judge(ANALYSIS, window(None, traffic(20, 20, 1)),
                 window(None, traffic(500, 0, 1))).outcome == WAIT  # fmt: skip


def test_a_window_is_the_growth_of_the_counters_and_starts_over_after_a_restart():
    later = window(traffic(100, 1, 20), traffic(300, 3, 20))
    assert (later.requests, later.errors) == (200, 2)
    restarted = window(traffic(300, 3, 20), traffic(50, 0, 20))
    assert restarted.requests == 50


ROLLOUT = Rollout(analysis=Analysis(window_seconds=60), steps=(10, 50, 100))


def test_steps_advance_one_window_at_a_time_while_the_analysis_passes():
    passing = judge(ANALYSIS, window(None, traffic(200, 0, 20)), window(None, traffic(200, 0, 20)))
    state = advance(ROLLOUT, Split("v1", ("v2",)), None, None, 1000.0)
    assert (state["phase"], state["step"]) == ("Progressing", 0)
    assert step_percent(ROLLOUT, state) == 10
    early = advance(ROLLOUT, Split("v1", ("v2",)), state, passing, 1030.0)
    assert early["step"] == 0
    state = advance(ROLLOUT, Split("v1", ("v2",)), early, passing, 1061.0)
    assert step_percent(ROLLOUT, state) == 50
    # The step to 100% is the end: the stable version would have no request left to judge
    # the candidate against, so passing at 50% is the rollout's success.
    state = advance(ROLLOUT, Split("v1", ("v2",)), state, passing, 1122.0)
    assert state["phase"] == "Succeeded"
    assert step_percent(ROLLOUT, state) == 100
    assert advance(ROLLOUT, Split("v1", ("v2",)), state, passing, 1183.0) == state


def test_steps_that_end_below_100_succeed_past_their_last_window():
    partial = Rollout(analysis=Analysis(window_seconds=60), steps=(10, 50))
    passing = judge(ANALYSIS, window(None, traffic(200, 0, 20)), window(None, traffic(200, 0, 20)))
    state = advance(partial, Split("v1", ("v2",)), None, None, 1000.0)
    state = advance(partial, Split("v1", ("v2",)), state, passing, 1061.0)
    assert (state["phase"], step_percent(partial, state)) == ("Progressing", 50)
    state = advance(partial, Split("v1", ("v2",)), state, passing, 1122.0)
    assert (state["phase"], step_percent(partial, state)) == ("Succeeded", 50)


def test_a_failure_rolls_back_and_it_stays_rolled_back():
    failing = judge(ANALYSIS, window(None, traffic(200, 50, 20)), window(None, traffic(200, 0, 20)))
    state = advance(ROLLOUT, Split("v1", ("v2",)), None, failing, 1000.0)
    assert state["phase"] == "RolledBack"
    assert state["candidateErrorRate"] == 0.25
    passing = judge(ANALYSIS, window(None, traffic(200, 0, 20)), window(None, traffic(200, 0, 20)))
    assert advance(ROLLOUT, Split("v1", ("v2",)), state, passing, 2000.0)["phase"] == "RolledBack"
    fresh = advance(ROLLOUT, Split("v1", ("v3",)), state, None, 2000.0)
    assert fresh["phase"] == "Progressing"
