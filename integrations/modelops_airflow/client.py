"""The operators' I/O: the project's own API module (``modelops_operator.kube``) and the
CLI's readers, talking through the client of an Airflow Kubernetes connection."""

from __future__ import annotations

import json
import threading
from typing import Any

from modelops_cli import resources
from modelops_operator import kube
from modelops_operator.api import API_VERSION, MODEL, MODEL_VERSION, TRAINING_JOB
from modelops_operator.names import PROMOTION_DECISION, PROMOTION_LABEL

FIELD_MANAGER = "modelops-airflow"
KINDS = {k.kind: k for k in (MODEL, MODEL_VERSION, TRAINING_JOB)}
_hooks: dict[str, Any] = {}
_lock = threading.Lock()


def connect(conn_id: str) -> str:
    """Use the connection's API client in this thread; its namespace (or ``default``)."""
    from airflow.providers.cncf.kubernetes.hooks.kubernetes import KubernetesHook

    with _lock:
        hook = _hooks.get(conn_id)
        if hook is None:
            hook = _hooks[conn_id] = KubernetesHook(conn_id=conn_id)
        api_client = hook.api_client
    kube.use_client(api_client)
    return str(hook.get_namespace() or "default")


def read(conn_id: str, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
    connect(conn_id)
    return kube.get(resources.ref(KINDS[kind], namespace, name))


def apply(obj: dict[str, Any]) -> dict[str, Any]:
    """Server-side apply under our own field manager, without force: a field another
    manager owns (a GitOps tool, a person) is a conflict the task reports, never an
    overwrite."""
    ref = kube.Ref.of(obj)
    try:
        return kube.request(
            "PATCH",
            ref.path(),
            obj,
            "application/apply-patch+yaml",
            {"fieldManager": FIELD_MANAGER},
        )
    except kube.KubeError as err:
        if err.status == 409:
            raise kube.KubeError(
                409,
                (
                    f"{ref.kind} {ref.name} in namespace {ref.namespace} is managed elsewhere: "
                    f"{err.message}; change it there, or give the task another name"
                ),
            ) from err
        raise


def create(obj: dict[str, Any]) -> bool:
    """Create an object written once (a ModelVersion); False when it exists already (a
    retried task)."""
    return kube.create(obj)


def ensure_model(namespace: str, model: str) -> bool:
    """Create the Model (with the defaults) if it is missing, as ``train submit`` does."""
    if resources.get_model(namespace, model) is not None:
        return False
    resources.create(resources.manifest(MODEL, namespace, model, {}))
    return True


def get_model(namespace: str, model: str) -> dict[str, Any] | None:
    return resources.get_model(namespace, model)


def get_version(namespace: str, name: str) -> dict[str, Any] | None:
    return resources.get_version(namespace, name)


def label_version(namespace: str, name: str, label: str, decision: dict[str, Any]) -> None:
    """Let the gate's decision take effect: the label the Model's rule reads, and the
    decision recorded beside it (as the operator records its own)."""
    patch: dict[str, Any] = {"metadata": {"labels": {PROMOTION_LABEL: label}}}
    if decision:
        patch["metadata"]["annotations"] = {
            PROMOTION_DECISION: json.dumps(decision, sort_keys=True)
        }
    path = kube.Ref(API_VERSION, MODEL_VERSION.kind, namespace, name).path()
    kube.merge_patch(path, patch)
