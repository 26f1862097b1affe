"""TrainingJob: one reconcile entry, run on its own changes and on its runs'."""

from __future__ import annotations

from functools import partial
from typing import Any

import kopf

from modelops_operator import names
from modelops_operator.api import TRAINING_JOB
from modelops_operator.handlers.indexes import (
    KNOWN,
    MODELS,
    OF_A_TRAINING_JOB,
    SETTINGS,
    TRAINING_JOBS,
    ours,
)
from modelops_operator.sync import deliver, first, fresh, retried, serialized
from modelops_operator.trainingjob.reconcile import Known, reconcile_training, version_to_beat


def sync_training(namespace: str, name: str) -> None:
    with serialized((TRAINING_JOB.kind, namespace, name)):  # reads and writes, one at a time
        found = KNOWN.indexes
        body = first(found.training_jobs, (namespace, name))
        if body is None or body["metadata"].get("deletionTimestamp"):
            return
        body = fresh(body)
        model = first(found.models, (namespace, str(body["spec"].get("model"))))
        serving_name = ((model or {}).get("status") or {}).get("servingVersion")
        serving = first(found.model_versions, (namespace, serving_name)) if serving_name else None
        produced = list(found.trained_versions.get((namespace, name), []))
        full = [first(found.model_versions, (namespace, str(v["metadata"]["name"])))
                for v in produced]  # fmt: skip
        known = Known(
            body=body,
            jobs=list(found.training_runs.get((namespace, name), [])),
            pods=list(found.training_pods.get((namespace, name), [])),
            cron_job=first(found.training_schedules, (namespace, name)),
            model=model,
            serving=version_to_beat(serving, [v for v in full if v is not None]),
            produced=produced,
        )
        deliver(body, reconcile_training(known, SETTINGS))


@kopf.on.resume(*TRAINING_JOBS, when=ours)
@kopf.on.create(*TRAINING_JOBS, when=ours)
@kopf.on.update(*TRAINING_JOBS, when=ours)
@kopf.timer(*TRAINING_JOBS, interval=SETTINGS.resync_seconds, when=ours)
def training_job(*, namespace: str, name: str, **_: Any) -> None:
    retried(lambda: sync_training(namespace, name))


@kopf.on.event("batch", "v1", "jobs", labels=OF_A_TRAINING_JOB, when=ours)
@kopf.on.event("batch", "v1", "cronjobs", labels=OF_A_TRAINING_JOB, when=ours)
@kopf.on.event("v1", "pods", labels=OF_A_TRAINING_JOB, when=ours)
def training_run_changed(*, namespace: str, labels: kopf.Labels, **_: Any) -> None:
    owner = labels[names.TRAINING_JOB_LABEL]
    retried(lambda: sync_training(namespace, owner), in_place=True)


@kopf.on.event(*MODELS, when=ours)
def model_changed(*, namespace: str, name: str, **_: Any) -> None:
    """A run is compared with the Model's serving version: when that changes, the jobs
    that train the Model follow (a schedule's template names the version to beat)."""
    jobs = [
        job
        for (found_namespace, job), bodies in list(KNOWN.indexes.training_jobs.items())
        if found_namespace == namespace
        and any(body["spec"].get("model") == name for body in bodies)
    ]
    for job in jobs:
        retried(partial(sync_training, namespace, job), in_place=True)
