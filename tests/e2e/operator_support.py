"""Shared fixtures and helpers of the operator's end-to-end tests (test_operator_*.py).

``operator`` installs the Helm chart with the locally built images (``make images``) and
the CRDs generated from the typed API, once per session. ``MODELOPS_E2E_OPERATOR=local``
runs the operator as a process on this machine instead (quick iteration on its code; the
chart is then not under test). ``storage_secret`` gives a test namespace the S3 Secret
the predictor pods read.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from tests.e2e.conftest import REPO_ROOT, S3, Cluster, _unavailable, require_image_on_node
from tests.e2e.kube import describe_namespace, wait_for
from tests.models import Trained

GROUP, VERSION = "modelops.dev", "v1alpha1"
OPERATOR_NAMESPACE = "modelops-e2e"
RELEASE = "modelops-e2e"
OPERATOR_IMAGE = os.environ.get("MODELOPS_OPERATOR_IMAGE", "localhost/modelops-operator:dev")
MISSING_IMAGE = "localhost/modelops-runtime:does-not-exist"
STORAGE_SECRET = "modelops-storage"
READY_TIMEOUT = 240


def _helm() -> str:
    found = sorted(Path.home().glob(".cache/modelops/helm-*/bin/helm")) or [shutil.which("helm")]
    if not found or found[-1] is None:
        _unavailable("helm not found (make cluster-binaries)")
    return str(found[-1])


def _run(cmd: list[str], kubeconfig: Path) -> str:
    done = subprocess.run(
        cmd, capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, "KUBECONFIG": str(kubeconfig)},
    )  # fmt: skip
    if done.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


@pytest.fixture(scope="session")
def kube_env(cluster: Cluster) -> Iterator[None]:
    """Point the operator's API module (used by the CLI helpers) at the test cluster."""
    old = os.environ.get("KUBECONFIG")
    os.environ["KUBECONFIG"] = str(cluster.kubeconfig)
    yield
    if old is None:
        os.environ.pop("KUBECONFIG", None)
    else:
        os.environ["KUBECONFIG"] = old


@pytest.fixture(scope="session")
def operator(cluster: Cluster, runtime_image: str, kube_env: None) -> Iterator[str]:
    _run(
        ["kubectl", "apply", "--server-side", "--force-conflicts", "-f", str(REPO_ROOT / "crds")],
        cluster.kubeconfig,
    )
    runtimes = {"dev": runtime_image, "missing": MISSING_IMAGE}
    if os.environ.get("MODELOPS_E2E_OPERATOR") == "local":
        yield from _local_operator(cluster, runtimes)
        return
    require_image_on_node(cluster, OPERATOR_IMAGE)
    helm = _helm()
    values = {"operator": {"image": OPERATOR_IMAGE, "resyncSeconds": 1}, "runtimes": runtimes}
    with tempfile.NamedTemporaryFile("w", suffix=".json") as file:
        json.dump(values, file)
        file.flush()
        chart = str(REPO_ROOT / "charts" / "modelops")
        _run([helm, "upgrade", "--install", RELEASE, chart, "--namespace", OPERATOR_NAMESPACE,
              "--create-namespace", "--skip-crds", "--values", file.name,
              "--wait", "--timeout", "180s"], cluster.kubeconfig)  # fmt: skip
    yield "chart"
    # Another session (a parallel `make test`) may have uninstalled it already.
    _run([helm, "uninstall", RELEASE, "--namespace", OPERATOR_NAMESPACE, "--wait",
          "--ignore-not-found"], cluster.kubeconfig)  # fmt: skip
    _run(["kubectl", "delete", "namespace", OPERATOR_NAMESPACE, "--ignore-not-found",
          "--wait=false"], cluster.kubeconfig)  # fmt: skip


def _local_operator(cluster: Cluster, runtimes: dict[str, str]) -> Iterator[str]:
    env = {
        **os.environ,
        "KUBECONFIG": str(cluster.kubeconfig),
        "MODELOPS_RUNTIMES": json.dumps(runtimes),
        "MODELOPS_DEFAULT_RUNTIME": "dev",
        "MODELOPS_STORAGE_SECRET": STORAGE_SECRET,
        "MODELOPS_RESYNC_SECONDS": "1",
        "MODELOPS_PEERING": "",
        "MODELOPS_LIVENESS_PORT": "18089",
    }
    log = tempfile.NamedTemporaryFile("w", prefix="modelops-operator-", suffix=".log", delete=False)  # noqa: SIM115
    process = subprocess.Popen(
        [sys.executable, "-m", "modelops_operator"], env=env, stdout=log, stderr=log
    )
    yield f"local (log: {log.name})"
    process.terminate()
    process.wait(timeout=30)
    log.close()


@pytest.fixture
def storage_secret(cluster: Cluster, namespace: str, s3: S3) -> str:
    cluster.core.create_namespaced_secret(
        namespace,
        client.V1Secret(metadata=client.V1ObjectMeta(name=STORAGE_SECRET), string_data=s3.env),
    )
    return STORAGE_SECRET


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
