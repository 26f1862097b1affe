"""The TrainingJob recipe: spec → a Job (once), a CronJob (a schedule) or trial Jobs (a
search) → each successful run becomes a ModelVersion, through the promotion gate.

Jobs are written once (their pod template is immutable), the CronJob is applied like any
child, and a produced version is created once: it belongs to the Model, not to the
TrainingJob, so deleting the TrainingJob keeps what it trained.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from modelops_contracts.training import TrainingResult
from modelops_operator import kube, names
from modelops_operator.api import MODEL, TRAINING_JOB
from modelops_operator.api.schema import parse
from modelops_operator.api.trainingjob import Hyperparameters, TrainingJobSpec
from modelops_operator.conditions import Observation, changes, find
from modelops_operator.meta import Owner
from modelops_operator.outcome import Blocked, Outcome, apply_child, utc_now
from modelops_operator.settings import Settings
from modelops_operator.trainingjob.builders import (
    Baseline,
    TrainerInputs,
    cron_job,
    job,
    produced_version,
    workers_service,
)
from modelops_operator.trainingjob.promotion import Decision, Serving, decide
from modelops_operator.trainingjob.runs import RunOutcome, outcome
from modelops_operator.trainingjob.status import SUCCEEDED, Observed, Produced, training_status
from modelops_operator.trainingjob.tuning import (
    FAILED,
    RUNNING,
    TrialRecord,
    best,
    suggest,
)
from modelops_operator.trainingjob.tuning import (
    SUCCEEDED as TRIAL_SUCCEEDED,
)


@dataclass(frozen=True)
class Known:
    """What the watches show of a TrainingJob's world."""

    body: Mapping[str, Any]
    jobs: list[dict[str, Any]] = field(default_factory=list)
    pods: list[dict[str, Any]] = field(default_factory=list)
    cron_job: dict[str, Any] | None = None
    model: Mapping[str, Any] | None = None
    serving: Mapping[str, Any] | None = None
    """The ModelVersion a run must beat (see ``version_to_beat``)."""
    produced: list[dict[str, Any]] = field(default_factory=list)
    """The ModelVersions this TrainingJob's runs produced."""


def version_to_beat(
    serving: Mapping[str, Any] | None, produced: list[Mapping[str, Any]]
) -> Mapping[str, Any] | None:
    """The version a run is compared with: the one serving the Model, unless this job's
    gate promoted a newer one that will serve once it is Ready. Two runs that overlap (a
    schedule whose run outlasts its period) must not both pass against the older one."""

    def created(version: Mapping[str, Any]) -> tuple[str, str]:
        meta = version["metadata"]
        return str(meta.get("creationTimestamp") or ""), str(meta["name"])

    coming = [
        v for v in produced
        if (v["metadata"].get("labels") or {}).get(names.PROMOTION_LABEL) == "promoted"
        and (v.get("status") or {}).get("phase") != "Failed"
        and (serving is None or created(v) > created(serving))
    ]  # fmt: skip
    return max(coming, key=created) if coming else serving


def reconcile_training(known: Known, settings: Settings) -> Outcome:
    outcome_ = Outcome()
    body = known.body
    owner = Owner.of(TRAINING_JOB.kind, dict(body))
    spec = parse(TrainingJobSpec, body.get("spec"))
    current = dict(body.get("status") or {})
    cancelled = names.CANCEL_ANNOTATION in (body["metadata"].get("annotations") or {})
    inputs, blocked = _inputs(owner, spec, body, known, settings)
    runs = _runs(known.jobs, known.pods)
    produced = _produced(known.produced)
    trials: list[TrialRecord] | None = None
    search_failed = ""
    try:
        if inputs is not None and spec.schedule:
            cron = cron_job(inputs)
            if known.cron_job is None and spec.workers > 1:
                _create(workers_service(inputs), outcome_)
            if cancelled:
                cron["spec"]["suspend"] = True
            apply_child(cron, known.cron_job, outcome_)
        elif inputs is not None and spec.hyperparameters:
            trials, search_failed = _search(inputs, spec.hyperparameters, runs, cancelled, outcome_)
        elif inputs is not None and not known.jobs and not cancelled:
            _start(inputs, job(inputs, owner.name), outcome_)
    except Blocked as err:
        blocked = Observation.false(SUCCEEDED, err.reason, err.message)
    if cancelled:
        _stop(runs, owner.namespace, outcome_)
    waiting = Producer(owner, spec, known, outcome_).produce(runs, trials, produced)
    best_trial = best(spec.hyperparameters, trials) if spec.hyperparameters and trials else None
    observed = Observed(
        runs=runs,
        produced=produced,
        blocked=blocked,
        scheduled=spec.schedule is not None and blocked is None,
        last_schedule_time=_last_schedule(known.cron_job),
        trials=trials,
        best_trial=best_trial.number if best_trial else None,
        search_failed=search_failed,
        waiting=waiting,
    )
    generation = int(body["metadata"].get("generation") or 0)
    history = spec.schedule.history_limit if spec.schedule else 3
    wanted = training_status(observed, current, generation, utc_now(), history)
    _note_runs(current, wanted, outcome_)
    outcome_.status = changes(current, wanted)
    return outcome_


def _inputs(
    owner: Owner,
    spec: TrainingJobSpec,
    body: Mapping[str, Any],
    known: Known,
    settings: Settings,
) -> tuple[TrainerInputs | None, Observation | None]:
    runtime = spec.runtime_version or settings.default_runtime
    image = settings.runtimes.get(runtime)
    if image is None:
        choices = ", ".join(sorted(settings.runtimes))
        why = f"runtimeVersion {runtime!r} is not one of: {choices}"
        return None, Observation.false(SUCCEEDED, "UnknownRuntimeVersion", why)
    output = spec.output or settings.model_store
    if not output:
        why = "set spec.output, or the operator's model store (chart value storage.modelStore)"
        return None, Observation.false(SUCCEEDED, "NoModelStore", why)
    serving = known.serving
    baseline = None
    if serving is not None:
        uri = str(((serving.get("spec") or {}).get("artifact") or {}).get("uri") or "")
        baseline = Baseline(str(serving["metadata"]["name"]), uri) if uri else None
    created = str(body["metadata"].get("creationTimestamp") or "")
    run_date = "" if spec.schedule else (spec.run_date or created)
    return TrainerInputs(
        owner, spec, image, output, run_date, baseline,
        settings.storage_secret, settings.image_pull_policy, settings.package_index,
    ), None  # fmt: skip


def _last_schedule(cron: dict[str, Any] | None) -> str:
    return str(((cron or {}).get("status") or {}).get("lastScheduleTime") or "")


def _runs(jobs: list[dict[str, Any]], pods: list[dict[str, Any]]) -> list[RunOutcome]:
    """Every run (Job) of the TrainingJob, newest first."""
    by_job: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for pod in pods:
        by_job[((pod.get("metadata") or {}).get("labels") or {}).get(names.JOB_NAME_LABEL, "")
               ].append(pod)  # fmt: skip
    found = [outcome(j, by_job[j["metadata"]["name"]]) for j in jobs]
    created = {j["metadata"]["name"]: str(j["metadata"].get("creationTimestamp") or "")
               for j in jobs}  # fmt: skip
    return sorted(found, key=lambda r: (r.scheduled_time or created[r.job], r.job), reverse=True)


def _produced(versions: list[dict[str, Any]]) -> dict[str, Produced]:
    found = {}
    for version in versions:
        meta = version["metadata"]
        run = (meta.get("labels") or {}).get(names.RUN_LABEL)
        if not run:
            continue
        raw = (meta.get("annotations") or {}).get(names.PROMOTION_DECISION)
        decision = json.loads(raw) if raw else None
        found[run] = Produced(str(meta["name"]), run, decision)
    return found


def _start(inputs: TrainerInputs, manifest: dict[str, Any], outcome_: Outcome) -> None:
    """A run's Job; with several workers, their headless Service first (created once)."""
    if inputs.spec.workers > 1:
        _create(workers_service(inputs), outcome_)
    if _create(manifest, outcome_):
        outcome_.note("RunStarted", f"started Job {manifest['metadata']['name']}")


def _create(manifest: dict[str, Any], outcome_: Outcome) -> bool:
    """Create a child written once (False: it exists); a refusal blocks the run."""
    kind, name = manifest["kind"], manifest["metadata"]["name"]
    try:
        return kube.create(manifest)
    except kube.KubeError as err:
        if err.transient:
            raise
        raise Blocked("ApplyRefused", f"the API server refused {kind} {name}: {err}") from err


def _stop(runs: list[RunOutcome], namespace: str, outcome_: Outcome) -> None:
    """Cancelled: suspend the runs still going (the Job controller stops their pods)."""
    for run in runs:
        if not run.finished:
            kube.suspend_job(kube.Ref("batch/v1", "Job", namespace, run.job))
            outcome_.note("RunCancelled", f"stopped Job {run.job}")


def _search(
    inputs: TrainerInputs,
    search: Hyperparameters,
    runs: list[RunOutcome],
    cancelled: bool,
    outcome_: Outcome,
) -> tuple[list[TrialRecord], str]:
    """The trials so far (from their Jobs), and new ones up to parallelTrials."""
    trials = [_trial_record(run, search) for run in runs if run.parameters]
    trials.sort(key=lambda t: t.number)
    failed = sum(t.state == FAILED for t in trials)
    allowed = search.max_failed_trials if search.max_failed_trials is not None else (
        search.max_trials)  # fmt: skip
    if failed > allowed:
        return trials, f"{failed} trials failed, more than maxFailedTrials ({allowed})"
    running = sum(t.state == RUNNING for t in trials)
    if not cancelled:
        for trial in suggest(search, trials, search.parallel_trials - running):
            name = names.trial_job(inputs.owner.name, trial.number)
            _start(inputs, job(inputs, name, trial.parameters), outcome_)
            trials.append(trial)
    over = len(trials) >= search.max_trials and all(t.state != RUNNING for t in trials)
    if over and best(search, trials) is None:
        return trials, "no trial succeeded"
    return trials, ""


def _trial_record(run: RunOutcome, search: Hyperparameters) -> TrialRecord:
    number = int(run.job.rsplit("-t", 1)[1])
    if not run.finished:
        return TrialRecord(number, RUNNING, run.parameters)
    metric = run.result.metrics.get(search.metric) if run.result else None
    if run.phase == "Succeeded" and metric is not None:
        return TrialRecord(number, TRIAL_SUCCEEDED, run.parameters, metric)
    return TrialRecord(number, FAILED, run.parameters)


@dataclass
class Producer:
    """Turns successful runs into versions, once each, through the gate."""

    owner: Owner
    spec: TrainingJobSpec
    known: Known
    outcome: Outcome

    def produce(
        self,
        runs: list[RunOutcome],
        trials: list[TrialRecord] | None,
        produced: dict[str, Produced],
    ) -> str:
        """Create the version of each successful run that has none yet (of a search: the
        best trial's, once the search is over). Returns why it must wait, if it must."""
        candidates = [r for r in runs if r.phase == "Succeeded" and r.result is not None]
        search = self.spec.hyperparameters
        if search is not None and trials is not None:
            if any(p.version == self.owner.name for p in produced.values()) or any(
                r.produced for r in runs
            ):
                return ""
            over = len(trials) >= search.max_trials and all(t.state != RUNNING for t in trials)
            winner = best(search, trials) if over else None
            candidates = [
                r for r in candidates if winner and r.job == names.trial_job(
                    self.owner.name, winner.number)
            ]  # fmt: skip
        for run in reversed(candidates):  # oldest first
            if run.job in produced and not run.produced:  # made before runs were marked
                self.mark(run.job, produced[run.job].version)
            if run.job in produced or run.produced:  # made once (and maybe deleted since)
                continue
            if self.known.model is None:
                return f"the Model {self.spec.model} does not exist: create it to get the version"
            assert run.result is not None
            version = self.owner.name if search is not None else run.job
            decision = self.decision(version, run.result)
            self.create_version(run, run.result, version, decision)
            produced[run.job] = Produced(version, run.job,
                                         decision.as_status() if decision else None)  # fmt: skip
        return ""

    def decision(self, version: str, result: TrainingResult) -> Decision | None:
        if self.spec.promotion is None:
            return None
        model = self.known.model or {}
        pin = (model.get("spec") or {}).get("defaultVersion")
        serving = None
        if self.known.serving is not None:
            metrics = (self.known.serving.get("status") or {}).get("metrics") or {}
            serving = Serving(str(self.known.serving["metadata"]["name"]),
                              {str(k): float(v) for k, v in metrics.items()})  # fmt: skip
        return decide(self.spec.promotion, version, result, serving, pin)

    def create_version(
        self, run: RunOutcome, result: TrainingResult, version: str, decision: Decision | None
    ) -> None:
        assert self.known.model is not None
        artifact = {"uri": result.artifact_uri}
        if result.sha256:
            artifact["sha256"] = result.sha256
        if result.format:
            artifact["format"] = result.format
        manifest = produced_version(
            Owner.of(MODEL.kind, dict(self.known.model)),
            name=version,
            training_job=self.owner.name,
            run=run.job,
            artifact=artifact,
            runtime_version=self.spec.runtime_version,
            promotion=decision.label if decision else "",
        )
        if decision is not None:
            manifest["metadata"]["annotations"] = {
                names.PROMOTION_DECISION: json.dumps(decision.as_status(), sort_keys=True)
            }
        if kube.create(manifest):
            self.outcome.note("VersionCreated", f"{run.job} produced ModelVersion {version}")
            if decision is not None:
                self.outcome.note(decision.decision, f"{version}: {decision.reason}",
                                  warning=decision.decision == "Rejected")  # fmt: skip
        self.mark(run.job, version)

    def mark(self, job: str, version: str) -> None:
        """Note on the run's Job that it made ``version``, for good."""
        ref = kube.Ref("batch/v1", "Job", self.owner.namespace, job)
        kube.annotate(ref, {names.PRODUCED_VERSION: version})


def _note_runs(current: dict[str, Any], wanted: dict[str, Any], outcome_: Outcome) -> None:
    old = find(current.get("conditions") or [], SUCCEEDED) or {}
    new = find(wanted.get("conditions") or [], SUCCEEDED) or {}
    if (old.get("status"), old.get("reason")) != (new.get("status"), new.get("reason")):
        if new.get("status") == "False":
            outcome_.note(str(new.get("reason")), str(new.get("message")), warning=True)
        elif new.get("status") == "True":
            outcome_.note("Succeeded", str(new.get("message")))
