"""Hyperparameter search (pure): which values the next trials run with, and which trial
is best. The trials themselves — their Jobs — are the search's memory, so a restarted
operator continues where it was without repeating a finished trial.

Grid walks every combination in an order the seed shuffles; random draws each trial's
values from a generator seeded by the search's seed and the trial's number; bayesian asks
optuna's Tree-structured Parzen Estimator, given every finished trial.
"""

from __future__ import annotations

import itertools
import math
import random
from dataclasses import dataclass, field
from typing import Any

from modelops_operator.api.trainingjob import Hyperparameters, Parameter

RUNNING, SUCCEEDED, FAILED = "Running", "Succeeded", "Failed"


@dataclass(frozen=True)
class TrialRecord:
    number: int
    state: str
    parameters: dict[str, str] = field(default_factory=dict)
    metric: float | None = None


def suggest(search: Hyperparameters, trials: list[TrialRecord], count: int) -> list[TrialRecord]:
    """The next ``count`` trials to start (fewer when the search is used up)."""
    started = max((t.number for t in trials), default=-1) + 1  # a lost trial's number stays used
    wanted = min(count, search.max_trials - len(trials))
    if search.algorithm == "grid":
        grid = _grid(search)
        wanted = min(wanted, len(grid) - started)
        return [TrialRecord(n, RUNNING, grid[n]) for n in range(started, started + wanted)]
    suggested: list[TrialRecord] = []
    for number in range(started, started + max(wanted, 0)):
        if search.algorithm == "random":
            values = _random(search, random.Random(f"{search.seed}/{number}"))
        else:
            values = _bayesian(search, [*trials, *suggested], number)
        suggested.append(TrialRecord(number, RUNNING, values))
    return suggested


def best(search: Hyperparameters, trials: list[TrialRecord]) -> TrialRecord | None:
    """The finished trial with the best metric (the lower number on a tie)."""
    done = [t for t in trials if t.state == SUCCEEDED and t.metric is not None]
    if not done:
        return None
    sign = -1.0 if search.goal == "maximize" else 1.0
    return min(done, key=lambda t: (sign * float(t.metric or 0.0), t.number))


def _text(parameter: Parameter, value: Any) -> str:
    if parameter.type == "integer":
        return str(int(value))
    if parameter.type == "double":
        return repr(float(value))
    return str(value)


def _grid(search: Hyperparameters) -> list[dict[str, str]]:
    axes = []
    for p in search.parameters:
        if p.type == "integer":
            axes.append([str(v) for v in range(int(p.min_value or 0), int(p.max_value or 0) + 1)])
        else:
            axes.append(list(p.values))
    combinations = [
        {p.name: v for p, v in zip(search.parameters, values, strict=True)}
        for values in itertools.product(*axes)
    ]
    random.Random(search.seed).shuffle(combinations)
    return combinations


def _random(search: Hyperparameters, rng: random.Random) -> dict[str, str]:
    values = {}
    for p in search.parameters:
        if p.type in ("categorical", "discrete"):
            values[p.name] = rng.choice(list(p.values))
            continue
        low, high = float(p.min_value or 0), float(p.max_value or 0)
        if p.scale == "log":
            drawn = math.exp(rng.uniform(math.log(low), math.log(high)))
        else:
            drawn = rng.uniform(low, high)
        values[p.name] = _text(p, round(drawn) if p.type == "integer" else drawn)
    return values


def _distributions(search: Hyperparameters) -> dict[str, Any]:
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    found: dict[str, Any] = {}
    for p in search.parameters:
        log = p.scale == "log"
        if p.type == "integer":
            found[p.name] = IntDistribution(int(p.min_value or 0), int(p.max_value or 0), log=log)
        elif p.type == "double":
            found[p.name] = FloatDistribution(float(p.min_value or 0), float(p.max_value or 0),
                                              log=log)  # fmt: skip
        else:
            found[p.name] = CategoricalDistribution(list(p.values))
    return found


def _bayesian(search: Hyperparameters, trials: list[TrialRecord], number: int) -> dict[str, str]:
    import optuna
    from optuna.trial import TrialState, create_trial

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    distributions = _distributions(search)
    sampler = optuna.samplers.TPESampler(
        seed=search.seed + number, n_startup_trials=max(2, min(10, search.max_trials // 3))
    )
    study = optuna.create_study(
        direction=search.goal, sampler=sampler, storage=optuna.storages.InMemoryStorage()
    )
    for trial in trials:
        params = {p.name: _native(p, trial.parameters.get(p.name)) for p in search.parameters}
        if trial.state == SUCCEEDED and trial.metric is not None:
            study.add_trial(create_trial(params=params, distributions=distributions,
                                         value=trial.metric))  # fmt: skip
        elif trial.state == FAILED:
            study.add_trial(create_trial(params=params, distributions=distributions,
                                         state=TrialState.FAIL))  # fmt: skip
    asked = study.ask(distributions)
    return {p.name: _text(p, asked.params[p.name]) for p in search.parameters}


def _native(parameter: Parameter, text: str | None) -> Any:
    if text is None:
        return None
    if parameter.type == "integer":
        return int(text)
    if parameter.type == "double":
        return float(text)
    return text
