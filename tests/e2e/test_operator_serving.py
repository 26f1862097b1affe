"""The operator on the real cluster: S3 artifact → Ready → the same predictions as local
``predict``, through the Model's Service; switching the default; children coming back."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest
from kubernetes.client.exceptions import ApiException

from tests.e2e.conftest import S3, Cluster
from tests.e2e.kube import wait_for
from tests.e2e.operator_support import (
    create,
    get,
    model_manifest,
    predict,
    upload,
    version_manifest,
    wait_condition,
)
from tests.models import Trained

pytestmark = pytest.mark.usefixtures("operator", "storage_secret")


def serve(
    cluster: Cluster, namespace: str, s3: S3, bucket: str, trained: Trained, model: str
) -> str:
    uri, sha = upload(s3, bucket, f"{model}/v1", trained, {"score": 1.0})
    create(cluster, namespace, model_manifest(model))
    create(cluster, namespace, version_manifest(f"{model}-v1", model, uri, sha))
    return f"{model}-v1"


def test_predictions_equal_local_predict(cluster, namespace, s3, s3_bucket, iris, ctr, houses):
    """Arrays (iris), records through a DictVectorizer (ctr), column-named rows (houses)."""
    cases = {"iris": iris, "ctr": ctr, "houses": houses}
    for model, trained in cases.items():
        serve(cluster, namespace, s3, s3_bucket, trained, model)
    for model, trained in cases.items():
        version = wait_condition(
            cluster, namespace, "modelversions", f"{model}-v1", "Ready", "True"
        )
        assert version["status"]["phase"] == "Ready"
        assert version["status"]["metrics"] == {"score": 1.0}
        assert version["status"]["frameworkVersions"]["sklearn"]
        assert {c["type"]: c["status"] for c in version["status"]["conditions"]} == {
            "ArtifactVerified": "True", "RuntimeCompatible": "True",
            "ResourcesAvailable": "True", "Ready": "True", "Active": "True",
        }  # fmt: skip
        served = wait_condition(cluster, namespace, "models", model, "Ready", "True")
        assert served["status"]["servingVersion"] == f"{model}-v1"
        assert (
            served["status"]["url"]
            == f"http://{model}.{namespace}.svc.cluster.local/v1/models/{model}:predict"
        )
        remote = np.asarray(predict(namespace, model, trained.rows))
        np.testing.assert_allclose(remote, trained.local_predict(), rtol=1e-6)


def test_switch_the_default_version(cluster, namespace, s3, s3_bucket, iris):
    """The newest Ready version serves; a pin moves the Model's URL to another version."""
    uri, sha = upload(s3, s3_bucket, "iris/v1", iris)
    create(cluster, namespace, model_manifest("iris"))
    create(cluster, namespace, version_manifest("iris-v1", "iris", uri, sha))
    create(
        cluster,
        namespace,
        version_manifest("iris-v2", "iris", uri, sha, predictor={"method": "predict_proba"}),
    )
    for name in ("iris-v1", "iris-v2"):
        wait_condition(cluster, namespace, "modelversions", name, "Ready", "True")

    def serving(name: str) -> bool:
        return get(cluster, namespace, "models", "iris")["status"].get("servingVersion") == name

    wait_for(lambda: serving("iris-v2"), timeout=30, what="iris-v2 to serve")
    probabilities = np.asarray(predict(namespace, "iris", iris.rows))
    np.testing.assert_allclose(probabilities, iris.local_predict("predict_proba"), rtol=1e-6)

    patch = {"spec": {"defaultVersion": "iris-v1"}}
    from tests.e2e.operator_support import custom

    custom(cluster).patch_namespaced_custom_object(
        "modelops.dev", "v1alpha1", namespace, "models", "iris", patch
    )
    wait_for(lambda: serving("iris-v1"), timeout=30, what="the pin to move the Model to iris-v1")
    expected = iris.local_predict().tolist()
    wait_for(
        lambda: predict(namespace, "iris", iris.rows) == expected,
        timeout=30,
        what="the Service to follow the pin",
    )
    assert (
        predict(namespace, "iris", iris.rows, version="iris-v2")
        == iris.local_predict("predict_proba").tolist()
    )


def test_a_deleted_or_edited_child_comes_back(cluster, namespace, s3, s3_bucket, iris):
    """Deleted children are made again; fields the operator sets that someone edited are
    set back (the Model's endpoints, a Service's ports), on the children's watch events."""
    name = serve(cluster, namespace, s3, s3_bucket, iris, "iris")
    wait_condition(cluster, namespace, "modelversions", name, "Ready", "True")
    wait_condition(cluster, namespace, "models", "iris", "Ready", "True")
    child = f"{name}-predictor"
    deployment_uid = cluster.apps.read_namespaced_deployment(child, namespace).metadata.uid
    service_uid = cluster.core.read_namespaced_service(child, namespace).metadata.uid
    cluster.apps.delete_namespaced_deployment(child, namespace)
    cluster.core.delete_namespaced_service(child, namespace)
    cluster.core.delete_namespaced_endpoints("iris", namespace)
    cluster.core.patch_namespaced_service(
        "iris", namespace, {"spec": {"ports": [{"port": 80, "targetPort": 9999}]}}
    )

    def recreated() -> bool:
        try:
            deployment = cluster.apps.read_namespaced_deployment(child, namespace)
            service = cluster.core.read_namespaced_service(child, namespace)
            cluster.core.read_namespaced_endpoints("iris", namespace)
        except ApiException as err:
            if err.status == 404:
                return False
            raise
        return deployment.metadata.uid != deployment_uid and service.metadata.uid != service_uid

    wait_for(recreated, timeout=30, what="the Deployment, Service and endpoints to be recreated")

    def target_port() -> object:
        return cluster.core.read_namespaced_service("iris", namespace).spec.ports[0].target_port

    wait_for(lambda: target_port() == "http", timeout=30, what="the Model's Service port back")
    wait_condition(cluster, namespace, "modelversions", name, "Ready", "True")
    expected = iris.local_predict().tolist()
    wait_for(lambda: predict(namespace, "iris", iris.rows) == expected, timeout=60,
             what="the Model to answer again")  # fmt: skip


def test_a_version_served_from_a_claim(cluster, namespace, iris, tmp_path_factory):
    """``pvc://CLAIM/PATH``: the operator mounts the claim read-only for the fetch step.
    The local cluster has no provisioner, so the test makes a hostPath PersistentVolume
    on the node (this machine) and a claim bound to it."""
    if os.environ.get("CLUSTER", "local") != "local":
        pytest.skip("the hostPath volume is written on this machine, the local cluster's node")
    from kubernetes import client

    folder = tmp_path_factory.mktemp("claim")
    (folder / "iris").mkdir()
    shutil.copyfile(iris.path, folder / "iris" / "model.joblib")
    for path in (folder, folder / "iris"):
        path.chmod(0o755)
    (folder / "iris" / "model.joblib").chmod(0o644)
    volume = f"{namespace}-models"
    cluster.core.create_persistent_volume(client.V1PersistentVolume(
        metadata=client.V1ObjectMeta(name=volume, labels={"modelops.dev/e2e": "true"}),
        spec=client.V1PersistentVolumeSpec(
            capacity={"storage": "1Gi"}, access_modes=["ReadOnlyMany"],
            persistent_volume_reclaim_policy="Retain", storage_class_name="",
            host_path=client.V1HostPathVolumeSource(path=str(folder), type="Directory"),
            claim_ref=client.V1ObjectReference(namespace=namespace, name="models"),
        ),
    ))  # fmt: skip
    try:
        claim = client.V1PersistentVolumeClaim(
            metadata=client.V1ObjectMeta(name="models"),
            spec=client.V1PersistentVolumeClaimSpec(
                access_modes=["ReadOnlyMany"], storage_class_name="", volume_name=volume,
                resources=client.V1VolumeResourceRequirements(requests={"storage": "1Gi"}),
            ),
        )  # fmt: skip
        cluster.core.create_namespaced_persistent_volume_claim(namespace, claim)
        # Bound first, as a claim a team serves from already is: a pod made before the PV
        # controller binds it is unschedulable until the scheduler tries it again (in one
        # loaded run the version was not Ready within 240 s).
        wait_for(lambda: cluster.core.read_namespaced_persistent_volume_claim(
            "models", namespace).status.phase == "Bound", timeout=120,
            what="the claim bound to its volume")  # fmt: skip
        create(cluster, namespace, model_manifest("iris"))
        create(cluster, namespace,
               version_manifest("iris-v1", "iris", "pvc://models/iris/model.joblib"))  # fmt: skip
        version = wait_condition(cluster, namespace, "modelversions", "iris-v1", "Ready", "True")
        assert version["status"]["format"] == "joblib"
        wait_condition(cluster, namespace, "models", "iris", "Ready", "True")
        assert predict(namespace, "iris", iris.rows) == iris.local_predict().tolist()
    finally:
        cluster.core.delete_persistent_volume(volume)
