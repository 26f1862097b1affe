"""Condition sets: Ready derived from the parts; bookkeeping of lastTransitionTime."""

from __future__ import annotations

from modelops_operator.conditions import ConditionSet, Observation, changes, find, is_true, merge

T0, T1 = "2026-01-01T00:00:00Z", "2026-01-01T00:01:00Z"
SET = ConditionSet(("A", "B"))


def test_ready_is_true_when_every_part_is():
    ready = SET.ready([Observation.true("A", "Ok", "a ok"), Observation.true("B", "Ok", "b ok")])
    assert (ready.type, ready.status, ready.message) == ("Ready", "True", "a ok; b ok")


def test_the_first_false_part_is_readys_reason_even_behind_an_unknown_one():
    ready = SET.ready([Observation.unknown("A", "Waiting"), Observation.false("B", "Broken", "x")])
    assert (ready.status, ready.reason, ready.message) == ("False", "Broken", "x")


def test_an_unknown_or_missing_part_keeps_ready_unknown():
    ready = SET.ready([Observation.true("A", "Ok"), Observation.unknown("B", "Starting", "wait")])
    assert (ready.status, ready.reason, ready.message) == ("Unknown", "Starting", "wait")
    assert SET.ready([Observation.true("A", "Ok")]).status == "Unknown"


def test_a_warning_part_and_a_condition_outside_the_set_never_decide():
    observed = [
        Observation.true("A", "Ok"),
        Observation.false("B", "Allowed", "named", "Warning"),
        Observation.false("Active", "ScaledToZero"),
    ]
    assert SET.ready(observed).status == "True"


def test_merge_sets_bookkeeping():
    merged = merge([], [Observation.true("Ready", "Serving", "ok")], 3, T0)
    assert merged == [
        {
            "type": "Ready",
            "status": "True",
            "reason": "Serving",
            "message": "ok",
            "lastTransitionTime": T0,
            "observedGeneration": 3,
        }
    ]


def test_merge_keeps_transition_time_while_status_holds():
    first = merge([], [Observation.unknown("Ready", "Deploying")], 1, T0)
    same = merge(first, [Observation.unknown("Ready", "Creating", "other")], 2, T1)
    assert same[0]["lastTransitionTime"] == T0
    assert same[0]["reason"] == "Creating"
    assert same[0]["observedGeneration"] == 2
    flipped = merge(same, [Observation.true("Ready", "Serving")], 2, T1)
    assert flipped[0]["lastTransitionTime"] == T1


def test_merge_keeps_only_what_was_observed_and_writes_severity():
    old = merge([], [Observation.true("Gone", "x")], 1, T0)
    merged = merge(old, [Observation.false("Split", "Later", "", "Warning")], 1, T1)
    assert [c["type"] for c in merged] == ["Split"]
    assert merged[0]["severity"] == "Warning"
    assert is_true(merge([], [Observation.true("Ready", "x")], 1, T0), "Ready")
    assert not is_true(merged, "Missing")
    assert find(merged, "Split") == merged[0]


def test_changes_patch_only_what_differs_and_remove_what_is_gone():
    assert changes({"a": 1, "b": 2}, {"a": 1, "b": 3}) == {"b": 3}
    assert changes({"a": 1, "old": 2}, {"a": 1}) == {"old": None}
    assert changes({"a": 1}, {"a": 1}) == {}
