"""What an install's accounts may do, asked of the real API server as each account
(``kubectl --as``): the activator, which serves every namespace, may ask for a wake and
change nothing else of a ModelVersion (RBAC lets it patch; the chart's admission policy
narrows the patch to the activation annotation)."""

from __future__ import annotations

import json
import subprocess

import pytest

from modelops_contracts.serving import ACTIVATION_ANNOTATION
from tests.e2e.conftest import Cluster
from tests.e2e.kube import wait_for
from tests.e2e.operator_support import (
    OPERATOR_NAMESPACE,
    create,
    get,
    model_manifest,
    version_manifest,
)

pytestmark = pytest.mark.usefixtures("operator")
ACTIVATOR = f"system:serviceaccount:{OPERATOR_NAMESPACE}:modelops-activator"


def kubectl_as(cluster: Cluster, user: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["kubectl", "--kubeconfig", str(cluster.kubeconfig), "--as", user, *args],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_the_activator_may_ask_for_a_wake_and_change_nothing_else(cluster, namespace):
    create(cluster, namespace, model_manifest("iris"))
    create(cluster, namespace, version_manifest("iris-v1", "iris", "s3://nowhere/iris/v1"))
    before = wait_for(
        lambda: (found := get(cluster, namespace, "modelversions", "iris-v1"))["metadata"].get(
            "finalizers") and found,
        timeout=60, what="the operator's finalizer on the version",
    )  # fmt: skip

    def patch(body: dict) -> subprocess.CompletedProcess[str]:
        return kubectl_as(cluster, ACTIVATOR, "patch", "modelversions.modelops.dev", "iris-v1",
                          "-n", namespace, "--type", "merge", "-p", json.dumps(body))  # fmt: skip

    wake = patch({"metadata": {"annotations": {ACTIVATION_ANNOTATION: "2026-12-07T10:00:00Z"}}})
    assert wake.returncode == 0, wake.stderr
    hostile = {
        "spec": {"spec": {"predictor": {"minReplicas": 0, "maxReplicas": 100}}},
        "label": {"metadata": {"labels": {"modelops.dev/model": "other"}}},
        "annotation": {"metadata": {"annotations": {"team": "other"}}},
        "finalizers": {"metadata": {"finalizers": []}},
    }
    refused = {what: patch(body) for what, body in hostile.items()}
    assert {what: done.returncode != 0 for what, done in refused.items()} == dict.fromkeys(
        hostile, True
    ), {what: done.stdout for what, done in refused.items()}
    for done in refused.values():
        assert "the activator may change only the modelops.dev/activation-requested" in (
            done.stderr
        ), done.stderr
    after = get(cluster, namespace, "modelversions", "iris-v1")
    assert after["spec"] == before["spec"]
    assert after["metadata"]["finalizers"] == before["metadata"]["finalizers"]
    assert after["metadata"]["annotations"][ACTIVATION_ANNOTATION] == "2026-12-07T10:00:00Z"

    # What RBAC itself refuses it: no other verb on versions, no status, no Secrets.
    denied = [
        ("delete", "modelversions.modelops.dev"),
        ("create", "modelversions.modelops.dev"),
        ("patch", "modelversions.modelops.dev", "--subresource", "status"),
        ("patch", "models.modelops.dev"),
        ("get", "secrets"),
    ]

    def can_i(*check: str) -> str:
        return kubectl_as(cluster, ACTIVATOR, "auth", "can-i", *check, "-n", namespace).stdout

    answers = {" ".join(check): can_i(*check).strip() for check in denied}
    assert answers == dict.fromkeys(answers, "no")


OPERATOR = f"system:serviceaccount:{OPERATOR_NAMESPACE}:modelops-operator"


def test_token_reviews_are_the_activators_alone(cluster, namespace):
    """Models with kubernetes auth have their callers' tokens reviewed by the activator,
    so the operator may bind no role to anyone and make no account (that predictor pods
    hold no credential is checked where such a Model serves: test_serving_auth.py)."""

    def can_i(user: str, *check: str) -> str:
        return kubectl_as(cluster, user, "auth", "can-i", *check).stdout.strip()

    reviews = [("create", "tokenreviews.authentication.k8s.io"),
               ("create", "subjectaccessreviews.authorization.k8s.io")]  # fmt: skip
    assert {c: can_i(ACTIVATOR, *c) for c in reviews} == dict.fromkeys(reviews, "yes")
    binds = [("create", "clusterrolebindings"), ("patch", "clusterrolebindings"),
             ("create", "serviceaccounts", "-n", namespace)]  # fmt: skip
    assert {c: can_i(OPERATOR, *c) for c in binds} == dict.fromkeys(binds, "no")
