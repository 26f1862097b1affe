"""kopf registrations: indexes of what exists, and one reconcile entry per resource.

A reconcile runs when its object changes (create, update, resume), when one of its
children changes (their watch events: a pod became ready, a Deployment was deleted or
edited), and on a slow safety resync. Each reads what it needs from the in-memory
indexes fed by the watches, so a steady state costs no API call and no write.
Every handler acts only in the namespaces this install serves (``Settings.serves``);
the indexes hold everything, so a namespace that becomes ours (created just before its
objects, or labelled later) is reconciled from them at once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import kopf

from modelops_operator import names
from modelops_operator.api import GROUP, MODEL, MODEL_VERSION, TRAINING_JOB, VERSION
from modelops_operator.conditions import READY, is_true
from modelops_operator.model.reconcile import reconcile_model
from modelops_operator.model.status import VersionSummary
from modelops_operator.modelversion.reconcile import reconcile_version
from modelops_operator.settings import Settings
from modelops_operator.sync import Key, deliver, first, retried, serialized
from modelops_operator.trainingjob.reconcile import Known, reconcile_training

SETTINGS = Settings.from_env()
MODEL_VERSIONS = (GROUP, VERSION, MODEL_VERSION.plural)
MODELS = (GROUP, VERSION, MODEL.plural)
TRAINING_JOBS = (GROUP, VERSION, TRAINING_JOB.plural)
MANAGED: dict[str, Any] = {names.MANAGED_BY: names.MANAGER}
OF_A_VERSION = {**MANAGED, names.VERSION_LABEL: kopf.PRESENT}
OF_A_MODEL = {**MANAGED, names.MODEL_LABEL: kopf.PRESENT, names.VERSION_LABEL: kopf.ABSENT}
OF_A_TRAINING_JOB = {names.TRAINING_JOB_LABEL: kopf.PRESENT}

Bodies = kopf.Index[Key, dict[str, Any]]


# --- which namespaces this install serves --------------------------------------------


@kopf.index("v1", "namespaces")
def namespace_instances(*, name: str, labels: kopf.Labels, **_: Any) -> object:
    return {name: labels.get(names.INSTANCE_LABEL, "")}


def ours(*, namespace: str | None, namespace_instances: kopf.Index[str, str], **_: Any) -> bool:
    label = first(namespace_instances, namespace or "")
    return label is not None and SETTINGS.serves(label)


# --- indexes: the last known state of everything a reconcile reads --------------------
# (unfiltered: a namespace's label may arrive after its objects, see namespace_changed)


def _body(body: kopf.Body) -> dict[str, Any]:
    return {k: body.get(k) for k in ("apiVersion", "kind", "metadata", "spec", "status")}


@kopf.index(*MODEL_VERSIONS)
def model_versions(*, namespace: str, name: str, body: kopf.Body, **_: Any) -> object:
    return {(namespace, name): _body(body)}


@kopf.index(*MODEL_VERSIONS)
def versions_of_models(*, namespace: str, name: str, body: kopf.Body, **_: Any) -> object:
    if body.metadata.get("deletionTimestamp"):  # going away: never chosen to serve
        return None
    ready = is_true(list(body.status.get("conditions") or []), READY)
    held = body.metadata.labels.get(names.PROMOTION_LABEL) in ("rejected", "pending")
    summary = VersionSummary(
        name, str(body.metadata.creation_timestamp), ready, not held, _decision(body)
    )
    return {(namespace, str(body.spec.get("model"))): summary}


def _decision(body: kopf.Body) -> dict[str, Any] | None:
    raw = body.metadata.annotations.get(names.PROMOTION_DECISION)
    try:
        found = json.loads(raw) if raw else None
    except ValueError:
        return None
    return found if isinstance(found, dict) else None


@kopf.index(*MODELS)
def models(*, namespace: str, name: str, body: kopf.Body, **_: Any) -> object:
    return {(namespace, name): _body(body)}


@kopf.index("apps", "v1", "deployments", labels=MANAGED)
def deployments(*, namespace: str, name: str, body: kopf.Body, **_: Any) -> object:
    return {(namespace, name): dict(body)}


@kopf.index("v1", "services", labels=MANAGED)
def services(*, namespace: str, name: str, body: kopf.Body, **_: Any) -> object:
    return {(namespace, name): dict(body)}


@kopf.index("v1", "pods", labels={**OF_A_VERSION, names.COMPONENT: names.PREDICTOR})
def predictor_pods(*, namespace: str, labels: kopf.Labels, body: kopf.Body, **_: Any) -> object:
    return {(namespace, labels[names.VERSION_LABEL]): {"status": dict(body.status)}}


@kopf.index(*TRAINING_JOBS)
def training_jobs(*, namespace: str, name: str, body: kopf.Body, **_: Any) -> object:
    return {(namespace, name): _body(body)}


@kopf.index("batch", "v1", "jobs", labels={**MANAGED, **OF_A_TRAINING_JOB})
def training_runs(*, namespace: str, labels: kopf.Labels, body: kopf.Body, **_: Any) -> object:
    return {(namespace, labels[names.TRAINING_JOB_LABEL]): dict(body)}


@kopf.index("v1", "pods", labels={**MANAGED, **OF_A_TRAINING_JOB})
def training_pods(*, namespace: str, labels: kopf.Labels, body: kopf.Body, **_: Any) -> object:
    slim = {"metadata": dict(body.metadata), "status": dict(body.status)}
    return {(namespace, labels[names.TRAINING_JOB_LABEL]): slim}


@kopf.index("batch", "v1", "cronjobs", labels={**MANAGED, **OF_A_TRAINING_JOB})
def training_schedules(*, namespace: str, name: str, body: kopf.Body, **_: Any) -> object:
    return {(namespace, name): dict(body)}


@kopf.index(*MODEL_VERSIONS, labels=OF_A_TRAINING_JOB)
def trained_versions(*, namespace: str, labels: kopf.Labels, body: kopf.Body, **_: Any) -> object:
    return {(namespace, labels[names.TRAINING_JOB_LABEL]): {"metadata": dict(body.metadata)}}


# --- ModelVersion ---------------------------------------------------------------------


@dataclass(frozen=True)
class VersionIndexes:
    """What a ModelVersion's reconcile reads: itself, its Model, its children."""

    model_versions: Bodies
    models: Bodies
    deployments: Bodies
    services: Bodies
    predictor_pods: Bodies


def sync_version(namespace: str, name: str, known: VersionIndexes) -> None:
    body = first(known.model_versions, (namespace, name))
    if body is None or body["metadata"].get("deletionTimestamp"):
        return
    child = names.predictor(name)
    live = {
        "Deployment": first(known.deployments, (namespace, child)),
        "Service": first(known.services, (namespace, child)),
    }
    model = first(known.models, (namespace, str(body["spec"].get("model"))))
    pods = list(known.predictor_pods.get((namespace, name), []))
    with serialized((MODEL_VERSION.kind, namespace, name)):
        deliver(body, reconcile_version(body, live, pods, model, SETTINGS))


@kopf.on.resume(*MODEL_VERSIONS, when=ours)
@kopf.on.create(*MODEL_VERSIONS, when=ours)
@kopf.on.update(*MODEL_VERSIONS, when=ours)
@kopf.timer(*MODEL_VERSIONS, interval=SETTINGS.resync_seconds, when=ours)
def model_version(
    *, namespace: str, name: str, model_versions: Bodies, models: Bodies,
    deployments: Bodies, services: Bodies, predictor_pods: Bodies, **_: Any,
) -> None:  # fmt: skip
    known = VersionIndexes(model_versions, models, deployments, services, predictor_pods)
    retried(lambda: sync_version(namespace, name, known))


@kopf.on.event("apps", "v1", "deployments", labels=OF_A_VERSION, when=ours)
@kopf.on.event("v1", "services", labels=OF_A_VERSION, when=ours)
@kopf.on.event("v1", "pods", labels=OF_A_VERSION, when=ours)
def predictor_changed(
    *, namespace: str, labels: kopf.Labels, model_versions: Bodies, models: Bodies,
    deployments: Bodies, services: Bodies, predictor_pods: Bodies, **_: Any,
) -> None:  # fmt: skip
    known = VersionIndexes(model_versions, models, deployments, services, predictor_pods)
    version = labels[names.VERSION_LABEL]
    retried(lambda: sync_version(namespace, version, known), in_place=True)


# --- Model ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelIndexes:
    """What a Model's reconcile reads: itself, its versions, its Service."""

    models: Bodies
    versions_of_models: kopf.Index[Key, VersionSummary]
    services: Bodies


def sync_model(namespace: str, name: str, known: ModelIndexes) -> None:
    body = first(known.models, (namespace, name))
    if body is None or body["metadata"].get("deletionTimestamp"):
        return
    versions = list(known.versions_of_models.get((namespace, name), []))
    service = first(known.services, (namespace, names.model_service(name)))
    with serialized((MODEL.kind, namespace, name)):
        deliver(body, reconcile_model(body, versions, service, SETTINGS))


@kopf.on.resume(*MODELS, when=ours)
@kopf.on.create(*MODELS, when=ours)
@kopf.on.update(*MODELS, when=ours)
@kopf.timer(*MODELS, interval=SETTINGS.resync_seconds, when=ours)
def model(
    *, namespace: str, name: str, models: Bodies,
    versions_of_models: kopf.Index[Key, VersionSummary], services: Bodies, **_: Any,
) -> None:  # fmt: skip
    known = ModelIndexes(models, versions_of_models, services)
    retried(lambda: sync_model(namespace, name, known))


@kopf.on.event(*MODEL_VERSIONS, when=ours)
def version_changed(
    *, namespace: str, spec: kopf.Spec, models: Bodies,
    versions_of_models: kopf.Index[Key, VersionSummary], services: Bodies, **_: Any,
) -> None:  # fmt: skip
    known = ModelIndexes(models, versions_of_models, services)
    model_name = str(spec.get("model"))
    retried(lambda: sync_model(namespace, model_name, known), in_place=True)


@kopf.on.event("v1", "services", labels=OF_A_MODEL, when=ours)
def model_service_changed(
    *, namespace: str, labels: kopf.Labels, models: Bodies,
    versions_of_models: kopf.Index[Key, VersionSummary], services: Bodies, **_: Any,
) -> None:  # fmt: skip
    known = ModelIndexes(models, versions_of_models, services)
    model_name = labels[names.MODEL_LABEL]
    retried(lambda: sync_model(namespace, model_name, known), in_place=True)


# --- TrainingJob ------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainingIndexes:
    """What a TrainingJob's reconcile reads: itself, its Jobs, pods and CronJob, its Model
    and the version serving it, and the versions its runs produced."""

    training_jobs: Bodies
    training_runs: Bodies
    training_pods: Bodies
    training_schedules: Bodies
    models: Bodies
    model_versions: Bodies
    trained_versions: Bodies


def sync_training(namespace: str, name: str, known: TrainingIndexes) -> None:
    body = first(known.training_jobs, (namespace, name))
    if body is None or body["metadata"].get("deletionTimestamp"):
        return
    model = first(known.models, (namespace, str(body["spec"].get("model"))))
    serving_name = ((model or {}).get("status") or {}).get("servingVersion")
    serving = first(known.model_versions, (namespace, serving_name)) if serving_name else None
    world = Known(
        body=body,
        jobs=list(known.training_runs.get((namespace, name), [])),
        pods=list(known.training_pods.get((namespace, name), [])),
        cron_job=first(known.training_schedules, (namespace, name)),
        model=model,
        serving=serving,
        produced=list(known.trained_versions.get((namespace, name), [])),
    )
    with serialized((TRAINING_JOB.kind, namespace, name)):
        deliver(body, reconcile_training(world, SETTINGS))


@kopf.on.resume(*TRAINING_JOBS, when=ours)
@kopf.on.create(*TRAINING_JOBS, when=ours)
@kopf.on.update(*TRAINING_JOBS, when=ours)
@kopf.timer(*TRAINING_JOBS, interval=SETTINGS.resync_seconds, when=ours)
def training_job(
    *, namespace: str, name: str, training_jobs: Bodies, training_runs: Bodies,
    training_pods: Bodies, training_schedules: Bodies, models: Bodies, model_versions: Bodies,
    trained_versions: Bodies, **_: Any,
) -> None:  # fmt: skip
    known = TrainingIndexes(training_jobs, training_runs, training_pods, training_schedules,
                            models, model_versions, trained_versions)  # fmt: skip
    retried(lambda: sync_training(namespace, name, known))


@kopf.on.event("batch", "v1", "jobs", labels={**MANAGED, **OF_A_TRAINING_JOB}, when=ours)
@kopf.on.event("batch", "v1", "cronjobs", labels={**MANAGED, **OF_A_TRAINING_JOB}, when=ours)
@kopf.on.event("v1", "pods", labels={**MANAGED, **OF_A_TRAINING_JOB}, when=ours)
def training_run_changed(
    *, namespace: str, labels: kopf.Labels, training_jobs: Bodies, training_runs: Bodies,
    training_pods: Bodies, training_schedules: Bodies, models: Bodies, model_versions: Bodies,
    trained_versions: Bodies, **_: Any,
) -> None:  # fmt: skip
    known = TrainingIndexes(training_jobs, training_runs, training_pods, training_schedules,
                            models, model_versions, trained_versions)  # fmt: skip
    owner = labels[names.TRAINING_JOB_LABEL]
    retried(lambda: sync_training(namespace, owner, known), in_place=True)


# --- a namespace that becomes ours -----------------------------------------------------


@kopf.on.event("v1", "namespaces")
def namespace_changed(
    *, type: str | None, name: str, labels: kopf.Labels, model_versions: Bodies, models: Bodies,
    deployments: Bodies, services: Bodies, predictor_pods: Bodies,
    versions_of_models: kopf.Index[Key, VersionSummary], **_: Any,
) -> None:  # fmt: skip
    """A namespace created or relabelled: its objects may have arrived before it did, when
    ``ours`` could not yet tell whose they are. (The first listing is left to resume.)"""
    if type not in ("ADDED", "MODIFIED") or not SETTINGS.serves(
        labels.get(names.INSTANCE_LABEL, "")
    ):
        return
    versions = VersionIndexes(model_versions, models, deployments, services, predictor_pods)
    for namespace, version in [key for key in model_versions if key[0] == name]:
        retried(lambda: sync_version(namespace, version, versions), in_place=True)  # noqa: B023
    known = ModelIndexes(models, versions_of_models, services)
    for namespace, model_name in [key for key in models if key[0] == name]:
        retried(lambda: sync_model(namespace, model_name, known), in_place=True)  # noqa: B023
