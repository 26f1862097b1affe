"""What the watches show, kept in kopf's in-memory indexes, and which namespaces are ours.

The indexes hold every object of their kind, ours or not: a namespace's label may arrive
after its objects (see ``namespaces``). kopf hands the same index objects to every
handler; they are bound once at start-up into ``KNOWN``, which the reconcile entries
read.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import kopf

from modelops_operator import names
from modelops_operator.api import GROUP, MODEL, MODEL_VERSION, TRAINING_JOB, VERSION
from modelops_operator.conditions import READY, is_true
from modelops_operator.model.status import VersionSummary
from modelops_operator.modelversion.status import ACTIVE
from modelops_operator.settings import Settings
from modelops_operator.sync import Key, first

SETTINGS = Settings.from_env()
MODEL_VERSIONS = (GROUP, VERSION, MODEL_VERSION.plural)
MODELS = (GROUP, VERSION, MODEL.plural)
TRAINING_JOBS = (GROUP, VERSION, TRAINING_JOB.plural)
MANAGED: dict[str, Any] = {names.MANAGED_BY: names.MANAGER}
OF_A_VERSION = {**MANAGED, names.VERSION_LABEL: kopf.PRESENT}
OF_A_MODEL = {**MANAGED, names.MODEL_LABEL: kopf.PRESENT, names.VERSION_LABEL: kopf.ABSENT}
OF_A_TRAINING_JOB = {**MANAGED, names.TRAINING_JOB_LABEL: kopf.PRESENT}
PRIVATE_SLICES = {**OF_A_VERSION, names.SLICE_MANAGED_BY: "endpointslice-controller.k8s.io"}
ACTIVATOR_SLICES = {names.SERVICE_NAME_LABEL: SETTINGS.activator_service}

Bodies = kopf.Index[Key, dict[str, Any]]


# --- which namespaces this install serves --------------------------------------------


@kopf.index("v1", "namespaces")
def namespace_instances(*, name: str, labels: kopf.Labels, **_: Any) -> object:
    return {name: labels.get(names.INSTANCE_LABEL, "")}


def ours(*, namespace: str | None, namespace_instances: kopf.Index[str, str], **_: Any) -> bool:
    if not SETTINGS.acts_in(namespace or ""):
        return False
    label = first(namespace_instances, namespace or "")
    return label is not None and SETTINGS.serves(label)


# --- the indexes ------------------------------------------------------------------------


def _body(body: kopf.Body) -> dict[str, Any]:
    return {k: body.get(k) for k in ("apiVersion", "kind", "metadata", "spec", "status")}


@kopf.index(*MODEL_VERSIONS)
def model_versions(*, namespace: str, name: str, body: kopf.Body, **_: Any) -> object:
    return {(namespace, name): _body(body)}


@kopf.index(*MODEL_VERSIONS)
def versions_of_models(*, namespace: str, name: str, body: kopf.Body, **_: Any) -> object:
    if body.metadata.get("deletionTimestamp"):  # going away: never chosen to serve
        return None
    conditions = list(body.status.get("conditions") or [])
    held = body.metadata.labels.get(names.PROMOTION_LABEL) in ("rejected", "pending")
    summary = VersionSummary(
        name,
        str(body.metadata.creation_timestamp),
        is_true(conditions, READY),
        eligible=not held,
        decision=_decision(body),
        active=is_true(conditions, ACTIVE),
        resource_version=str(body.metadata.get("resourceVersion") or ""),
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


@kopf.index("discovery.k8s.io", "v1", "endpointslices", labels=PRIVATE_SLICES)
def private_slices(*, namespace: str, labels: kopf.Labels, body: kopf.Body, **_: Any) -> object:
    """The slices Kubernetes keeps of a version's pods (its private Service)."""
    return {(namespace, labels[names.VERSION_LABEL]): {"endpoints": body.get("endpoints")}}


@kopf.index("v1", "endpoints", labels=MANAGED)
def our_endpoints(*, namespace: str, name: str, body: kopf.Body, **_: Any) -> object:
    """The Endpoints the operator writes for its routed Services."""
    return {(namespace, name): dict(body)}


@kopf.index("discovery.k8s.io", "v1", "endpointslices", labels=ACTIVATOR_SLICES)
def activator_slices(*, namespace: str, body: kopf.Body, **_: Any) -> object:
    if namespace != SETTINGS.operator_namespace:
        return None
    return {"activator": {"endpoints": body.get("endpoints")}}


@kopf.index(*TRAINING_JOBS)
def training_jobs(*, namespace: str, name: str, body: kopf.Body, **_: Any) -> object:
    return {(namespace, name): _body(body)}


@kopf.index("batch", "v1", "jobs", labels=OF_A_TRAINING_JOB)
def training_runs(*, namespace: str, labels: kopf.Labels, body: kopf.Body, **_: Any) -> object:
    return {(namespace, labels[names.TRAINING_JOB_LABEL]): dict(body)}


@kopf.index("v1", "pods", labels=OF_A_TRAINING_JOB)
def training_pods(*, namespace: str, labels: kopf.Labels, body: kopf.Body, **_: Any) -> object:
    slim = {"metadata": dict(body.metadata), "status": dict(body.status)}
    return {(namespace, labels[names.TRAINING_JOB_LABEL]): slim}


@kopf.index("batch", "v1", "cronjobs", labels=OF_A_TRAINING_JOB)
def training_schedules(*, namespace: str, name: str, body: kopf.Body, **_: Any) -> object:
    return {(namespace, name): dict(body)}


@kopf.index(*MODEL_VERSIONS, labels={names.TRAINING_JOB_LABEL: kopf.PRESENT})
def trained_versions(*, namespace: str, labels: kopf.Labels, body: kopf.Body, **_: Any) -> object:
    return {(namespace, labels[names.TRAINING_JOB_LABEL]): {"metadata": dict(body.metadata)}}


# --- bound once, read by every reconcile entry ------------------------------------------


@dataclass(frozen=True)
class Indexes:
    namespace_instances: kopf.Index[str, str]
    model_versions: Bodies
    versions_of_models: kopf.Index[Key, VersionSummary]
    models: Bodies
    deployments: Bodies
    services: Bodies
    predictor_pods: Bodies
    private_slices: Bodies
    our_endpoints: Bodies
    activator_slices: kopf.Index[str, dict[str, Any]]
    training_jobs: Bodies
    training_runs: Bodies
    training_pods: Bodies
    training_schedules: Bodies
    trained_versions: Bodies


class Known:
    """The indexes, once kopf has made them (before any watch starts)."""

    def __init__(self) -> None:
        self._indexes: Indexes | None = None

    def bind(self, indexes: Indexes) -> None:
        self._indexes = indexes

    @property
    def indexes(self) -> Indexes:
        if self._indexes is None:
            raise RuntimeError("the indexes are bound at start-up, before any handler runs")
        return self._indexes


KNOWN = Known()


@kopf.on.startup()
def bind_indexes(
    *, namespace_instances: kopf.Index[str, str], model_versions: Bodies,
    versions_of_models: kopf.Index[Key, VersionSummary],
    models: Bodies, deployments: Bodies, services: Bodies, predictor_pods: Bodies,
    private_slices: Bodies, our_endpoints: Bodies,
    activator_slices: kopf.Index[str, dict[str, Any]], training_jobs: Bodies,
    training_runs: Bodies, training_pods: Bodies, training_schedules: Bodies,
    trained_versions: Bodies, **_: Any,
) -> None:  # fmt: skip
    KNOWN.bind(Indexes(
        namespace_instances, model_versions, versions_of_models, models, deployments, services,
        predictor_pods,
        private_slices, our_endpoints, activator_slices, training_jobs, training_runs,
        training_pods, training_schedules, trained_versions,
    ))  # fmt: skip
