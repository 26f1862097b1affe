"""Installs and replicas of the operator never both act on one object.

- A second install of the same instance is refused by the chart, naming the first.
- An install of another instance acts only in namespaces labelled for it, never in ours.
- The tests' own install runs two replicas: exactly one acts (a burst of creates gives
  each object its Events once), and deleting the active one hands over to the other.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import time

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from tests.e2e.conftest import E2E_INSTANCE, INSTANCE_LABEL, REPO_ROOT
from tests.e2e.kube import wait_for
from tests.e2e.operator_fixtures import (
    helm_binary,
    run_with_kubeconfig,
    wait_namespace_gone,
    wait_namespace_gone_if_terminating,
)
from tests.e2e.operator_support import (
    OPERATOR_IMAGE,
    OPERATOR_NAMESPACE,
    create,
    get,
    version_manifest,
    wait_condition,
)

pytestmark = pytest.mark.usefixtures("operator", "storage_secret")
CHART = str(REPO_ROOT / "charts" / "modelops")
OTHER = "other"
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
def other_install(cluster, runtime_image):
    """A second install, instance ``other``, with a runtime image of its own, and a
    namespace labelled for it."""
    system, labelled = "modelops-e2e-other", f"e2e-other-{int(time.time())}"
    values = {"instance": OTHER, "operator": {"image": OPERATOR_IMAGE},
              "runtimes": {"dev": OTHER_RUNTIME}}  # fmt: skip
    wait_namespace_gone_if_terminating(cluster, system)  # a run before this one's
    run_with_kubeconfig(
        [helm_binary(), "upgrade", "--install", "modelops-other", CHART, "--namespace", system,
         "--create-namespace", "--skip-crds", "--set-json", f"instance={json.dumps(OTHER)}",
         "--set-json", f"runtimes={json.dumps(values['runtimes'])}",
         "--set", f"operator.image={OPERATOR_IMAGE}", "--set", f"activator.image={runtime_image}",
         "--wait", "--timeout", "180s"],
        cluster.kubeconfig,
    )  # fmt: skip
    cluster.core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(
        name=labelled, labels={"modelops.dev/e2e": "true", INSTANCE_LABEL: OTHER})))  # fmt: skip
    yield labelled
    with contextlib.suppress(ApiException):
        cluster.core.delete_namespace(labelled)
    # Its objects carry the other install's finalizer: it must still run to release them.
    wait_namespace_gone(cluster, labelled)
    run_with_kubeconfig([helm_binary(), "uninstall", "modelops-other", "--namespace", system,
                         "--wait", "--ignore-not-found"], cluster.kubeconfig)  # fmt: skip
    run_with_kubeconfig(["kubectl", "delete", "namespace", system, "--ignore-not-found",
                         "--wait=false"], cluster.kubeconfig)  # fmt: skip


def test_an_install_of_another_instance_acts_only_where_it_is_named(
    cluster, namespace, s3_bucket, runtime_image, other_install
):
    uri = f"s3://{s3_bucket}/nothing/model.joblib"
    create(cluster, namespace, version_manifest("ours-v1", "ours", uri))
    create(cluster, other_install, version_manifest("theirs-v1", "theirs", uri))
    theirs = wait_for(
        lambda: get(cluster, other_install, "modelversions", "theirs-v1").get("status"),
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


def active_peer(cluster) -> str:
    peering = client.CustomObjectsApi(cluster.api).get_cluster_custom_object(
        "kopf.dev", "v1", "clusterkopfpeerings", f"modelops-{E2E_INSTANCE}"
    )
    peers = {k: v for k, v in (peering.get("status") or {}).items() if v and v.get("lifetime")}
    assert len(peers) == 2, f"two replicas should be peers: {peers}"
    return max(peers, key=lambda k: peers[k]["priority"])


def test_two_replicas_one_acts_and_a_deleted_one_hands_over(cluster, namespace, s3_bucket):
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

    active = active_peer(cluster)
    cluster.core.delete_namespaced_pod(active, OPERATOR_NAMESPACE)
    create(cluster, namespace, version_manifest("after-v1", "after", uri))
    wait_condition(cluster, namespace, "modelversions", "after-v1", "Ready", "False",
                   "ArtifactNotFound", timeout=120)  # fmt: skip
    wait_for(lambda: active_peer_or_none(cluster) not in (None, active), timeout=120,
             what="a new active replica")  # fmt: skip


def active_peer_or_none(cluster) -> str | None:
    try:
        return active_peer(cluster)
    except AssertionError:
        return None
