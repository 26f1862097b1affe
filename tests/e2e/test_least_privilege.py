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


def binding(name: str, subjects: list[dict], role: str = "system:auth-delegator") -> str:
    return json.dumps({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
        "metadata": {"name": name, "labels": {"modelops.dev/e2e": "least-privilege"}},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                    "name": role},
        "subjects": subjects,
    })  # fmt: skip


def test_the_operator_may_bind_only_a_namespaces_predictor_account_to_reviews(cluster, namespace):
    """The operator may create ClusterRoleBindings (a namespace's predictors review tokens);
    it may not grant token and access reviews to anyone else, nor bind another role."""
    account = {"kind": "ServiceAccount", "name": "modelops-predictor", "namespace": namespace}
    mallory = {"kind": "User", "name": "mallory", "apiGroup": "rbac.authorization.k8s.io"}
    other = {"kind": "ServiceAccount", "name": "default", "namespace": namespace}
    ours = f"modelops-predictor-{namespace}"

    def apply(manifest: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["kubectl", "--kubeconfig", str(cluster.kubeconfig), "--as", OPERATOR, "apply",
             "--server-side", "--field-manager", "e2e", "-f", "-"],
            input=manifest, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip

    try:
        refused = {
            "a user": apply(binding(ours, [mallory])),
            "another account": apply(binding(ours, [other])),
            "a second subject": apply(binding(ours, [account, mallory])),
            "another name": apply(binding(f"e2e-{namespace}", [account])),
            "another role": apply(binding(ours, [account], role="view")),
        }
        allowed = apply(binding(ours, [account]))
        widened = apply(binding(ours, [account, mallory]))  # the existing binding, patched
    finally:
        for name in (ours, f"e2e-{namespace}"):
            subprocess.run(["kubectl", "--kubeconfig", str(cluster.kubeconfig), "delete",
                            "clusterrolebinding", name, "--ignore-not-found"],
                           capture_output=True, timeout=60, check=False)  # fmt: skip
    assert {what: done.returncode != 0 for what, done in refused.items()} == dict.fromkeys(
        refused, True
    ), {what: done.stdout for what, done in refused.items()}
    for what, done in refused.items():
        # Another role is RBAC's own refusal (no bind on it); the rest are the policy's.
        expected = "forbidden" if what == "another role" else "the operator may bind only"
        assert expected in done.stderr, (what, done.stderr)
    assert allowed.returncode == 0, allowed.stderr
    assert widened.returncode != 0
    assert "the operator may bind only" in widened.stderr
