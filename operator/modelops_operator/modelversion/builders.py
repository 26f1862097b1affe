"""A ModelVersion's children: the Deployment that verifies and serves its artifact, and
the version's own Service (pure functions from the spec to manifests)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from modelops_contracts.serving import (
    API_KEYS_DIR_ENV,
    AUTH_MODE_ENV,
    AUTH_RESOURCE_ENV,
    AUTH_REVIEWER_ENV,
    CACHE_DIR_ENV,
    PVC_ROOT_ENV,
    Route,
)
from modelops_operator import names
from modelops_operator.api.common import Predictor
from modelops_operator.api.model import Auth
from modelops_operator.api.modelversion import ModelVersionSpec
from modelops_operator.endpoints import routed_service
from modelops_operator.meta import Owner, metadata, service
from modelops_operator.pods import (
    RUNTIME_COMMAND,
    TERMINATION_LOG,
    container_security,
    env,
    pod_security,
    resources,
    storage_env_from,
)

MODEL_DIR = "/models"
CACHE_DIR = "/cache"
PVC_ROOT = "/mnt/pvc"
API_KEYS_DIR = "/etc/modelops/api-keys"
"""Where a ``pvc://CLAIM/PATH`` artifact's claim is mounted (read-only) for the fetch step;
the runtime reads ``MODELOPS_PVC_ROOT``."""
FETCH_CONTAINER = "fetch"
PREDICTOR_CONTAINER = "predictor"


@dataclass(frozen=True)
class PredictorInputs:
    """Everything the Deployment depends on."""

    owner: Owner
    spec: ModelVersionSpec
    predictor: Predictor
    image: str
    replicas: int
    storage_secret: str = ""
    image_pull_policy: str = "IfNotPresent"
    auth: Auth | None = None
    """The Model's: who may call predict (the predictor itself checks)."""
    verified: Verified | None = None
    """Set when pods may serve the artifact without the fetch step (see ``light_wake``)."""
    reviewer: str = ""
    """kubernetes auth: the URL that decides on callers' tokens (the activator's review
    route), so the predictor's pod holds no Kubernetes credential."""


@dataclass(frozen=True)
class Verified:
    """What the fetch step verified of the artifact, as the version's status records it."""

    sha256: str
    format: str = ""
    """Passed on so the predictor imports the framework that format needs while the
    artifact downloads (XGBoost's own files need no scikit-learn), even where the URI is
    a folder that does not name it."""


def light_wake(
    status: dict[str, Any], current: dict[str, Any] | None, wanted: int
) -> Verified | None:
    """What pods may serve the artifact as without the fetch step, or None.

    A version's first pods fetch, verify and test-load its artifact in an init step that
    reports the verdict. That costs a second load of the model (and seconds of every cold
    start) once the verdict is recorded, so afterwards the predictor alone serves the
    artifact pinned to the verified sha256, and reports a refusal itself. The switch
    changes the pod template, so it happens only when no pod would be replaced: the
    Deployment is at (or going to) zero, or already runs this way.
    """
    sha256 = str(status.get("sha256") or "")
    if not sha256 or current is None:
        return None
    template = ((current.get("spec") or {}).get("template") or {}).get("spec") or {}
    already = not template.get("initContainers")
    at_zero = wanted == 0 or not int((current.get("spec") or {}).get("replicas") or 0)
    if not (already or at_zero):
        return None
    return Verified(sha256, str(status.get("format") or ""))


def merge_predictor(version: Predictor | None, model: Predictor | None) -> Predictor:
    """The version's predictor settings, each unset field taken from the Model's."""
    if version is None:
        return model or Predictor()
    if model is None:
        return version
    overrides = {
        f.name: getattr(version, f.name)
        for f in dataclasses.fields(Predictor)
        if getattr(version, f.name) not in (None, ())
    }
    return dataclasses.replace(model, **overrides)


def replicas(predictor: Predictor, served_once: bool, decided: int | None = None) -> int:
    """Pods to run: the autoscaler's decision when it made one, else the fewest allowed.
    A version still starts one pod until it has been Ready once, so a bad artifact or
    image is found at once, not on the first request (Knative's initial scale)."""
    fewest = 1 if predictor.min_replicas is None else predictor.min_replicas
    wanted = fewest if decided is None else decided
    return wanted if wanted or served_once else 1


def claim_of(uri: str) -> str | None:
    """The PersistentVolumeClaim a ``pvc://CLAIM/PATH`` URI names."""
    if not uri.startswith("pvc://"):
        return None
    return urlparse(uri).netloc or None


def fetch_args(spec: ModelVersionSpec) -> list[str]:
    args = ["fetch", spec.artifact.uri, "--dest", MODEL_DIR, "--termination-log", TERMINATION_LOG]
    if spec.artifact.sha256:
        args += ["--sha256", spec.artifact.sha256]
    if spec.artifact.format:
        args += ["--format", spec.artifact.format]
    if spec.allow_version_mismatch:
        args.append("--allow-version-mismatch")
    return args


def serve_args(inputs: PredictorInputs) -> list[str]:
    """The predictor serves what the fetch step placed, or, on a light wake, the artifact
    itself pinned to its verified sha256."""
    light = inputs.verified
    args = [
        "serve", inputs.spec.artifact.uri if light else f"{MODEL_DIR}/model",
        "--name", inputs.spec.model,
        "--version", inputs.owner.name,
        "--host", "0.0.0.0",
        "--port", str(names.HTTP_PORT),
        "--termination-log", TERMINATION_LOG,
    ]  # fmt: skip
    if light:
        args += ["--sha256", light.sha256]
        artifact_format = inputs.spec.artifact.format or light.format
        if artifact_format:
            args += ["--format", artifact_format]
    if inputs.predictor.method:
        args += ["--method", inputs.predictor.method]
    if inputs.predictor.max_batch_size:
        args += ["--max-batch-size", str(inputs.predictor.max_batch_size)]
    if inputs.spec.allow_version_mismatch:
        args.append("--allow-version-mismatch")
    return args


def _probe(path: str, period: int, failures: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": "http"},
        "periodSeconds": period,
        "failureThreshold": failures,
    }


def _container(inputs: PredictorInputs, name: str, args: list[str]) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": name,
        "image": inputs.image,
        "imagePullPolicy": inputs.image_pull_policy,
        "command": RUNTIME_COMMAND,
        "args": args,
        "env": [{"name": CACHE_DIR_ENV, "value": CACHE_DIR}],
        "volumeMounts": [
            {"name": "model", "mountPath": MODEL_DIR},
            {"name": "cache", "mountPath": CACHE_DIR},
        ],
        "securityContext": container_security(),
    }
    wanted = resources(inputs.predictor.resources)
    if wanted:
        container["resources"] = wanted
    if inputs.storage_secret:
        container["envFrom"] = storage_env_from(inputs.storage_secret)
    return container


def _reads_artifact(container: dict[str, Any], spec: ModelVersionSpec) -> dict[str, Any]:
    """The container that reads the artifact mounts a ``pvc://`` artifact's claim."""
    claim = claim_of(spec.artifact.uri)
    if claim:
        container["env"].append({"name": PVC_ROOT_ENV, "value": PVC_ROOT})
        container["volumeMounts"].append(
            {"name": "artifact-claim", "mountPath": f"{PVC_ROOT}/{claim}", "readOnly": True}
        )
    return container


def fetch_container(inputs: PredictorInputs) -> dict[str, Any]:
    return _reads_artifact(
        _container(inputs, FETCH_CONTAINER, fetch_args(inputs.spec)), inputs.spec
    )


def _volumes(spec: ModelVersionSpec) -> list[dict[str, Any]]:
    volumes: list[dict[str, Any]] = [
        {"name": "model", "emptyDir": {}},
        {"name": "cache", "emptyDir": {}},
    ]
    claim = claim_of(spec.artifact.uri)
    if claim:
        volumes.append(
            {
                "name": "artifact-claim",
                "persistentVolumeClaim": {"claimName": claim, "readOnly": True},
            }
        )
    return volumes


def _auth_env(inputs: PredictorInputs) -> list[dict[str, str]]:
    mode = inputs.auth.mode if inputs.auth else "none"
    found = [{"name": AUTH_MODE_ENV, "value": mode}]
    if mode == "apiKey":
        found.append({"name": API_KEYS_DIR_ENV, "value": API_KEYS_DIR})
    if mode == "kubernetes":
        resource = f"{inputs.owner.namespace}/{inputs.spec.model}"
        found.append({"name": AUTH_RESOURCE_ENV, "value": resource})
        found.append({"name": AUTH_REVIEWER_ENV, "value": inputs.reviewer})
    return found


def predictor_container(inputs: PredictorInputs) -> dict[str, Any]:
    container = _container(inputs, PREDICTOR_CONTAINER, serve_args(inputs))
    # The user's variables first: where a name repeats, the last wins, and it is ours.
    container["env"] = env(inputs.predictor.env) + container["env"] + _auth_env(inputs)
    if inputs.auth and inputs.auth.mode == "apiKey":
        container["volumeMounts"].append(
            {"name": "api-keys", "mountPath": API_KEYS_DIR, "readOnly": True}
        )
    container["ports"] = [{"name": "http", "containerPort": names.HTTP_PORT, "protocol": "TCP"}]
    container["readinessProbe"] = _probe("/v2/health/ready", period=2, failures=2)
    container["livenessProbe"] = _probe("/v2/health/live", period=10, failures=3)
    container["startupProbe"] = _probe("/v2/health/live", period=1, failures=120)
    return _reads_artifact(container, inputs.spec) if inputs.verified else container


def _pod(inputs: PredictorInputs) -> dict[str, Any]:
    """The pod: no API access (kubernetes auth asks the activator to review tokens)."""
    volumes = _volumes(inputs.spec)
    pod: dict[str, Any] = {
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": pod_security(),
        "initContainers": [] if inputs.verified else [fetch_container(inputs)],
        "containers": [predictor_container(inputs)],
        "volumes": volumes,
    }
    # Drain: readiness fails at once, answers go on until traffic stops (≤ 15 s), then
    # what is held finishes (≤ 20 s): the runtime's defaults, with a margin.
    pod["terminationGracePeriodSeconds"] = 40
    mode = inputs.auth.mode if inputs.auth else "none"
    if mode == "apiKey" and inputs.auth and inputs.auth.secret_name:
        volumes.append({"name": "api-keys", "secret": {"secretName": inputs.auth.secret_name}})
    return pod


def scrape_annotations() -> dict[str, str]:
    """Where a Prometheus that discovers pods by annotation scrapes the predictor
    (docs/monitoring.md); the chart's PodMonitor selects the same pods by label."""
    return {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": str(names.HTTP_PORT),
        "prometheus.io/path": "/metrics",
    }


def deployment(inputs: PredictorInputs) -> dict[str, Any]:
    spec = inputs.spec
    selector = names.version_labels(spec.model, inputs.owner.name)
    pod_labels = {**spec.labels, **names.child_labels(spec.model, inputs.owner.name)}
    pod_labels[names.COMPONENT] = names.PREDICTOR
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(
            inputs.owner,
            names.predictor(inputs.owner.name),
            names.child_labels(spec.model, inputs.owner.name),
        ),
        "spec": {
            "replicas": inputs.replicas,
            "selector": {"matchLabels": selector},
            "progressDeadlineSeconds": 600,
            "template": {
                "metadata": {"labels": pod_labels, "annotations": scrape_annotations()},
                "spec": _pod(inputs),
            },
        },
    }


def private_service(owner: Owner, model: str) -> dict[str, Any]:
    """The Service that selects the version's own pods; Kubernetes keeps its endpoints."""
    return service(
        owner,
        names.private_service(owner.name),
        names.child_labels(model, owner.name),
        names.version_labels(model, owner.name),
    )


def version_service(owner: Owner, model: str, auth: str = "none") -> dict[str, Any]:
    """The version's public Service (its URL): no selector; its endpoints are the pods
    while some are ready, else the activator, which wakes the version."""
    return routed_service(
        owner,
        names.predictor(owner.name),
        names.child_labels(model, owner.name),
        [Route(owner.name, 100)],
        auth,
    )
