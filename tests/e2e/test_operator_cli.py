"""``modelops deploy`` does the whole flow from a local .joblib; the other commands follow,
and every way a deploy can end badly exits 1 saying why."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from kubernetes.client.exceptions import ApiException

from tests.e2e.kube import wait_for
from tests.e2e.operator_support import condition, custom, get, wait_condition

pytestmark = pytest.mark.usefixtures("operator", "storage_secret")


def modelops(cluster, s3, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **s3.env, "KUBECONFIG": str(cluster.kubeconfig)}
    return subprocess.run(
        [sys.executable, "-m", "modelops_cli.main", *args],
        env=env, capture_output=True, text=True, timeout=400, check=False,
    )  # fmt: skip


def deploy(cluster, s3, namespace, path, version, *extra: str):
    store = f"s3://{namespace}/models"  # the test's bucket is named after its namespace
    return modelops(cluster, s3, "deploy", str(path), "--model", "ctr", "--version", version,
                    "--store", store, "-n", namespace, *extra)  # fmt: skip


def predict(cluster, s3, namespace, rows_file, *extra: str) -> list:
    done = modelops(cluster, s3, "predict", "ctr", "--instances", str(rows_file), "-n",
                    namespace, *extra)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)["predictions"]


def gone(cluster, namespace, plural, name) -> bool:
    try:
        get(cluster, namespace, plural, name)
    except ApiException as err:
        return err.status == 404
    return False


def test_deploy_predict_switch_delete(
    cluster, namespace, s3, s3_bucket, ctr, ctr_flipped, tmp_path
):
    """Two different models as v1 and v2, so each switch shows in the predictions."""
    done = deploy(cluster, s3, namespace, ctr.path, "v1")
    assert done.returncode == 0, done.stderr + done.stdout
    assert "ctr-v1 is Ready after" in done.stdout
    assert f"http://ctr.{namespace}.svc.cluster.local/v1/models/ctr:predict" in done.stdout
    rows = tmp_path / "rows.json"
    rows.write_text(json.dumps({"instances": ctr.rows}))
    v1, v2 = ctr.local_predict().tolist(), ctr_flipped.local_predict().tolist()
    assert v1 != v2
    assert predict(cluster, s3, namespace, rows) == v1

    done = deploy(cluster, s3, namespace, ctr_flipped.path, "v2")
    assert done.returncode == 0, done.stderr + done.stdout
    assert "Model ctr serves ctr-v2" in done.stdout
    wait_for(lambda: predict(cluster, s3, namespace, rows) == v2, timeout=30,
             what="the Model's URL to answer with v2")  # fmt: skip
    assert predict(cluster, s3, namespace, rows, "--version", "v1") == v1

    done = modelops(cluster, s3, "set-default", "ctr", "v1", "-n", namespace)
    assert done.returncode == 0, done.stderr
    assert get(cluster, namespace, "models", "ctr")["spec"]["defaultVersion"] == "ctr-v1"
    wait_for(lambda: predict(cluster, s3, namespace, rows) == v1, timeout=30,
             what="the pin to move the Model's URL back to v1")  # fmt: skip
    done = modelops(cluster, s3, "versions", "ctr", "-n", namespace)
    lines = done.stdout.splitlines()
    assert lines[0].split()[:2] == ["VERSION", "SERVING"]
    assert any(line.split()[:2] == ["ctr-v1", "pinned"] for line in lines)

    said_in_the_users_words(cluster, s3, namespace, rows)

    done = modelops(cluster, s3, "delete", "ctr", "v2", "-n", namespace)
    assert done.returncode == 0, done.stderr
    wait_for(lambda: gone(cluster, namespace, "modelversions", "ctr-v2"), timeout=60,
             what="ModelVersion ctr-v2 to be gone")  # fmt: skip
    assert not gone(cluster, namespace, "modelversions", "ctr-v1")
    done = modelops(cluster, s3, "delete", "ctr", "-n", namespace)
    assert done.returncode == 0, done.stderr
    for plural, name in (("modelversions", "ctr-v1"), ("models", "ctr")):
        wait_for(lambda p=plural, n=name: gone(cluster, namespace, p, n), timeout=60,
                 what=f"{plural}/{name} to be gone")  # fmt: skip
    wait_for(
        lambda: not cluster.apps.list_namespaced_deployment(namespace).items,
        timeout=60, what="the predictor Deployments to be collected",
    )  # fmt: skip


def said_in_the_users_words(cluster, s3, namespace, rows) -> None:
    """A name that does not exist is answered with the resource as the user knows it, what
    exists, and what to do; nothing is changed."""
    no_model = (
        f"modelops: no Model `nope` in namespace `{namespace}`; the Models there: ctr "
        "(check the name, or give the Model's namespace with -n)"
    )
    no_version = (
        f"modelops: no version `ctr-v9` of Model `ctr` in namespace `{namespace}`; its "
        f"versions: ctr-v1, ctr-v2 (modelops versions ctr -n {namespace} shows them)"
    )
    for args, said in [
        (("predict", "nope", "--instances", str(rows)), no_model),
        (("versions", "nope"), no_model),
        (("set-default", "nope", "v1"), no_model),
        (("delete", "nope"), no_model),
        (("predict", "ctr", "--instances", str(rows), "--version", "v9"), no_version),
        (("set-default", "ctr", "v9"), no_version),
        (("delete", "ctr", "v9"), no_version),
        (("train", "promote", "ctr", "v9"), no_version),
    ]:
        done = modelops(cluster, s3, *args, "-n", namespace)
        assert (done.returncode, done.stderr.strip()) == (1, said), args
    assert get(cluster, namespace, "models", "ctr")["spec"]["defaultVersion"] == "ctr-v1"


def test_deploy_of_an_unreadable_file_exits_non_zero(cluster, namespace, s3, s3_bucket, tmp_path):
    not_a_model = tmp_path / "notes.joblib"
    not_a_model.write_bytes(b"hello, not a pickle")
    done = modelops(cluster, s3, "deploy", str(not_a_model), "--model", "x", "--version", "v1",
                    "--store", f"s3://{s3_bucket}/m", "-n", namespace)  # fmt: skip
    assert done.returncode == 1
    assert "UnknownFormat" in done.stderr


def test_deploy_of_a_version_that_fails_exits_1_with_its_reason(
    cluster, namespace, s3, s3_bucket, ctr
):
    done = deploy(cluster, s3, namespace, ctr.path, "v1", "--runtime-version", "missing")
    assert done.returncode == 1, done.stdout
    assert "ctr-v1 failed:" in done.stderr
    assert any(r in done.stderr for r in ("ErrImageNeverPull", "ErrImagePull", "ImagePullBackOff"))


def test_deploy_that_times_out_says_what_it_waited_for(cluster, namespace, s3, s3_bucket, ctr):
    done = deploy(cluster, s3, namespace, ctr.path, "v1", "--timeout", "2")
    assert done.returncode == 1, done.stdout
    assert "waited 2s for ModelVersion ctr-v1 to be Ready; last seen:" in done.stderr


def test_deploy_at_min_replicas_zero_is_verified_then_scales_to_zero(
    cluster, namespace, s3, s3_bucket, ctr
):
    """One pod verifies the version (Ready) and deploy returns; idle, it goes to zero and
    stays Ready (the test shortens the idle timeout from its default of 300 s)."""
    done = deploy(cluster, s3, namespace, ctr.path, "v1", "--min-replicas", "0")
    assert done.returncode == 0, done.stderr + done.stdout
    custom(cluster).patch_namespaced_custom_object(
        "modelops.dev", "v1alpha1", namespace, "modelversions", "ctr-v1",
        {"spec": {"predictor": {"minReplicas": 0, "idleTimeoutSeconds": 10}}},
    )  # fmt: skip
    version = wait_condition(
        cluster, namespace, "modelversions", "ctr-v1", "Active", "False", "ScaledToZero"
    )
    assert condition(version, "Ready")["status"] == "True"
    assert version["status"]["phase"] == "ScaledToZero"
    assert len(version["status"]["sha256"]) == 64  # what the pod verified is kept
    deployment = cluster.apps.read_namespaced_deployment("ctr-v1-predictor", namespace)
    assert deployment.spec.replicas == 0
    model = wait_condition(cluster, namespace, "models", "ctr", "Ready", "True")
    assert model["status"]["servingVersion"] == "ctr-v1"
