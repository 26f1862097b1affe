"""A TrainingJob's status from its runs (pure functions).

``Succeeded`` says how the run (or the search) ended — Unknown while it runs, False with
the reason of a failure — as Tekton's TaskRuns do; a schedule also has ``Scheduled``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from modelops_operator.conditions import Observation, merge
from modelops_operator.trainingjob.runs import RunOutcome
from modelops_operator.trainingjob.tuning import TrialRecord

SUCCEEDED = "Succeeded"
SCHEDULED = "Scheduled"


@dataclass(frozen=True)
class Produced:
    """A version a run produced, and the gate's decision on it (None: no gate)."""

    version: str
    run: str
    decision: dict[str, Any] | None = None


@dataclass(frozen=True)
class Observed:
    """What the operator knows of a TrainingJob's runs."""

    runs: list[RunOutcome]
    """Newest first."""
    produced: dict[str, Produced] = field(default_factory=dict)
    """By run (Job) name."""
    blocked: Observation | None = None
    """Why no run can start (unknown runtime, no store, a child refused)."""
    scheduled: bool = False
    last_schedule_time: str = ""
    trials: list[TrialRecord] | None = None
    best_trial: int | None = None
    search_failed: str = ""
    """Why a search gave up (too many failed trials, none succeeded)."""
    waiting: str = ""
    """Why a finished run has no version yet (e.g. its Model does not exist)."""


def _succeeded(observed: Observed, last: RunOutcome | None) -> Observation:
    if observed.blocked:
        return Observation.false(SUCCEEDED, observed.blocked.reason, observed.blocked.message)
    if observed.search_failed:
        return Observation.false(SUCCEEDED, "SearchFailed", observed.search_failed)
    if last is None:
        if observed.scheduled:
            return Observation.unknown(SUCCEEDED, "NotRunYet", "waiting for the first run")
        return Observation.unknown(SUCCEEDED, "Starting", "creating the run")
    if last.phase == "Failed":
        return Observation.false(SUCCEEDED, last.reason or "Failed", last.message)
    if last.phase == "Succeeded":
        made = observed.produced.get(last.job)
        if made is None:
            return Observation.unknown(SUCCEEDED, "CreatingVersion",
                                       observed.waiting or "creating the version")  # fmt: skip
        return Observation.true(SUCCEEDED, "Trained", f"{last.job} produced {made.version}")
    return Observation.unknown(SUCCEEDED, last.reason or last.phase, last.message or last.phase)


def _phase(succeeded: Observation, observed: Observed, last: RunOutcome | None) -> str:
    if last is not None and last.phase in ("Pending", "Running"):
        return last.phase
    if observed.scheduled and not observed.blocked:
        return "Scheduled"
    if succeeded.status == "True":
        return "Succeeded"
    if succeeded.status == "False":
        return "Failed"
    return "Running" if last else "Pending"


def _run(run: RunOutcome, produced: Produced | None) -> dict[str, Any]:
    decision = (produced.decision or {}).get("decision", "") if produced else ""
    found: dict[str, Any] = {"job": run.job, "phase": run.phase}
    if run.scheduled_time:
        found["scheduledTime"] = run.scheduled_time
    if produced or run.produced:
        found["version"] = produced.version if produced else run.produced
    reason = decision or (run.reason if run.phase == "Failed" else "")
    if reason:
        found["reason"] = reason
    message = ((produced.decision or {}).get("reason") if produced else "") or (
        run.message if run.phase == "Failed" else ""
    )
    if message:
        found["message"] = str(message)[:500]
    return found


def _trial(trial: TrialRecord, run: RunOutcome | None) -> dict[str, Any]:
    found: dict[str, Any] = {
        "number": trial.number,
        "state": trial.state,
        "parameters": trial.parameters,
    }
    if trial.metric is not None:
        found["metric"] = trial.metric
    if run:
        found["job"] = run.job
        if run.result and run.result.artifact_uri:
            found["artifact"] = run.result.artifact_uri
        if trial.state == "Failed":
            found["message"] = f"{run.reason}: {run.message}"[:300]
    return found


def training_status(
    observed: Observed, current: dict[str, Any], generation: int, now: str, history: int
) -> dict[str, Any]:
    """The whole status; ``history`` bounds the runs listed. A single run or a schedule
    shows its newest run; a search shows its trials and, once over, its best trial's."""
    active = next((r for r in observed.runs if not r.finished), None)
    finished = [r for r in observed.runs if r.finished]
    if observed.trials is None:
        shown = active or (finished[0] if finished else None)
    else:
        best = _trial_run(observed.runs, observed.best_trial)
        shown = active or best or (finished[0] if finished else None)
    succeeded = _succeeded(observed, shown)
    status: dict[str, Any] = {
        "phase": _phase(succeeded, observed, active),
        "observedGeneration": generation,
    }
    if shown is not None and shown.start_time:
        status["startTime"] = shown.start_time
    if shown is not None and shown.completion_time:
        status["completionTime"] = shown.completion_time
    if shown is not None and shown.phase == "Failed":
        status["reason"] = shown.reason
        status["message"] = shown.message[:2000]
    made = next((observed.produced[r.job] for r in finished if r.job in observed.produced), None)
    if made is not None:
        status["version"] = made.version
        result = next((r.result for r in observed.runs if r.job == made.run and r.result), None)
        if result is not None:
            status["metrics"] = result.metrics
        if made.decision:
            status["promotion"] = made.decision
    if observed.scheduled:
        runs = [_run(r, observed.produced.get(r.job)) for r in observed.runs]
        status["runs"] = runs[: 2 * history]
        if observed.last_schedule_time:
            status["lastScheduleTime"] = observed.last_schedule_time
    if observed.trials is not None:
        status["trials"] = [_trial(t, _trial_run(observed.runs, t.number)) for t in observed.trials]
        if observed.best_trial is not None:
            status["bestTrial"] = observed.best_trial
    conditions = [succeeded]
    if observed.scheduled:
        conditions.append(Observation.true(SCHEDULED, "CronJobApplied", "runs on its schedule"))
    return status | {
        "conditions": merge(current.get("conditions") or [], conditions, generation, now)
    }


def _trial_run(runs: list[RunOutcome], number: int | None) -> RunOutcome | None:
    if number is None:
        return None
    return next((r for r in runs if r.job.endswith(f"-t{number}")), None)
