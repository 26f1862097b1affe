"""``helm upgrade`` of a live install to new images keeps every Ready version serving.

An install of the test's own serves a Model straight from its pods and a Model split
between two versions (through the activators). Under load on both, the install is
upgraded to new images of the operator and the runtime: the operator and the activators
are replaced, and the operator rolls every predictor to the new runtime image. Not one
request fails, and afterwards every pod runs a new image.

The new images are the built ones under new tags on the node (the local cluster's
containerd), as a registry would give a new release.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.e2e.conftest import Cluster, _unavailable
from tests.e2e.kube import wait_for
from tests.e2e.load import Load, address, pods_of, service_host
from tests.e2e.operator_fixtures import (
    OPERATOR_IMAGE,
    helm_install,
    private_install,
)
from tests.e2e.operator_support import (
    create,
    model_manifest,
    upload,
    version_manifest,
    wait_condition,
)

pytestmark = [pytest.mark.usefixtures("operator"), pytest.mark.timeout(600)]
FIXED = {"minReplicas": 1, "maxReplicas": 1}


def retag(image: str, tag: str) -> str:
    """``image`` under another tag in the node's containerd; the new name."""
    if os.environ.get("CLUSTER", "local") != "local":
        pytest.skip("the images are retagged in the local cluster's containerd")
    state = Path(os.environ.get("MODELOPS_CLUSTER_STATE", "/var/lib/modelops-cluster"))
    socket = state / "run" / "containerd" / "containerd.sock"
    if not socket.is_socket():
        _unavailable(f"no containerd socket at {socket}")
    new = f"{image.rsplit(':', 1)[0]}:{tag}"
    ctr = ["ctr", "--address", str(socket), "--namespace", "k8s.io"]
    subprocess.run([*ctr, "images", "tag", "--force", image, new], check=True,
                   capture_output=True, timeout=60)  # fmt: skip
    return new


def images_of(cluster: Cluster, namespace: str, selector: str) -> set[str]:
    pods = cluster.core.list_namespaced_pod(namespace, label_selector=selector).items
    return {c.image for p in pods if not p.metadata.deletion_timestamp for c in p.spec.containers}


def test_an_upgrade_to_new_images_under_load_fails_no_request(
    cluster, runtime_image, s3, s3_bucket, iris
):
    with private_install(cluster, runtime_image, "upgrade", s3) as install:
        namespace = install.namespace
        uri, sha = upload(s3, s3_bucket, "iris/v1", iris)
        create(cluster, namespace, model_manifest("direct"))
        create(cluster, namespace, version_manifest("direct-v1", "direct", uri, sha,
                                                    predictor=FIXED))  # fmt: skip
        split = [{"version": "split-v1", "percent": 50}, {"version": "split-v2", "percent": 50}]
        create(cluster, namespace, model_manifest("split", traffic=split))
        for name in ("split-v1", "split-v2"):
            create(cluster, namespace, version_manifest(name, "split", uri, sha, predictor=FIXED))
        for name in ("direct-v1", "split-v1", "split-v2"):
            wait_condition(cluster, namespace, "modelversions", name, "Ready", "True")
        wait_condition(cluster, namespace, "models", "split", "Ready", "True", timeout=60)

        new_runtime = retag(runtime_image, "e2e-upgrade")
        new_operator = retag(OPERATOR_IMAGE, "e2e-upgrade")
        targets = [(address(cluster, namespace, m), service_host(m, namespace), m)
                   for m in ("direct", "split")]  # fmt: skip
        with (
            Load(*targets[0], iris.rows[:1], concurrency=4) as direct,
            Load(*targets[1], iris.rows[:1], concurrency=4) as through_activators,
        ):
            helm_install(
                cluster, "modelops-upgrade", install.system, install.instance,
                {"dev": new_runtime}, activator_image=new_runtime, operator_image=new_operator,
                activators=1,
            )  # fmt: skip

            def rolled() -> bool:
                system = images_of(cluster, install.system, "app.kubernetes.io/instance")
                served = set().union(*(images_of(cluster, namespace, f"modelops.dev/version={v}")
                                       for v in ("direct-v1", "split-v1", "split-v2")))  # fmt: skip
                return system == {new_operator, new_runtime} and served == {new_runtime}

            wait_for(rolled, timeout=300, what="every pod to run the new images")
            for name in ("direct-v1", "split-v1", "split-v2"):
                wait_condition(cluster, namespace, "modelversions", name, "Ready", "True")
                assert len(pods_of(cluster, namespace, name)) == 1
            settled = direct.answers[-1].sent if direct.answers else 0.0
            wait_for(lambda: len(through_activators.since(settled)) >= 20, timeout=60,
                     what="answers after the upgrade")  # fmt: skip
        for load in (direct, through_activators):
            assert load.failures() == [], load.failures()[:3]
            assert len(load.answers) >= 100
        assert through_activators.versions().keys() == {"split-v1", "split-v2"}
