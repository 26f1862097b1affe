"""A TrainingJob's children, pure functions from the spec to manifests: the Job of a run
(or of a trial), the CronJob of a schedule, and the ModelVersion a run produces."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from modelops_contracts import training as contract
from modelops_operator import names
from modelops_operator.api import API_VERSION, MODEL_VERSION
from modelops_operator.api.trainingjob import TrainingJobSpec
from modelops_operator.meta import Owner, metadata
from modelops_operator.pods import (
    RUNTIME_COMMAND,
    TERMINATION_LOG,
    container_security,
    env,
    pod_security,
    resources,
    storage_env_from,
)

WORK_DIR = "/work"
MODEL_DIR = f"{WORK_DIR}/model"
TRAINER_CONTAINER = "trainer"
COLLECT_CONTAINER = "collect"
PARAMETERS_ANNOTATION = f"{names.TRAINING_JOB_LABEL}-parameters"
COMPLETION_INDEX = "batch.kubernetes.io/job-completion-index"
"""Set by the Job controller on an Indexed Job's pods: the worker's rank."""
INDEX_FAILURES = "batch.kubernetes.io/job-index-failure-count"
"""Set on the pods of a Job with backoffLimitPerIndex: earlier failures of that index."""


@dataclass(frozen=True)
class Baseline:
    """The version serving now, which the evaluation hook scores beside the candidate."""

    version: str
    uri: str


@dataclass(frozen=True)
class TrainerInputs:
    """Everything a training Job depends on."""

    owner: Owner
    spec: TrainingJobSpec
    image: str
    """The runtime image (the trainer entrypoint, and the code's frameworks)."""
    output: str
    """Store prefix; the model goes to <output>/<namespace>/<model>/<run>/."""
    run_date: str = ""
    """The run's time for a single run; a scheduled run derives it from its Job's name."""
    baseline: Baseline | None = None
    storage_secret: str = ""
    image_pull_policy: str = "IfNotPresent"
    package_index: tuple[str, ...] = ()
    """The operator's index for trainer packages (then extra ones), when the spec names none."""


def labels(inputs: TrainerInputs) -> dict[str, str]:
    return {
        **names.child_labels(inputs.spec.model),
        names.TRAINING_JOB_LABEL: inputs.owner.name,
        names.COMPONENT: names.TRAINER,
    }


def _contract_env(inputs: TrainerInputs) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = [
        {
            "name": contract.JOB_NAME,
            "valueFrom": {"fieldRef": {"fieldPath": f"metadata.labels['{names.JOB_NAME_LABEL}']"}},
        },
        {"name": contract.MODEL_NAME, "value": inputs.spec.model},
        {"name": contract.VERSION_NAME, "value": f"$({contract.JOB_NAME})"},
        {"name": contract.MODEL_DIR, "value": MODEL_DIR},
        {"name": contract.METRICS_FILE, "value": f"{WORK_DIR}/metrics.json"},
        {"name": contract.HYPERTUNE_FILE, "value": f"{WORK_DIR}/hypertune/output.metrics"},
        {"name": "MODELOPS_CACHE_DIR", "value": f"{WORK_DIR}/cache"},
        {"name": "HOME", "value": WORK_DIR},
        {"name": "TMPDIR", "value": f"{WORK_DIR}/tmp"},
    ]
    if inputs.run_date:
        found.append({"name": contract.RUN_DATE, "value": inputs.run_date})
    else:  # a scheduled run: its time is in its Job's name (<cronjob>-<minutes>)
        found.append({"name": contract.SCHEDULE_NAME, "value": inputs.owner.name})
    if inputs.baseline:
        found += [
            {"name": contract.BASELINE_VERSION, "value": inputs.baseline.version},
            {"name": contract.BASELINE_URI, "value": inputs.baseline.uri},
        ]
    if inputs.spec.workers > 1:
        found += _worker_env(inputs)
    return found + env(inputs.spec.env)


def _annotation(name: str) -> dict[str, Any]:
    return {"valueFrom": {"fieldRef": {"fieldPath": f"metadata.annotations['{name}']"}}}


def _worker_env(inputs: TrainerInputs) -> list[dict[str, Any]]:
    """A worker's place in the group (its Job completion index), the group's size, and
    where rank 0's tracker listens: ``<job>-0.<service>``, the pod name the Indexed Job
    gives index 0 under the headless Service."""
    tracker = f"$({contract.JOB_NAME})-0.{names.training_workers(inputs.owner.name)}"
    return [
        {"name": contract.RANK, **_annotation(COMPLETION_INDEX)},
        {"name": contract.WORLD_SIZE, "value": str(inputs.spec.workers)},
        {"name": contract.ATTEMPT, **_annotation(INDEX_FAILURES)},
        {"name": contract.TRACKER_HOST, "value": tracker},
        {"name": contract.TRACKER_PORT, "value": str(contract.TRACKER_BASE_PORT)},
        {"name": contract.POD_IP, "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
    ]


def _container(inputs: TrainerInputs, name: str, image: str) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": name,
        "image": image,
        "imagePullPolicy": inputs.image_pull_policy,
        "env": _contract_env(inputs),
        "volumeMounts": [{"name": "work", "mountPath": WORK_DIR}],
        "securityContext": container_security(),
        # A container that dies without writing its result still says why (its log's end).
        "terminationMessagePolicy": "FallbackToLogsOnError",
    }
    wanted = resources(inputs.spec.resources)
    if wanted:
        container["resources"] = wanted
    if inputs.storage_secret:
        container["envFrom"] = storage_env_from(inputs.storage_secret)
    return container


def entrypoint_args(inputs: TrainerInputs, parameters: dict[str, str]) -> list[str]:
    """The runtime's trainer entrypoint: install and run the package (or collect what an
    image's trainer wrote), then upload the model and report."""
    spec = inputs.spec
    # The namespace in the path: two teams' TrainingJobs of the same names (and one
    # operator's store) must never write the same keys.
    owner = inputs.owner
    output = f"{inputs.output.rstrip('/')}/{owner.namespace}/{spec.model}/$({contract.JOB_NAME})/"
    args = ["train", "--output", output, "--termination-log", TERMINATION_LOG,
            "--work-dir", WORK_DIR]  # fmt: skip
    # Recorded as the run's hyperparameters; the trainer receives them as --name=value.
    recorded = contract.hyperparameter_options(parameters)
    if spec.image:
        return [*args, *recorded, "--collect"]
    args += ["--package", str(spec.package), "--module", str(spec.module)]
    index = package_index(spec, inputs.package_index)
    if index:
        args += ["--index-url", index[0]]
        args += [arg for extra in index[1:] for arg in ("--extra-index-url", extra)]
    if spec.evaluation_hook:
        args += ["--evaluation-hook", spec.evaluation_hook]
    return [*args, *recorded, "--", *spec.args]


def package_index(spec: TrainingJobSpec, operators: tuple[str, ...]) -> tuple[str, ...]:
    """The index a package's dependencies resolve from, then extra ones: the spec's, else
    the operator's; empty for pip's own default."""
    if spec.package_index:
        return (spec.package_index.url, *spec.package_index.extra_urls)
    return operators


def pod_spec(inputs: TrainerInputs, parameters: dict[str, str]) -> dict[str, Any]:
    spec = inputs.spec
    main = _container(inputs, TRAINER_CONTAINER, inputs.image)
    main |= {"command": RUNTIME_COMMAND, "args": entrypoint_args(inputs, parameters)}
    init: list[dict[str, Any]] = []
    if spec.image:  # the user's image trains first; the runtime then collects its model
        user = _container(inputs, TRAINER_CONTAINER, spec.image)
        # --job-dir first, as the seed-era service passed it; then the user's arguments.
        args = ["--job-dir", MODEL_DIR, *spec.args, *contract.hyperparameter_args(parameters)]
        user |= {"command": list(spec.command), "args": args}
        init = [user]
        main["name"] = COLLECT_CONTAINER
    pod: dict[str, Any] = {
        "restartPolicy": "Never",
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": pod_security(),
        "containers": [main],
        "volumes": [{"name": "work", "emptyDir": {}}],
    }
    if init:
        pod["initContainers"] = init
    if spec.workers > 1:  # the pods' DNS names, <job>-<index>.<service>
        pod["subdomain"] = names.training_workers(inputs.owner.name)
    return pod


def job_spec(inputs: TrainerInputs, parameters: dict[str, str]) -> dict[str, Any]:
    found: dict[str, Any] = {
        "backoffLimit": inputs.spec.backoff_limit,
        "template": {
            "metadata": {"labels": labels(inputs)},
            "spec": pod_spec(inputs, parameters),
        },
    }
    workers = inputs.spec.workers
    if workers > 1:
        # One worker lost breaks the collective for all: each index fails once per lost
        # attempt, so a per-index limit of backoffLimit retries the whole group that many
        # times, and the first index past it fails the run (and stops the other pods).
        del found["backoffLimit"]
        found |= {
            "completionMode": "Indexed",
            "completions": workers,
            "parallelism": workers,
            "backoffLimitPerIndex": inputs.spec.backoff_limit,
            "maxFailedIndexes": 0,
        }
    if inputs.spec.active_deadline_seconds:
        found["activeDeadlineSeconds"] = inputs.spec.active_deadline_seconds
    return found


def job(
    inputs: TrainerInputs, name: str, parameters: dict[str, str] | None = None
) -> dict[str, Any]:
    """The Job of one run, or of one trial (with its hyperparameters)."""
    meta = metadata(inputs.owner, name, labels(inputs))
    if parameters is not None:
        meta["annotations"] = {PARAMETERS_ANNOTATION: json.dumps(parameters, sort_keys=True)}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": meta,
        "spec": job_spec(inputs, parameters or {}),
    }


def workers_service(inputs: TrainerInputs) -> dict[str, Any]:
    """The headless Service under which a distributed run's workers find rank 0's tracker
    by DNS (``<job>-0.<service>``), ready or not: the tracker must be found before any
    worker is ready. One per TrainingJob: its runs, trials and scheduled runs share it."""
    # Not labelled with the Model: the Model's own Service watch has nothing to do here.
    service_labels = {names.MANAGED_BY: names.MANAGER, names.TRAINING_JOB_LABEL: inputs.owner.name}
    name = names.training_workers(inputs.owner.name)
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(inputs.owner, name, service_labels),
        "spec": {
            "clusterIP": "None",
            "publishNotReadyAddresses": True,
            "selector": {
                names.TRAINING_JOB_LABEL: inputs.owner.name,
                names.COMPONENT: names.TRAINER,
            },
            "ports": [{"name": "tracker", "port": contract.TRACKER_BASE_PORT}],
        },
    }


def cron_job(inputs: TrainerInputs) -> dict[str, Any]:
    """The CronJob of a schedule: never two runs at once; finished runs kept for logs."""
    schedule = inputs.spec.schedule
    assert schedule is not None
    spec: dict[str, Any] = {
        "schedule": schedule.cron,
        "concurrencyPolicy": "Forbid",
        "successfulJobsHistoryLimit": schedule.history_limit,
        "failedJobsHistoryLimit": schedule.history_limit,
        "jobTemplate": {
            "metadata": {"labels": labels(inputs)},
            "spec": job_spec(inputs, {}),
        },
    }
    if schedule.time_zone:
        spec["timeZone"] = schedule.time_zone
    if schedule.starting_deadline_seconds:
        spec["startingDeadlineSeconds"] = schedule.starting_deadline_seconds
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": metadata(inputs.owner, inputs.owner.name, labels(inputs)),
        "spec": spec,
    }


def produced_version(
    model: Owner,
    *,
    name: str,
    training_job: str,
    run: str,
    artifact: dict[str, str],
    runtime_version: str | None,
    promotion: str = "",
) -> dict[str, Any]:
    """The ModelVersion a successful run becomes: owned by its Model (deleting the
    TrainingJob keeps it), labelled with the job, the run and the gate's decision."""
    version_labels = {
        names.MANAGED_BY: names.MANAGER,
        names.TRAINING_JOB_LABEL: training_job,
        names.RUN_LABEL: run,
    }
    if promotion:
        version_labels[names.PROMOTION_LABEL] = promotion
    spec: dict[str, Any] = {"model": model.name, "artifact": artifact}
    if runtime_version:
        spec["runtimeVersion"] = runtime_version
    return {
        "apiVersion": API_VERSION,
        "kind": MODEL_VERSION.kind,
        "metadata": metadata(model, name, version_labels),
        "spec": spec,
    }
