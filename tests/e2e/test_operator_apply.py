"""Children are applied server-side: Git stays the truth, and a steady state writes nothing.

A field the spec no longer asks for leaves the child (a label, a resource limit); values
the API server normalises (CPU ``0.5`` → ``500m``) cause no re-apply; and once a version
is Ready the operator makes no write at all, counted in the API server's audit log.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import Cluster, audit_log
from tests.e2e.kube import wait_for
from tests.e2e.operator_support import (
    OPERATOR_NAMESPACE,
    create,
    custom,
    model_manifest,
    upload,
    version_manifest,
    wait_condition,
)

pytestmark = pytest.mark.usefixtures("operator", "storage_secret")
QUIET_SECONDS = 60
WRITES = {"create", "update", "patch", "delete", "deletecollection"}


def patch_version(cluster: Cluster, namespace: str, name: str, spec: dict) -> None:
    """A JSON merge patch (a None value removes the field)."""
    custom(cluster).patch_namespaced_custom_object(
        "modelops.dev", "v1alpha1", namespace, "modelversions", name, {"spec": spec}
    )


def template(cluster: Cluster, namespace: str, name: str) -> dict:
    deployment = cluster.apps.read_namespaced_deployment(f"{name}-predictor", namespace)
    return cluster.api.sanitize_for_serialization(deployment.spec.template)


def predictor_of(pod_template: dict) -> dict:
    return next(c for c in pod_template["spec"]["containers"] if c["name"] == "predictor")


def test_a_label_and_limits_taken_out_of_the_spec_leave_the_pods(
    cluster, namespace, s3, s3_bucket, iris
):
    uri, sha = upload(s3, s3_bucket, "iris/v1", iris)
    create(cluster, namespace, model_manifest("iris"))
    resources = {"requests": {"cpu": "0.1", "memory": "128Mi"}, "limits": {"memory": "1Gi"}}
    create(cluster, namespace, version_manifest(
        "iris-v1", "iris", uri, sha, labels={"team": "ads"}, predictor={"resources": resources},
    ))  # fmt: skip
    wait_condition(cluster, namespace, "modelversions", "iris-v1", "Ready", "True")
    pods = template(cluster, namespace, "iris-v1")
    assert pods["metadata"]["labels"]["team"] == "ads"
    assert predictor_of(pods)["resources"]["limits"] == {"memory": "1Gi"}
    assert predictor_of(pods)["resources"]["requests"]["cpu"] == "100m"  # normalised

    patch_version(cluster, namespace, "iris-v1", {"labels": None, "predictor": {
        "resources": {"requests": {"cpu": "0.1", "memory": "128Mi"}, "limits": None}}})  # fmt: skip

    def gone() -> bool:
        pods = template(cluster, namespace, "iris-v1")
        return "team" not in pods["metadata"]["labels"] and "limits" not in (
            predictor_of(pods)["resources"] or {}
        )

    wait_for(gone, timeout=30, what="the label and the limits to leave the pod template")
    wait_condition(cluster, namespace, "modelversions", "iris-v1", "Ready", "True")


def test_a_ready_version_costs_no_write(cluster, namespace, s3, s3_bucket, iris):
    """Over a quiet minute after a version (with CPU written as 0.5) and its Model are
    Ready, the operator writes nothing in its namespace: no re-apply, no status patch, no
    Event (its kopf peering keepalive, cluster-wide, is not counted). Then a change of the
    spec: the same count sees the write that follows."""
    log = audit_log()
    uri, sha = upload(s3, s3_bucket, "iris/v1", iris)
    create(cluster, namespace, model_manifest("iris"))
    predictor = {"resources": {"requests": {"cpu": "0.5", "memory": "128Mi"}}}
    create(cluster, namespace, version_manifest("iris-v1", "iris", uri, sha, predictor=predictor))
    wait_condition(cluster, namespace, "modelversions", "iris-v1", "Ready", "True")
    wait_condition(cluster, namespace, "models", "iris", "Ready", "True")
    time.sleep(10)  # the last pod status updates settle
    start = log.stat().st_size
    time.sleep(QUIET_SECONDS)
    writes = operator_writes(log, start, namespace)
    assert writes == [], f"the operator wrote at steady state: {json.dumps(writes, indent=1)}"

    # The same count sees the operator's writes when there are some: a spec change is
    # applied to the Deployment (so the log was read whole, and the account is the right one).
    changed = log.stat().st_size
    assert changed > start, "the audit log was rotated or not written during the quiet minute"
    patch_version(cluster, namespace, "iris-v1",
                  {"predictor": {"resources": {"requests": {"cpu": "0.25"}}}})  # fmt: skip
    # Other writes may come first (the Model's status shows the version rolling out): the
    # one awaited is the Deployment's.
    deployments = f"/apis/apps/v1/namespaces/{namespace}/deployments/"
    wait_for(lambda: [w for w in operator_writes(log, changed, namespace)
                      if w["uri"].startswith(deployments)],
             timeout=60, what="the operator's write of the changed Deployment")  # fmt: skip


def operator_writes(log: Path, offset: int, namespace: str) -> list[dict]:
    """Write requests by the tests' operator install in ``namespace`` since ``offset``."""
    user = f"system:serviceaccount:{OPERATOR_NAMESPACE}:modelops-operator"
    found = []
    with log.open("rb") as file:
        file.seek(offset)
        for line in file:
            event = json.loads(line)
            ref = event.get("objectRef") or {}
            if (
                event.get("stage") == "ResponseComplete"
                and event.get("verb") in WRITES
                and (event.get("user") or {}).get("username") == user
                and ref.get("namespace") == namespace
            ):
                found.append({"verb": event["verb"], "uri": event.get("requestURI")})
    return found
