"""Names and labels of everything the operator creates, in one place."""

from __future__ import annotations

from modelops_contracts import serving
from modelops_operator.api import GROUP

MODEL_LABEL = serving.MODEL_LABEL
MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGER = "modelops"
VERSION_LABEL = f"{GROUP}/version"
COMPONENT = "app.kubernetes.io/component"
PREDICTOR = "predictor"
HTTP_PORT = 8080
SERVICE_PORT = 80


def predictor(version: str) -> str:
    """The Deployment and the Service of one ModelVersion."""
    return f"{version}-predictor"


def private_service(version: str) -> str:
    """The Service that selects one version's pods: Kubernetes keeps its EndpointSlices
    (the pods' addresses and readiness), which the operator and the activator read."""
    return f"{predictor(version)}-private"


def model_service(model: str) -> str:
    """The Service whose selector follows the Model's serving version."""
    return model


def version_labels(model: str, version: str) -> dict[str, str]:
    """Labels that select the pods of one version (a Service selector)."""
    return {MODEL_LABEL: model, VERSION_LABEL: version}


def child_labels(model: str, version: str | None = None) -> dict[str, str]:
    """Labels on every object the operator creates for a Model or a version."""
    labels = {MANAGED_BY: MANAGER, MODEL_LABEL: model}
    if version:
        labels[VERSION_LABEL] = version
    return labels


def predict_url(service: str, namespace: str, model: str, domain: str) -> str:
    return f"http://{service}.{namespace}.svc.{domain}/v1/models/{model}:predict"


INSTANCE_LABEL = f"{GROUP}/instance"
"""On a namespace: the name of the modelops install that serves it (unset: the default)."""


TRAINING_JOB_LABEL = f"{GROUP}/trainingjob"
"""On a training Job, its pods and the version it produced: the TrainingJob's name."""
RUN_LABEL = f"{GROUP}/run"
"""On a produced version: the Job (the run) that trained it."""
PROMOTION_LABEL = f"{GROUP}/promotion"
"""On a produced version: promoted, rejected or pending; only promoted (or unlabelled)
versions may serve by the Model's rule."""
PROMOTION_DECISION = f"{GROUP}/promotion-decision"
PRODUCED_VERSION = f"{GROUP}/produced-version"
"""On a run's Job: the version it made. A version is made once per run, so one deleted
since (by retention, by a person) is never made again."""
"""Annotation on a produced version: the gate's decision with both numbers (JSON)."""
TRAINER = "trainer"
JOB_NAME_LABEL = "batch.kubernetes.io/job-name"
"""Set by the Job controller on its pods."""


def training_workers(training_job: str) -> str:
    """The headless Service of a TrainingJob's workers (several workers per run)."""
    return f"{training_job}-workers"


def trial_job(training_job: str, number: int) -> str:
    """The Job of trial ``number`` of a search."""
    return f"{training_job}-t{number}"


SERVICE_NAME_LABEL = "kubernetes.io/service-name"
SLICE_MANAGED_BY = "endpointslice.kubernetes.io/managed-by"
CANCEL_ANNOTATION = f"{TRAINING_JOB_LABEL}-cancel"
"""Set on a TrainingJob (``modelops train cancel``): no new run starts, the active ones
stop, and a schedule is suspended."""
