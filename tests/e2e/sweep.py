"""What test runs leave on the cluster, and taking it away.

A test deletes its namespace without waiting; a run killed half-way deletes nothing. So a
run sweeps twice: at its start, what runs that no longer run left behind (their
namespaces, cluster-wide bindings and private operator installs); at its end, its own
namespaces, waiting until they are gone, before its operator install (whose finalizers
they may still need) is removed.
"""

from __future__ import annotations

import os
import re
import subprocess
import time

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from tests.e2e.conftest import Cluster, delete_namespace
from tests.e2e.run import E2E_LABEL, RUN_LABEL, run_alive

RELEASE_LABEL = "modelops.dev/e2e-release"
"""On the namespace of a test's private operator install: its Helm release."""
END_TIMEOUT = 240
FINALIZER_GRACE = 60
"""Seconds a run's namespace may take to go before its objects' finalizers are taken off."""
GROUP, VERSION = "modelops.dev", "v1alpha1"


def _dead(labels: dict[str, str] | None) -> bool:
    return not run_alive((labels or {}).get(RUN_LABEL, ""))


def sweep_dead_runs(cluster: Cluster) -> str:
    """Delete what runs that no longer run left behind; say what went."""
    gone = []
    for found in cluster.core.list_namespace(label_selector=f"{E2E_LABEL}=true").items:
        meta = found.metadata
        if not _dead(meta.labels):
            continue
        # The operator install that served it may be gone with its run, or go now: nobody
        # else would take the finalizers off its objects.
        release_finalizers(cluster, meta.name)
        if found.status.phase == "Terminating":
            continue
        release = (meta.labels or {}).get(RELEASE_LABEL)
        if release:
            uninstall(cluster, release, meta.name, wait=False)
        delete_namespace(cluster, meta.name)
        gone.append(meta.name)
    gone += forget_dead_peerings(cluster)
    rbac = client.RbacAuthorizationV1Api(cluster.api)
    for binding in rbac.list_cluster_role_binding(label_selector=f"{E2E_LABEL}=true").items:
        if _dead(binding.metadata.labels):
            try:
                rbac.delete_cluster_role_binding(binding.metadata.name)
            except ApiException as err:
                if err.status != 404:
                    raise
            gone.append(binding.metadata.name)
    return ", ".join(gone) or "nothing"


PRIVATE_PEERING = re.compile(r"^modelops-e2e-.+-(\d+)-[0-9a-f]{4}$")
"""The kopf peering object of a private install: its instance holds its run's pid."""


def forget_dead_peerings(cluster: Cluster) -> list[str]:
    """The chart keeps an instance's peering object on uninstall; a private install's is
    deleted with it, unless its run died first."""
    api, gone = client.CustomObjectsApi(cluster.api), []
    for item in api.list_cluster_custom_object("kopf.dev", "v1", "clusterkopfpeerings")["items"]:
        name = item["metadata"]["name"]
        matched = PRIVATE_PEERING.match(name)
        if matched and not run_alive(f"run-{matched.group(1)}"):
            try:
                api.delete_cluster_custom_object("kopf.dev", "v1", "clusterkopfpeerings", name)
            except ApiException as err:
                if err.status != 404:
                    raise
            gone.append(name)
    return gone


def end_run(cluster: Cluster, run: str) -> list[str]:
    """Delete this run's namespaces that are left and wait until all are gone; the names
    of any still there at ``END_TIMEOUT``."""
    selector = f"{RUN_LABEL}={run}"
    for found in cluster.core.list_namespace(label_selector=selector).items:
        if found.status.phase != "Terminating":
            release = (found.metadata.labels or {}).get(RELEASE_LABEL)
            if release:
                uninstall(cluster, release, found.metadata.name, wait=False)
            delete_namespace(cluster, found.metadata.name)
    started = time.monotonic()
    while True:
        left = [n.metadata.name for n in cluster.core.list_namespace(label_selector=selector).items]
        waited = time.monotonic() - started
        if not left or waited > END_TIMEOUT:
            return left
        if waited > FINALIZER_GRACE:  # a private install that went first cannot release them
            for name in left:
                release_finalizers(cluster, name)
        time.sleep(2)


def release_finalizers(cluster: Cluster, namespace: str) -> None:
    """Take the finalizers off the modelops objects left in a namespace being deleted."""
    api = client.CustomObjectsApi(cluster.api)
    for plural in ("models", "modelversions", "trainingjobs"):
        try:
            items = api.list_namespaced_custom_object(GROUP, VERSION, namespace, plural)["items"]
        except ApiException:
            continue
        for item in items:
            if item["metadata"].get("finalizers"):
                try:
                    api.patch_namespaced_custom_object(
                        GROUP, VERSION, namespace, plural, item["metadata"]["name"],
                        {"metadata": {"finalizers": None}},
                    )  # fmt: skip
                except ApiException as err:
                    if err.status != 404:
                        raise


def uninstall(cluster: Cluster, release: str, namespace: str, *, wait: bool) -> None:
    from tests.e2e.operator_fixtures import helm_binary

    command = [helm_binary(), "uninstall", release, "--namespace", namespace,
               "--ignore-not-found", *(["--wait"] if wait else [])]  # fmt: skip
    subprocess.run(command, capture_output=True, text=True, timeout=300, check=False,
                   env={**os.environ, "KUBECONFIG": str(cluster.kubeconfig)})  # fmt: skip
