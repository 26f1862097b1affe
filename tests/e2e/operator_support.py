"""Helpers of the operator's end-to-end tests (test_operator_*.py): objects, conditions,
artifacts and predictions. The fixtures (``operator``, ``storage_secret``) are in
conftest.py."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from tests.e2e.conftest import S3, Cluster
from tests.e2e.kube import describe_namespace, wait_for
from tests.models import Trained

GROUP, VERSION = "modelops.dev", "v1alpha1"
OPERATOR_NAMESPACE = "modelops-e2e"
RELEASE = "modelops-e2e"
INSTANCE = "e2e"  # the tests' namespaces are labelled for it (conftest.namespace)
OPERATOR_IMAGE = os.environ.get("MODELOPS_OPERATOR_IMAGE", "localhost/modelops-operator:dev")
MISSING_IMAGE = "localhost/modelops-runtime:does-not-exist"
STORAGE_SECRET = "modelops-storage"
READY_TIMEOUT = 240


# --- objects --------------------------------------------------------------------------


def custom(cluster: Cluster) -> client.CustomObjectsApi:
    return client.CustomObjectsApi(cluster.api)


def model_manifest(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Model",
        "metadata": {"name": name},
        "spec": spec,
    }


def version_manifest(
    name: str, model: str, uri: str, sha256: str = "", **spec: Any
) -> dict[str, Any]:
    artifact = {"uri": uri, **({"sha256": sha256} if sha256 else {})}
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "ModelVersion",
        "metadata": {"name": name},
        "spec": {"model": model, "artifact": artifact, **spec},
    }


def create(cluster: Cluster, namespace: str, manifest: dict[str, Any]) -> dict[str, Any]:
    plural = "models" if manifest["kind"] == "Model" else "modelversions"
    created: dict[str, Any] = custom(cluster).create_namespaced_custom_object(
        GROUP, VERSION, namespace, plural, manifest
    )
    return created


def get(cluster: Cluster, namespace: str, plural: str, name: str) -> dict[str, Any]:
    found: dict[str, Any] = custom(cluster).get_namespaced_custom_object(
        GROUP, VERSION, namespace, plural, name
    )
    return found


def version_exists(cluster: Cluster, namespace: str, name: str) -> bool:
    try:
        get(cluster, namespace, "modelversions", name)
    except ApiException as err:
        if err.status == 404:
            return False
        raise
    return True


def condition(obj: dict[str, Any], type_: str) -> dict[str, Any]:
    return next(
        (c for c in (obj.get("status") or {}).get("conditions") or [] if c["type"] == type_), {}
    )


def wait_condition(
    cluster: Cluster, namespace: str, plural: str, name: str, type_: str, status: str,
    reason: str | None = None, timeout: float = READY_TIMEOUT,
) -> dict[str, Any]:  # fmt: skip
    """Wait until the object's condition has this status (and reason); return the object."""

    def check() -> dict[str, Any] | None:
        obj = get(cluster, namespace, plural, name)
        found = condition(obj, type_)
        if found.get("status") == status and (reason is None or found.get("reason") == reason):
            return obj
        return None

    def diagnose() -> str:
        obj = get(cluster, namespace, plural, name)
        return (
            f"{plural}/{name} status: {json.dumps(obj.get('status'), indent=1)}\n"
            + describe_namespace(cluster.api, namespace)
        )

    what = f"{plural}/{name} {type_}={status}" + (f" ({reason})" if reason else "")
    return wait_for(check, timeout=timeout, what=what, diagnose=diagnose)


def ignore_missing(fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except ApiException as err:
        if err.status != 404:
            raise
        return None


# --- artifacts and predictions ------------------------------------------------------------


def upload(
    s3: S3, bucket: str, prefix: str, trained: Trained, metrics: dict[str, float] | None = None
) -> tuple[str, str]:
    """Upload the model file and its metadata.json under ``prefix``; (folder URI, sha256)."""
    from modelops_runtime.artifacts import write_metadata
    from modelops_runtime.storage import sha256_of

    s3_client = s3.client()
    s3_client.upload_file(str(trained.path), bucket, f"{prefix}/{trained.path.name}")
    with tempfile.TemporaryDirectory() as tmp:
        metadata = write_metadata(Path(tmp), "sklearn", metrics or {})
        s3_client.upload_file(str(metadata), bucket, f"{prefix}/metadata.json")
    return f"s3://{bucket}/{prefix}/", sha256_of(trained.path)


def predict(namespace: str, model: str, rows: list[Any], version: str | None = None) -> Any:
    """Predictions through the Model's Service (or a version's), via the API server proxy."""
    from modelops_cli.predict_command import predict as cli_predict

    return cli_predict(namespace, model, rows, version)
