"""The search: the next trials' values, the best trial, and resuming from the trials."""

from __future__ import annotations

from modelops_operator.api.schema import parse
from modelops_operator.api.trainingjob import Hyperparameters
from modelops_operator.trainingjob.tuning import TrialRecord, best, suggest

PARAMETERS = [
    {"name": "max_depth", "type": "integer", "minValue": 2, "maxValue": 6},
    {"name": "eta", "type": "double", "minValue": 0.01, "maxValue": 0.3, "scale": "log"},
    {"name": "booster", "type": "categorical", "values": ["gbtree", "dart"]},
]


def search(algorithm="bayesian", max_trials=4, **extra):
    body = {"metric": "auc", "goal": "maximize", "maxTrials": max_trials, "parallelTrials": 2,
            "algorithm": algorithm, "parameters": PARAMETERS, **extra}  # fmt: skip
    return parse(Hyperparameters, body)


def finished(trials, metrics):
    return [
        TrialRecord(t.number, "Succeeded", t.parameters, m)
        for t, m in zip(trials, metrics, strict=True)
    ]


def test_values_stay_in_their_ranges():
    for algorithm in ("random", "bayesian"):
        for trial in suggest(search(algorithm, max_trials=8), [], 8):
            assert 2 <= int(trial.parameters["max_depth"]) <= 6
            assert 0.01 <= float(trial.parameters["eta"]) <= 0.3
            assert trial.parameters["booster"] in ("gbtree", "dart")


def test_a_search_resumed_from_its_trials_suggests_what_it_would_have():
    """The operator keeps no memory but the trials: asking again with the same finished
    trials gives the same next values, and never repeats a finished trial's number."""
    spec = search("bayesian", max_trials=6)
    first = suggest(spec, [], 2)
    done = finished(first, [0.7, 0.8])
    again = suggest(spec, done, 2)
    assert [t.number for t in again] == [2, 3]
    assert suggest(spec, done, 2) == again
    assert suggest(search("random", max_trials=6), done, 2) == suggest(
        search("random", max_trials=6), done, 2
    )


def test_a_missing_trial_number_is_not_reused():
    spec = search("random", max_trials=6)
    gap = [TrialRecord(0, "Succeeded", {}, 0.5), TrialRecord(2, "Running", {})]
    assert [t.number for t in suggest(spec, gap, 2)] == [3, 4]


def test_no_more_than_max_trials():
    spec = search("random", max_trials=3)
    assert len(suggest(spec, [], 5)) == 3
    three = finished(suggest(spec, [], 3), [0.1, 0.2, 0.3])
    assert suggest(spec, three, 2) == []


def test_grid_walks_every_combination_once():
    grid = parse(Hyperparameters, {
        "metric": "auc", "goal": "maximize", "maxTrials": 100, "algorithm": "grid",
        "parameters": [{"name": "depth", "type": "integer", "minValue": 1, "maxValue": 3},
                       {"name": "booster", "type": "categorical", "values": ["a", "b"]}],
    })  # fmt: skip
    trials = suggest(grid, [], 100)
    assert len(trials) == 6
    assert len({tuple(sorted(t.parameters.items())) for t in trials}) == 6


def test_the_best_trial_by_goal():
    trials = finished(suggest(search("random"), [], 3), [0.7, 0.9, 0.8])
    assert best(search(), trials).number == 1
    assert best(search(goal="minimize"), trials).number == 0
    assert best(search(), [TrialRecord(0, "Failed")]) is None
