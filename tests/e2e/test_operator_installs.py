"""Installs and replicas of the operator never both act on one object.

- A second install of the same instance is refused by the chart, naming the first.
- An install of another instance acts only in namespaces labelled for it, never in ours.
- An install of two replicas (one of the test's own, so that no other test loses its
  operator): exactly one acts (a burst of creates gives each object its Events once), and
  deleting the active one hands over to the other.
- An install given watchNamespaces acts only there, and its account may read no Secret.
"""

from __future__ import annotations

import os
import subprocess
import time

import pytest
from kubernetes import client

from tests.e2e.conftest import E2E_INSTANCE, REPO_ROOT, labelled_namespace
from tests.e2e.kube import wait_for
from tests.e2e.operator_fixtures import helm_binary, private_install, wait_namespace_gone
from tests.e2e.operator_support import (
    OPERATOR_NAMESPACE,
    create,
    get,
    version_manifest,
    wait_condition,
)
from tests.e2e.runtime_fixtures import may

pytestmark = pytest.mark.usefixtures("operator", "storage_secret")
CHART = str(REPO_ROOT / "charts" / "modelops")
OTHER_RUNTIME = "localhost/modelops-runtime:other-install"


def test_a_second_install_of_one_instance_is_refused(cluster, namespace):
    done = subprocess.run(
        [helm_binary(), "install", "modelops-twin", CHART, "--namespace", namespace,
         "--skip-crds", "--set", f"instance={E2E_INSTANCE}", "--dry-run=server"],
        capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "KUBECONFIG": str(cluster.kubeconfig)},
    )  # fmt: skip
    assert done.returncode != 0
    assert f'modelops instance "{E2E_INSTANCE}" already runs' in done.stderr
    assert OPERATOR_NAMESPACE in done.stderr


@pytest.fixture
def other_install(cluster, runtime_image, s3):
    """A second install, of an instance of its own with a runtime image of its own, and a
    namespace labelled for it."""
    runtimes = {"dev": OTHER_RUNTIME}
    with private_install(cluster, runtime_image, "other", s3, runtimes=runtimes) as install:
        yield install


def test_an_install_of_another_instance_acts_only_where_it_is_named(
    cluster, namespace, s3_bucket, runtime_image, other_install
):
    uri = f"s3://{s3_bucket}/nothing/model.joblib"
    theirs_namespace = other_install.namespace
    create(cluster, namespace, version_manifest("ours-v1", "ours", uri))
    create(cluster, theirs_namespace, version_manifest("theirs-v1", "theirs", uri))
    theirs = wait_for(
        lambda: get(cluster, theirs_namespace, "modelversions", "theirs-v1").get("status"),
        timeout=60, what="the other install to judge its own version",
    )  # fmt: skip
    assert theirs["image"] == OTHER_RUNTIME
    ours = wait_condition(cluster, namespace, "modelversions", "ours-v1", "Ready", "False")
    assert ours["status"]["image"] == runtime_image
    deadline = time.monotonic() + 20  # both operators watch both namespaces all along
    while time.monotonic() < deadline:
        image = cluster.apps.read_namespaced_deployment("ours-v1-predictor", namespace)
        assert image.spec.template.spec.containers[0].image == runtime_image
        assert get(cluster, namespace, "modelversions", "ours-v1")["status"]["image"] == (
            runtime_image
        )
        time.sleep(2)


def events_of(cluster, namespace) -> list[tuple[str, str, str]]:
    return [
        (e.involved_object.name, e.reason, e.message)
        for e in cluster.core.list_namespaced_event(namespace).items
        if e.reporting_component == "modelops"
    ]


def active_peer(cluster, instance) -> str:
    peering = client.CustomObjectsApi(cluster.api).get_cluster_custom_object(
        "kopf.dev", "v1", "clusterkopfpeerings", f"modelops-{instance}"
    )
    peers = {k: v for k, v in (peering.get("status") or {}).items() if v and v.get("lifetime")}
    assert len(peers) == 2, f"two replicas should be peers: {peers}"
    return max(peers, key=lambda k: peers[k]["priority"])


@pytest.fixture
def two_replicas(cluster, runtime_image, s3):
    """An install of its own with two replicas: deleting its active one stops no other test."""
    with private_install(cluster, runtime_image, "handover", s3, replicas=2) as install:
        yield install


def test_two_replicas_one_acts_and_a_deleted_one_hands_over(cluster, s3_bucket, two_replicas):
    namespace, instance = two_replicas.namespace, two_replicas.instance
    uri = f"s3://{s3_bucket}/nothing/model.joblib"
    names = [f"burst-v{i}" for i in range(6)]
    for name in names:
        create(cluster, namespace, version_manifest(name, "burst", uri))
    for name in names:
        wait_condition(cluster, namespace, "modelversions", name, "Ready", "False",
                       "ArtifactNotFound", timeout=120)  # fmt: skip
    events = events_of(cluster, namespace)
    created = [e for e in events if e[1] == "Created"]
    assert sorted(created) == sorted(
        (n, "Created", f"created {kind} {n}-predictor{suffix}")
        for n in names
        for kind, suffix in (("Deployment", ""), ("Service", ""), ("Service", "-private"))
    ), "each child is created once, by one replica"
    assert len(events) == len(set(events)), f"an Event was posted twice: {events}"

    active = active_peer(cluster, instance)
    cluster.core.delete_namespaced_pod(active, two_replicas.system)
    create(cluster, namespace, version_manifest("after-v1", "after", uri))
    wait_condition(cluster, namespace, "modelversions", "after-v1", "Ready", "False",
                   "ArtifactNotFound", timeout=120)  # fmt: skip
    wait_for(lambda: active_peer_or_none(cluster, instance) not in (None, active), timeout=120,
             what="a new active replica")  # fmt: skip


def active_peer_or_none(cluster, instance) -> str | None:
    try:
        return active_peer(cluster, instance)
    except AssertionError:
        return None


@pytest.fixture
def namespaced(cluster, runtime_image, s3):
    """An install of its own given one namespace in ``watchNamespaces``."""
    with private_install(cluster, runtime_image, "scoped", s3, watch=True) as install:
        yield install


def test_an_install_with_watch_namespaces_acts_only_there_and_reads_no_secret(
    cluster, s3_bucket, namespaced
):
    """The chart gives a namespaced install a Role in each watched namespace and none
    elsewhere, so even a namespace labelled for its instance is beyond it; it never reads
    Secrets (predictor pods read the storage Secret themselves); and a watched namespace
    can be deleted with its objects in it (the operator still takes its finalizer off them
    once the Role there is gone)."""
    uri = f"s3://{s3_bucket}/nothing/model.joblib"
    account = f"system:serviceaccount:{namespaced.system}:modelops-operator"
    inside = namespaced.namespace
    with labelled_namespace(cluster, f"{inside}-out", namespaced.instance) as outside:
        for i in range(3):
            create(cluster, inside, version_manifest(f"in-v{i}", "in", uri))
        create(cluster, outside, version_manifest("out-v1", "out", uri))
        for i in range(3):
            wait_condition(cluster, inside, "modelversions", f"in-v{i}", "Ready", "False",
                           "ArtifactNotFound", timeout=120)  # fmt: skip

        def rights(namespace: str, verb: str, resource: str, group: str = "") -> bool:
            attributes = {"namespace": namespace, "verb": verb, "resource": resource,
                          "group": group}  # fmt: skip
            return may(cluster, account, namespaced.system, attributes)

        assert rights(inside, "patch", "deployments", "apps")
        assert rights(inside, "create", "jobs", "batch")
        for where in (outside, namespaced.system, ""):  # "": cluster-wide
            assert not rights(where, "patch", "deployments", "apps"), where
            assert not rights(where, "create", "jobs", "batch"), where
            assert not rights(where, "patch", "modelversions/status", "modelops.dev"), where
        for where in (inside, outside, namespaced.system, ""):
            for verb in ("get", "list", "watch"):
                assert not rights(where, verb, "secrets"), (where, verb)

        # It acted inside, and nothing outside.
        out = get(cluster, outside, "modelversions", "out-v1")
        assert not out.get("status"), out.get("status")
        assert cluster.apps.list_namespaced_deployment(outside).items == []

    cluster.core.delete_namespace(inside)
    wait_namespace_gone(cluster, inside)
