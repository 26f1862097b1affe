"""Fixtures of the operator's end-to-end tests, registered for the whole suite by
tests/conftest.py.

``operator`` installs the Helm chart with the locally built images (``make images``) and
the CRDs generated from the typed API, once per run (tests/e2e/run.py: the first worker
that needs it installs, the others reuse it), as the instance ``e2e``: it serves only the
tests' namespaces, so another install on the same cluster (the demo's) and this one never
act on the same objects. The run's end removes it. ``MODELOPS_E2E_OPERATOR=local`` runs the
operator as a process on this machine instead (quick iteration on its code; the chart is
then not under test). ``private_install`` gives a test an install of its own, for tests
that stop operator pods. ``storage_secret`` gives a test namespace the S3 Secret the
predictor pods read.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from tests.e2e.conftest import REPO_ROOT, S3, Cluster, _unavailable, require_image_on_node
from tests.e2e.kube import describe_namespace, wait_for
from tests.e2e.operator_support import (
    INSTANCE,
    MISSING_IMAGE,
    OPERATOR_IMAGE,
    OPERATOR_NAMESPACE,
    RELEASE,
    STORAGE_SECRET,
)
from tests.e2e.run import once

IMAGE_ANNOTATION = "modelops.dev/e2e-image"
BROKEN = {"CrashLoopBackOff", "ErrImagePull", "ImagePullBackOff", "ErrImageNeverPull",
          "CreateContainerError", "CreateContainerConfigError", "InvalidImageName"}  # fmt: skip
INSTALL_TIMEOUT = 180


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
def operator(
    request: pytest.FixtureRequest, cluster: Cluster, runtime_image: str, kube_env: None
) -> str:
    """The tests' operator install (instance ``e2e``), made once per run by whichever worker
    gets here first; the run's end removes it (tests/e2e/session.py)."""
    runtimes = {"dev": runtime_image, "missing": MISSING_IMAGE}
    install: Callable[[], str] = lambda: install_operator(cluster, runtimes)  # noqa: E731
    if os.environ.get("MODELOPS_E2E_OPERATOR") == "local":
        install = lambda: local_operator(cluster, runtimes)  # noqa: E731
    return once(request.config, "operator", install)


def apply_crds(cluster: Cluster) -> None:
    run_with_kubeconfig(
        ["kubectl", "apply", "--server-side", "--force-conflicts", "-f", str(REPO_ROOT / "crds")],
        cluster.kubeconfig,
    )


def install_operator(cluster: Cluster, runtimes: dict[str, str]) -> str:
    apply_crds(cluster)
    require_image_on_node(cluster, OPERATOR_IMAGE)
    wait_namespace_gone_if_terminating(cluster, OPERATOR_NAMESPACE)
    # Two replicas: kopf peering lets one act (test_operator_installs.py checks it).
    helm_install(cluster, RELEASE, OPERATOR_NAMESPACE, INSTANCE, runtimes,
                 activator_image=runtimes["dev"], replicas=2)  # fmt: skip
    return "chart"


def helm_install(
    cluster: Cluster, release: str, system: str, instance: str, runtimes: dict[str, str], *,
    activator_image: str, operator_image: str = OPERATOR_IMAGE, replicas: int = 1,
    activators: int = 2, **values: Any,
) -> None:  # fmt: skip
    """``helm upgrade --install`` of the chart with the local images, then a wait until
    the operator acts and the activators are ready, which fails at once, with the pods'
    logs, when a container ends or its image cannot be pulled."""
    operator = {"image": operator_image, "replicas": replicas,
                "podAnnotations": {IMAGE_ANNOTATION: image_id("modelops-operator")}}  # fmt: skip
    activator = {"image": activator_image, "replicas": activators,
                 "podAnnotations": {IMAGE_ANNOTATION: image_id("modelops-runtime")}}  # fmt: skip
    chosen = {"instance": instance, "operator": operator, "activator": activator,
              "runtimes": runtimes, **values}  # fmt: skip
    with tempfile.NamedTemporaryFile("w", suffix=".json") as file:
        json.dump(chosen, file)
        file.flush()
        chart = str(REPO_ROOT / "charts" / "modelops")
        install = [helm_binary(), "upgrade", "--install", release, chart, "--namespace",
                   system, "--create-namespace", "--skip-crds", "--values", file.name]  # fmt: skip
        run_with_kubeconfig(install, cluster.kubeconfig)
    scope = (values.get("watchNamespaces") or [None])[0]  # a namespaced install's peering
    images = {operator["podAnnotations"][IMAGE_ANNOTATION],
              activator["podAnnotations"][IMAGE_ANNOTATION]}  # fmt: skip
    wait_install(cluster, system, instance, replicas + activators, images, scope)


def image_id(name: str) -> str:
    """The id of the image ``make images`` built last (its archive's .id file), so that a
    new build rolls the install's pods though the tag stays ``:dev``."""
    cache = Path(os.environ.get("MODELOPS_CACHE", Path.home() / ".cache" / "modelops"))
    found = cache / "images" / f"{name}.tar.id"
    return found.read_text().strip()[:20] if found.is_file() else "unknown"


def wait_install(
    cluster: Cluster, system: str, instance: str, pods: int, images: set[str],
    scope: str | None = None,
) -> None:  # fmt: skip
    """Until the install's pods are all new and ready and its operator acts (the kopf
    peering lists it); a container of the ``images`` being installed that ended or cannot
    start fails the wait at once (an older pod that crashes is on its way out)."""

    def settled() -> bool:
        listed = cluster.core.list_namespaced_pod(system).items
        live = [p for p in listed if not p.metadata.deletion_timestamp]
        for pod in live:
            if (pod.metadata.annotations or {}).get(IMAGE_ANNOTATION) not in images:
                continue
            for status in pod.status.container_statuses or []:
                state = status.state
                waiting = state.waiting.reason if state.waiting else ""
                ended = state.terminated or (status.restart_count and not status.ready)
                if waiting in BROKEN or ended:
                    raise AssertionError(
                        f"the operator install in {system} is broken: pod {pod.metadata.name} "
                        f"container {status.name}: {waiting or 'ended'} (restarts: "
                        f"{status.restart_count})\n" + pod_logs(cluster, system, pod)
                    )
        ready = [p for p in live if p.status.container_statuses
                 and all(s.ready for s in p.status.container_statuses)]  # fmt: skip
        return len(live) == pods and len(ready) == pods and peering_live(cluster, instance, scope)

    wait_for(settled, timeout=INSTALL_TIMEOUT, interval=1, what=f"the install in {system}",
             diagnose=lambda: describe_namespace(cluster.api, system))  # fmt: skip


def pod_logs(cluster: Cluster, namespace: str, pod: Any) -> str:
    """The last lines of each container of ``pod``, and of its previous run if any."""
    lines = []
    for status in pod.status.container_statuses or []:
        for previous in (True, False):
            try:
                text = cluster.core.read_namespaced_pod_log(
                    pod.metadata.name, namespace, container=status.name, previous=previous,
                    tail_lines=40)  # fmt: skip
            except client.exceptions.ApiException:
                continue
            lines.append(f"--- {status.name}{' (previous run)' if previous else ''}:\n{text}")
    return "\n".join(lines)


def peering_live(cluster: Cluster, instance: str, scope: str | None = None) -> bool:
    """Does the instance's kopf peering (cluster-wide, or in namespace ``scope`` for an
    install with watchNamespaces) list a live operator replica?"""
    api, name = client.CustomObjectsApi(cluster.api), f"modelops-{instance}"
    try:
        if scope:
            peering = api.get_namespaced_custom_object(
                "kopf.dev", "v1", scope, "kopfpeerings", name
            )
        else:
            peering = api.get_cluster_custom_object("kopf.dev", "v1", "clusterkopfpeerings", name)
    except client.exceptions.ApiException as err:
        if err.status == 404:
            return False
        raise
    return any(v and v.get("lifetime") for v in (peering.get("status") or {}).values())


def remove_operator(cluster: Cluster, installed: str) -> None:
    """The run's end: the tests' install goes (a local operator process is stopped)."""
    if installed.startswith("local:"):
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(installed.split(":")[1]), signal.SIGTERM)
        return
    run_with_kubeconfig([helm_binary(), "uninstall", RELEASE, "--namespace", OPERATOR_NAMESPACE,
          "--wait", "--ignore-not-found"], cluster.kubeconfig)  # fmt: skip
    run_with_kubeconfig(["kubectl", "delete", "namespace", OPERATOR_NAMESPACE, "--ignore-not-found",
          "--wait=false"], cluster.kubeconfig)  # fmt: skip


def wait_namespace_gone_if_terminating(cluster: Cluster, name: str) -> None:
    """A previous session's teardown may still be deleting the operator's namespace."""
    _wait_namespace(cluster, name, lambda found: found.status.phase != "Terminating")


def wait_namespace_gone(cluster: Cluster, name: str) -> None:
    _wait_namespace(cluster, name, lambda found: False)


def _wait_namespace(cluster: Cluster, name: str, settled: Callable[[Any], bool]) -> None:
    def check() -> bool:
        try:
            found = cluster.core.read_namespace(name)
        except client.exceptions.ApiException as err:
            if err.status == 404:
                return True
            raise
        return settled(found)

    wait_for(check, timeout=180, what=f"namespace {name} to be settled")


def local_operator(cluster: Cluster, runtimes: dict[str, str]) -> str:
    """The operator as a process here, until the run's end stops it: ``local:<pid>:<log>``."""
    apply_crds(cluster)
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
        [sys.executable, "-m", "modelops_operator"], env=env, stdout=log, stderr=log,
        start_new_session=True,  # outlives the worker that started it, until the run's end
    )  # fmt: skip
    return f"local:{process.pid}:{log.name}"


@dataclass(frozen=True)
class PrivateInstall:
    """An operator install of a test's own and the namespace it serves: for tests that
    stop operator pods, which the install the other tests share must not see."""

    instance: str
    system: str
    namespace: str


@contextlib.contextmanager
def private_install(
    cluster: Cluster, runtime_image: str, name: str, s3: S3, *, replicas: int = 1,
    runtimes: dict[str, str] | None = None, watch: bool = False, **values: Any,
) -> Iterator[PrivateInstall]:  # fmt: skip
    """The chart installed as an instance of its own (one activator), and a labelled
    namespace it serves, which holds the storage Secret (``watch``: the install is given
    that namespace alone in ``watchNamespaces``). Afterwards that namespace goes first (its
    objects need this operator to release them), then the install and its kopf peering
    object, then the install's namespace."""
    from tests.e2e.conftest import create_namespace, delete_namespace, labelled_namespace
    from tests.e2e.run import run_id
    from tests.e2e.sweep import RELEASE_LABEL

    suffix = f"{run_id().removeprefix('run-')}-{secrets.token_hex(2)}"
    instance, release, system = f"e2e-{name}-{suffix}", f"modelops-{name}", f"mo-{name}-{suffix}"
    served = f"{name}-{suffix}"
    apply_crds(cluster)
    with contextlib.ExitStack() as stack:  # its callbacks run last first
        stack.enter_context(labelled_namespace(cluster, system, "none", **{RELEASE_LABEL: release}))
        stack.callback(_forget_peering, cluster, instance)
        stack.callback(run_with_kubeconfig, [helm_binary(), "uninstall", release, "--namespace",
                       system, "--ignore-not-found"], cluster.kubeconfig)  # fmt: skip
        create_namespace(cluster, served, instance)
        stack.callback(wait_namespace_gone, cluster, served)
        stack.callback(delete_namespace, cluster, served)
        add_storage_secret(cluster, served, s3)
        if watch:
            values["watchNamespaces"] = [served]
        runtimes = runtimes or {"dev": runtime_image}
        helm_install(cluster, release, system, instance, runtimes, activator_image=runtime_image,
                     replicas=replicas, activators=1, **values)  # fmt: skip
        yield PrivateInstall(instance=instance, system=system, namespace=served)


def _forget_peering(cluster: Cluster, instance: str) -> None:
    """The chart keeps an instance's peering object on uninstall (for a re-install)."""
    with contextlib.suppress(client.exceptions.ApiException):
        client.CustomObjectsApi(cluster.api).delete_cluster_custom_object(
            "kopf.dev", "v1", "clusterkopfpeerings", f"modelops-{instance}"
        )


@pytest.fixture
def storage_secret(cluster: Cluster, namespace: str, s3: S3) -> str:
    add_storage_secret(cluster, namespace, s3)
    return STORAGE_SECRET


def add_storage_secret(cluster: Cluster, namespace: str, s3: S3) -> None:
    cluster.core.create_namespaced_secret(
        namespace,
        client.V1Secret(metadata=client.V1ObjectMeta(name=STORAGE_SECRET), string_data=s3.env),
    )
