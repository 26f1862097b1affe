"""A ModelVersion's children: the Deployment that verifies and serves its artifact, and
the version's own Service (pure functions from the spec to manifests)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from modelops_operator import names
from modelops_operator.api.common import Predictor
from modelops_operator.api.modelversion import ModelVersionSpec
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


def replicas(predictor: Predictor, served_once: bool) -> int:
    """Pods to run. A version with ``minReplicas: 0`` still starts one pod until it has
    been Ready once, so a bad artifact or image is found at once, not on the first
    request (Knative's initial scale)."""
    wanted = 1 if predictor.min_replicas is None else predictor.min_replicas
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
    args = [
        "serve", f"{MODEL_DIR}/model",
        "--name", inputs.spec.model,
        "--version", inputs.owner.name,
        "--host", "0.0.0.0",
        "--port", str(names.HTTP_PORT),
    ]  # fmt: skip
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
        "env": [{"name": "MODELOPS_CACHE_DIR", "value": CACHE_DIR}],
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


def fetch_container(inputs: PredictorInputs) -> dict[str, Any]:
    container = _container(inputs, FETCH_CONTAINER, fetch_args(inputs.spec))
    claim = claim_of(inputs.spec.artifact.uri)
    if claim:
        container["env"].append({"name": "MODELOPS_PVC_ROOT", "value": PVC_ROOT})
        container["volumeMounts"].append(
            {"name": "artifact-claim", "mountPath": f"{PVC_ROOT}/{claim}", "readOnly": True}
        )
    return container


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


def predictor_container(inputs: PredictorInputs) -> dict[str, Any]:
    container = _container(inputs, PREDICTOR_CONTAINER, serve_args(inputs))
    container["env"] += env(inputs.predictor.env)
    container["ports"] = [{"name": "http", "containerPort": names.HTTP_PORT, "protocol": "TCP"}]
    container["readinessProbe"] = _probe("/v2/health/ready", period=2, failures=2)
    container["livenessProbe"] = _probe("/v2/health/live", period=10, failures=3)
    container["startupProbe"] = _probe("/v2/health/live", period=1, failures=120)
    return container


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
                "metadata": {"labels": pod_labels},
                "spec": {
                    "automountServiceAccountToken": False,
                    "enableServiceLinks": False,
                    "securityContext": pod_security(),
                    "initContainers": [fetch_container(inputs)],
                    "containers": [predictor_container(inputs)],
                    "volumes": _volumes(spec),
                },
            },
        },
    }


def version_service(owner: Owner, model: str) -> dict[str, Any]:
    """The Service of one ModelVersion (owned by it): its own pods only."""
    return service(
        owner,
        names.predictor(owner.name),
        names.child_labels(model, owner.name),
        names.version_labels(model, owner.name),
    )
