"""Every bad input ends as a clear error: refused at apply time, or a condition with a reason."""

from __future__ import annotations

import pytest
from kubernetes.client.exceptions import ApiException

from tests.e2e.conftest import Cluster
from tests.e2e.operator_support import (
    create,
    model_manifest,
    upload,
    version_manifest,
    wait_condition,
)

pytestmark = pytest.mark.usefixtures("operator", "storage_secret")
FAIL_TIMEOUT = 120


def refused(cluster: Cluster, namespace: str, manifest: dict) -> str:
    with pytest.raises(ApiException) as caught:
        create(cluster, namespace, manifest)
    assert caught.value.status == 422
    return str(caught.value.body)


def test_bad_specs_are_refused_at_apply(cluster, namespace):
    bad_uri = version_manifest("ctr-v1", "ctr", "ftp://host/model.joblib")
    assert "uri must be an s3://" in refused(cluster, namespace, bad_uri)
    bad_sha = version_manifest("ctr-v1", "ctr", "s3://b/k", sha256="abc")
    assert "spec.artifact.sha256" in refused(cluster, namespace, bad_sha)
    replicas = version_manifest(
        "ctr-v1", "ctr", "s3://b/k", predictor={"minReplicas": 3, "maxReplicas": 1}
    )
    assert "minReplicas must not exceed maxReplicas" in refused(cluster, namespace, replicas)
    no_model = version_manifest("ctr-v1", "Not_A_Name", "s3://b/k")
    assert "spec.model" in refused(cluster, namespace, no_model)
    split = model_manifest("ctr", traffic=[{"version": "ctr-v1", "percent": 60}])
    assert "traffic percents must add up to 100" in refused(cluster, namespace, split)
    # A version's or a Model's env cannot switch auth off or name another API server.
    auth_off = version_manifest("ctr-v1", "ctr", "s3://b/k", predictor={
        "env": [{"name": "MODELOPS_NAN_POLICY", "value": "reject"},
                {"name": "MODELOPS_AUTH_MODE", "value": "none"}]})  # fmt: skip
    operators_own = "env must not set a variable the operator reserves"
    assert operators_own in refused(cluster, namespace, auth_off)
    elsewhere = model_manifest("ctr", predictor={
        "env": [{"name": "MODELOPS_KUBE_API", "value": "https://10.0.0.66"}]})  # fmt: skip
    assert operators_own in refused(cluster, namespace, elsewhere)


def test_artifact_that_does_not_exist(cluster, namespace, s3_bucket):
    create(
        cluster,
        namespace,
        version_manifest("ctr-v1", "ctr", f"s3://{s3_bucket}/nothing/here.joblib"),
    )
    version = wait_condition(
        cluster,
        namespace,
        "modelversions",
        "ctr-v1",
        "Ready",
        "False",
        "ArtifactNotFound",
        FAIL_TIMEOUT,
    )
    verified = next(c for c in version["status"]["conditions"] if c["type"] == "ArtifactVerified")
    assert (verified["status"], verified["reason"]) == ("False", "ArtifactNotFound")
    assert "nothing/here.joblib" in verified["message"]
    assert version["status"]["phase"] == "Failed"


def test_sha256_mismatch(cluster, namespace, s3, s3_bucket, iris):
    uri, sha = upload(s3, s3_bucket, "iris/v1", iris)
    wrong = ("0" if sha[0] != "0" else "1") + sha[1:]
    create(cluster, namespace, version_manifest("iris-v1", "iris", uri, wrong))
    version = wait_condition(
        cluster,
        namespace,
        "modelversions",
        "iris-v1",
        "Ready",
        "False",
        "ChecksumMismatch",
        FAIL_TIMEOUT,
    )
    ready = next(c for c in version["status"]["conditions"] if c["type"] == "Ready")
    assert wrong in ready["message"]
    assert sha in ready["message"]


def test_unknown_runtime_version(cluster, namespace):
    create(cluster, namespace, version_manifest("ctr-v1", "ctr", "s3://b/k", runtimeVersion="9.9"))
    version = wait_condition(
        cluster, namespace, "modelversions", "ctr-v1", "Ready", "False", "UnknownRuntimeVersion", 30
    )
    assert (
        "dev" in next(c for c in version["status"]["conditions"] if c["type"] == "Ready")["message"]
    )


def test_image_that_does_not_exist(cluster, namespace, s3_bucket):
    create(
        cluster,
        namespace,
        version_manifest("ctr-v1", "ctr", f"s3://{s3_bucket}/k", runtimeVersion="missing"),
    )
    version = wait_condition(
        cluster, namespace, "modelversions", "ctr-v1", "Ready", "False", timeout=FAIL_TIMEOUT
    )
    ready = next(c for c in version["status"]["conditions"] if c["type"] == "Ready")
    assert ready["reason"] in {"ErrImagePull", "ImagePullBackOff", "ErrImageNeverPull"}
    assert "fetch" in ready["message"]


def test_a_child_we_do_not_own_is_reported_not_overwritten(cluster, namespace):
    from kubernetes import client

    theirs = client.V1Service(
        metadata=client.V1ObjectMeta(name="ctr-v1-predictor", labels={"owner": "someone"}),
        spec=client.V1ServiceSpec(
            selector={"app": "theirs"}, ports=[client.V1ServicePort(port=81)]
        ),
    )
    cluster.core.create_namespaced_service(namespace, theirs)
    create(cluster, namespace, version_manifest("ctr-v1", "ctr", "s3://b/k"))
    wait_condition(cluster, namespace, "modelversions", "ctr-v1", "Ready", "False", "NotOwned", 30)
    kept = cluster.core.read_namespaced_service("ctr-v1-predictor", namespace)
    assert kept.spec.selector == {"app": "theirs"}


def test_a_crash_looping_predictor(cluster, namespace, s3, s3_bucket, iris):
    uri, sha = upload(s3, s3_bucket, "iris/v1", iris)
    broken = {"env": [{"name": "MODELOPS_MAX_BATCH_SIZE", "value": "many"}]}
    create(cluster, namespace, version_manifest("iris-v1", "iris", uri, sha, predictor=broken))
    version = wait_condition(
        cluster,
        namespace,
        "modelversions",
        "iris-v1",
        "Ready",
        "False",
        "CrashLoopBackOff",
        FAIL_TIMEOUT,
    )
    ready = next(c for c in version["status"]["conditions"] if c["type"] == "Ready")
    assert "container predictor" in ready["message"]
    assert "last exit code 1" in ready["message"]
    verified = next(c for c in version["status"]["conditions"] if c["type"] == "ArtifactVerified")
    assert verified["status"] == "True"
