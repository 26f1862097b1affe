"""Auth on predict, on the real cluster, by every path a request can take: the Model's
URL and a version's URL (straight to the pods) and through the activator."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys

import pytest
from kubernetes import client

from modelops_contracts.serving import (
    ACTIVATION_ANNOTATION,
    API_KEY_HEADER,
    TARGET_HEADER,
    token_audience,
)
from tests.e2e.conftest import Cluster
from tests.e2e.kube import wait_for
from tests.e2e.load import address, pods_of, send, service_host
from tests.e2e.operator_support import (
    OPERATOR_NAMESPACE,
    create,
    get,
    model_manifest,
    upload,
    version_manifest,
    wait_condition,
)

pytestmark = pytest.mark.usefixtures("operator", "storage_secret")
ACTIVATOR = "modelops-activator"


def paths(cluster: Cluster, namespace: str) -> dict[str, tuple[str, str, dict[str, str]]]:
    """name → (address, Host, extra headers) of each way to the Model's predictor."""
    version = "iris-v1-predictor"
    return {
        "model URL": (address(cluster, namespace, "iris"), service_host("iris", namespace), {}),
        "version URL": (
            address(cluster, namespace, version),
            service_host(version, namespace),
            {},
        ),
        "activator": (
            address(cluster, OPERATOR_NAMESPACE, ACTIVATOR),
            service_host(ACTIVATOR, OPERATOR_NAMESPACE),
            {TARGET_HEADER: f"{namespace}/iris"},
        ),
    }


def serve_with_auth(cluster, namespace, s3, bucket, iris, auth: dict) -> None:
    uri, sha = upload(s3, bucket, "iris/v1", iris)
    create(cluster, namespace, model_manifest("iris", auth=auth))
    create(cluster, namespace, version_manifest("iris-v1", "iris", uri, sha))
    wait_condition(cluster, namespace, "models", "iris", "Ready", "True")


def statuses(cluster, namespace, iris, headers: dict[str, str]) -> dict[str, int]:
    return {
        name: send(ip, host, "iris", iris.rows[:1], {**extra, **headers}).status
        for name, (ip, host, extra) in paths(cluster, namespace).items()
    }


def test_api_keys_are_checked_on_every_path_and_rotate(cluster, namespace, s3, s3_bucket, iris):
    keys = client.V1Secret(metadata=client.V1ObjectMeta(name="iris-keys"),
                           string_data={"first": "key-one"})  # fmt: skip
    cluster.core.create_namespaced_secret(namespace, keys)
    serve_with_auth(cluster, namespace, s3, s3_bucket, iris,
                    {"mode": "apiKey", "secretName": "iris-keys"})  # fmt: skip
    every = {"model URL", "version URL", "activator"}
    assert statuses(cluster, namespace, iris, {API_KEY_HEADER: "key-one"}) == dict.fromkeys(
        every, 200
    )
    bearer = {"Authorization": "Bearer key-one"}
    assert statuses(cluster, namespace, iris, bearer) == dict.fromkeys(every, 200)
    assert statuses(cluster, namespace, iris, {API_KEY_HEADER: "nope"}) == dict.fromkeys(every, 401)
    assert statuses(cluster, namespace, iris, {}) == dict.fromkeys(every, 401)

    # Rotation: the new key in, the old one out, with no pod restarted.
    pods = {p.metadata.name for p in cluster.core.list_namespaced_pod(namespace).items}
    rotated = {"second": base64.b64encode(b"key-two").decode()}
    cluster.core.replace_namespaced_secret(
        "iris-keys", namespace,
        client.V1Secret(metadata=client.V1ObjectMeta(name="iris-keys"), data=rotated),
    )  # fmt: skip
    new_key = {API_KEY_HEADER: "key-two"}
    wait_for(lambda: statuses(cluster, namespace, iris, new_key) == dict.fromkeys(every, 200),
             timeout=180, what="the new key to be accepted")  # fmt: skip
    assert statuses(cluster, namespace, iris, {API_KEY_HEADER: "key-one"}) == dict.fromkeys(
        every, 401
    )
    assert {p.metadata.name for p in cluster.core.list_namespaced_pod(namespace).items} == pods


def token_of(cluster: Cluster, namespace: str, account: str, audiences: list[str]) -> str:
    """A token of ``account`` (made if missing) bound to ``audiences`` (none: the API
    server's own, as a pod's or a kubeconfig's token is)."""
    try:
        cluster.core.create_namespaced_service_account(
            namespace, client.V1ServiceAccount(metadata=client.V1ObjectMeta(name=account))
        )
    except client.ApiException as err:
        if err.status != 409:
            raise
    spec = client.V1TokenRequestSpec(audiences=audiences)
    request = client.AuthenticationV1TokenRequest(spec=spec)
    made = cluster.core.create_namespaced_service_account_token(account, namespace, request)
    return str(made.status.token)


def test_kubernetes_tokens_are_judged_by_rbac_on_every_path(
    cluster, namespace, s3, s3_bucket, iris, tmp_path
):
    rbac = client.RbacAuthorizationV1Api(cluster.api)
    rbac.create_namespaced_role(namespace, client.V1Role(
        metadata=client.V1ObjectMeta(name="predict-iris"),
        rules=[client.V1PolicyRule(api_groups=["modelops.dev"], resources=["models/predict"],
                                   verbs=["create"], resource_names=["iris"])],
    ))  # fmt: skip
    rbac.create_namespaced_role_binding(namespace, client.V1RoleBinding(
        metadata=client.V1ObjectMeta(name="caller-predicts-iris"),
        role_ref=client.V1RoleRef(api_group="rbac.authorization.k8s.io", kind="Role",
                                  name="predict-iris"),
        subjects=[client.RbacV1Subject(kind="ServiceAccount", name="caller",
                                       namespace=namespace)],
    ))  # fmt: skip
    audience = token_audience(namespace, "iris")
    caller = token_of(cluster, namespace, "caller", [audience])
    stranger = token_of(cluster, namespace, "x", [audience])
    # The caller's token for the API server, and one for another Model: the same RBAC would
    # allow the caller, but a predictor accepting them could replay them there.
    cluster_token = token_of(cluster, namespace, "caller", [])
    other_model = token_of(cluster, namespace, "caller", [token_audience(namespace, "ctr")])
    serve_with_auth(cluster, namespace, s3, s3_bucket, iris, {"mode": "kubernetes"})
    every = {"model URL", "version URL", "activator"}
    # Model code runs in the predictor's pod: it holds no account token (the activator
    # reviews the callers' tokens for it), and no account in the namespace may review.
    pods = pods_of(cluster, namespace, "iris-v1")
    assert pods
    for pod in pods:
        assert pod.spec.automount_service_account_token is False
        assert pod.spec.service_account_name in (None, "default")
        assert not [v for v in pod.spec.volumes or [] if v.projected]
    may_review = subprocess.run(
        ["kubectl", "--kubeconfig", str(cluster.kubeconfig), "auth", "can-i", "create",
         "tokenreviews.authentication.k8s.io", "--as",
         f"system:serviceaccount:{namespace}:modelops-predictor"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert may_review.stdout.strip() == "no"

    def bearer(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    assert statuses(cluster, namespace, iris, bearer(caller)) == dict.fromkeys(every, 200)
    assert statuses(cluster, namespace, iris, bearer(stranger)) == dict.fromkeys(every, 403)
    assert statuses(cluster, namespace, iris, bearer(cluster_token)) == dict.fromkeys(every, 401)
    assert statuses(cluster, namespace, iris, bearer(other_model)) == dict.fromkeys(every, 401)
    assert statuses(cluster, namespace, iris, bearer("not-a-token")) == dict.fromkeys(every, 401)
    assert statuses(cluster, namespace, iris, {}) == dict.fromkeys(every, 401)

    # The CLI makes the caller's audience-bound token itself, through the API server's proxy.
    rows = tmp_path / "rows.json"
    rows.write_text(json.dumps(iris.rows[:2]))
    env = {**os.environ, "KUBECONFIG": str(cluster.kubeconfig)}
    cli = [sys.executable, "-m", "modelops_cli.main", "predict", "iris", "--instances",
           str(rows), "-n", namespace]  # fmt: skip
    done = subprocess.run([*cli, "--service-account", "caller"], env=env, capture_output=True,
                          text=True, timeout=120, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["predictions"] == iris.local_predict()[:2].tolist()
    refused = subprocess.run(cli, env=env, capture_output=True, text=True, timeout=120,
                             check=False)  # fmt: skip
    assert refused.returncode != 0
    assert f"--audience {audience}" in refused.stderr


def test_an_anonymous_caller_wakes_nothing(cluster, namespace, s3, s3_bucket, iris):
    """A version of an apiKey Model at zero: requests with no key are refused 401 by the
    activator at once, and nothing is woken (no activation asked, no pod); one with the
    key wakes it and is answered."""
    keys = client.V1Secret(metadata=client.V1ObjectMeta(name="iris-keys"),
                           string_data={"first": "key-one"})  # fmt: skip
    cluster.core.create_namespaced_secret(namespace, keys)
    uri, sha = upload(s3, s3_bucket, "iris/v1", iris)
    auth = {"mode": "apiKey", "secretName": "iris-keys"}
    create(cluster, namespace, model_manifest("iris", auth=auth))
    idle = {"minReplicas": 0, "maxReplicas": 1, "idleTimeoutSeconds": 10,
            "scaleDownDelaySeconds": 0}  # fmt: skip
    create(cluster, namespace, version_manifest("iris-v1", "iris", uri, sha, predictor=idle))
    wait_condition(cluster, namespace, "models", "iris", "Ready", "True")
    wait_condition(cluster, namespace, "modelversions", "iris-v1", "Active", "False",
                   "ScaledToZero", timeout=120)  # fmt: skip
    wait_for(lambda: not pods_of(cluster, namespace, "iris-v1", terminating=True), timeout=120,
             what="the version's pods to be gone")  # fmt: skip
    ip, host = address(cluster, namespace, "iris"), service_host("iris", namespace)

    anonymous = [send(ip, host, "iris", iris.rows[:1]) for _ in range(5)]
    assert [a.status for a in anonymous] == [401] * 5, [a.body for a in anonymous]
    assert all("WWW-Authenticate" in a.headers or "www-authenticate" in a.headers
               for a in anonymous)  # fmt: skip
    version = get(cluster, namespace, "modelversions", "iris-v1")
    assert ACTIVATION_ANNOTATION not in (version["metadata"].get("annotations") or {})
    assert not pods_of(cluster, namespace, "iris-v1", terminating=True)

    keyed = send(ip, host, "iris", iris.rows[:1], {API_KEY_HEADER: "key-one"})
    assert keyed.status == 200, keyed.body
