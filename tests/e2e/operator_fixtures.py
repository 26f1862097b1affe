"""Fixtures of the operator's end-to-end tests (test_operator_*.py), registered for the
whole suite by tests/conftest.py.

``operator`` installs the Helm chart with the locally built images (``make images``) and
the CRDs generated from the typed API, once per session, as the instance ``e2e``: it
serves only the tests' namespaces, so another install on the same cluster (the demo's)
and this one never act on the same objects. ``MODELOPS_E2E_OPERATOR=local`` runs the
operator as a process on this machine instead (quick iteration on its code; the chart is
then not under test). ``storage_secret`` gives a test namespace the S3 Secret the
predictor pods read.
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

from tests.e2e.conftest import REPO_ROOT, S3, Cluster, _unavailable, require_image_on_node
from tests.e2e.operator_support import (
    INSTANCE,
    MISSING_IMAGE,
    OPERATOR_IMAGE,
    OPERATOR_NAMESPACE,
    RELEASE,
    STORAGE_SECRET,
)


def helm_binary() -> str:
    found = sorted(Path.home().glob(".cache/modelops/helm-*/bin/helm")) or [shutil.which("helm")]
    if not found or found[-1] is None:
        _unavailable("helm not found (make cluster-binaries)")
    return str(found[-1])


def run_with_kubeconfig(cmd: list[str], kubeconfig: Path) -> str:
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
    run_with_kubeconfig(
        ["kubectl", "apply", "--server-side", "--force-conflicts", "-f", str(REPO_ROOT / "crds")],
        cluster.kubeconfig,
    )
    runtimes = {"dev": runtime_image, "missing": MISSING_IMAGE}
    if os.environ.get("MODELOPS_E2E_OPERATOR") == "local":
        yield from _local_operator(cluster, runtimes)
        return
    require_image_on_node(cluster, OPERATOR_IMAGE)
    wait_namespace_gone_if_terminating(cluster, OPERATOR_NAMESPACE)
    helm = helm_binary()
    # Two replicas: kopf peering lets one act (test_operator_installs.py checks it).
    operator = {"image": OPERATOR_IMAGE, "replicas": 2}
    values = {"instance": INSTANCE, "operator": operator, "runtimes": runtimes}
    with tempfile.NamedTemporaryFile("w", suffix=".json") as file:
        json.dump(values, file)
        file.flush()
        chart = str(REPO_ROOT / "charts" / "modelops")
        install = [helm, "upgrade", "--install", RELEASE, chart, "--namespace",
                   OPERATOR_NAMESPACE, "--create-namespace", "--skip-crds", "--values", file.name,
                   "--wait", "--timeout", "180s"]  # fmt: skip
        run_with_kubeconfig(install, cluster.kubeconfig)
    yield "chart"
    # Another session (a parallel `make test`) may have uninstalled it already.
    run_with_kubeconfig([helm, "uninstall", RELEASE, "--namespace", OPERATOR_NAMESPACE, "--wait",
          "--ignore-not-found"], cluster.kubeconfig)  # fmt: skip
    run_with_kubeconfig(["kubectl", "delete", "namespace", OPERATOR_NAMESPACE, "--ignore-not-found",
          "--wait=false"], cluster.kubeconfig)  # fmt: skip


def wait_namespace_gone_if_terminating(cluster: Cluster, name: str) -> None:
    """A previous session's teardown may still be deleting the operator's namespace."""
    _wait_namespace(cluster, name, lambda found: found.status.phase != "Terminating")


def wait_namespace_gone(cluster: Cluster, name: str) -> None:
    _wait_namespace(cluster, name, lambda found: False)


def _wait_namespace(cluster: Cluster, name: str, settled: Callable[[Any], bool]) -> None:
    from tests.e2e.kube import wait_for

    def check() -> bool:
        try:
            found = cluster.core.read_namespace(name)
        except client.exceptions.ApiException as err:
            if err.status == 404:
                return True
            raise
        return settled(found)

    wait_for(check, timeout=180, what=f"namespace {name} to be settled")


def _local_operator(cluster: Cluster, runtimes: dict[str, str]) -> Iterator[str]:
    env = {
        **os.environ,
        "KUBECONFIG": str(cluster.kubeconfig),
        "MODELOPS_RUNTIMES": json.dumps(runtimes),
        "MODELOPS_DEFAULT_RUNTIME": "dev",
        "MODELOPS_STORAGE_SECRET": STORAGE_SECRET,
        "MODELOPS_INSTANCE": INSTANCE,
        "MODELOPS_PEERING": "",
        "MODELOPS_LIVENESS_PORT": "18089",
        "MODELOPS_METRICS_PORT": "0",  # no pod to scrape: the monitoring tests need the chart
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
