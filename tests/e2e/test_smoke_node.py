"""Smoke test of the real node: a pod from the runtime image serves a model from S3.

A model trained here is uploaded to the cluster's S3 server; a Deployment from the runtime
image runs ``modelops serve s3://...``; a Service fronts it. The prediction must equal the
local ``model.predict`` when asked through the Service from another pod (pod network,
kube-proxy) and from the host (host -> ClusterIP through kube-proxy's rules).
"""

from __future__ import annotations

import json
import urllib.request
from functools import partial
from pathlib import Path
from typing import Any

import joblib
import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from tests.e2e.conftest import LOCAL_CONTEXT, S3, Cluster
from tests.e2e.kube import describe_namespace, wait_for

pytestmark = pytest.mark.smoke  # part of the smoke gate (test_gate.py)
MODEL = "iris"
PORT = 8080

# Runs in a pod from the runtime image: POST the body to the URL, print the reply.
CLIENT = """
import sys, urllib.request
request = urllib.request.Request(
    sys.argv[1], data=sys.argv[2].encode(), headers={"Content-Type": "application/json"}
)
with urllib.request.urlopen(request, timeout=20) as reply:
    print(reply.read().decode())
"""

RESTRICTED = client.V1SecurityContext(
    run_as_non_root=True,
    allow_privilege_escalation=False,
    capabilities=client.V1Capabilities(drop=["ALL"]),
    seccomp_profile=client.V1SeccompProfile(type="RuntimeDefault"),
)


def predictor(image: str, uri: str, secret: str) -> client.V1Deployment:
    labels = {"app": "smoke-predictor"}
    container = client.V1Container(
        name="predictor",
        image=image,
        image_pull_policy="Never",
        args=["serve", uri, "--name", MODEL, "--host", "0.0.0.0", "--port", str(PORT)],
        env_from=[client.V1EnvFromSource(secret_ref=client.V1SecretEnvSource(name=secret))],
        ports=[client.V1ContainerPort(container_port=PORT, name="http")],
        readiness_probe=client.V1Probe(
            http_get=client.V1HTTPGetAction(path="/v2/health/ready", port=PORT),
            period_seconds=1,
        ),
        security_context=RESTRICTED,
    )
    return client.V1Deployment(
        metadata=client.V1ObjectMeta(name="smoke-predictor", labels=labels),
        spec=client.V1DeploymentSpec(
            replicas=1,
            selector=client.V1LabelSelector(match_labels=labels),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels=labels),
                spec=client.V1PodSpec(containers=[container]),
            ),
        ),
    )


def service() -> client.V1Service:
    return client.V1Service(
        metadata=client.V1ObjectMeta(name="smoke-predictor"),
        spec=client.V1ServiceSpec(
            selector={"app": "smoke-predictor"},
            ports=[client.V1ServicePort(port=80, target_port="http", name="http")],
        ),
    )


def client_pod(image: str, url: str, body: str) -> client.V1Pod:
    return client.V1Pod(
        metadata=client.V1ObjectMeta(name="smoke-client"),
        spec=client.V1PodSpec(
            restart_policy="Never",
            containers=[
                client.V1Container(
                    name="client",
                    image=image,
                    image_pull_policy="Never",
                    command=["python", "-c", CLIENT, url, body],
                    security_context=RESTRICTED,
                )
            ],
        ),
    )


def post_json(url: str, payload: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=20) as reply:
        result: dict[str, Any] = json.loads(reply.read())
    return result


def test_runtime_pod_answers_through_its_service_from_a_pod_and_the_host(
    cluster: Cluster,
    namespace: str,
    s3: S3,
    s3_bucket: str,
    runtime_image: str,
    tmp_path: Path,
) -> None:
    features, target = load_iris(return_X_y=True)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(features, target)
    artifact = tmp_path / "model.joblib"
    joblib.dump(model, artifact)
    s3.client().upload_file(str(artifact), s3_bucket, "smoke/model.joblib")
    rows = features[::15].tolist()
    expected = model.predict(features[::15]).tolist()
    payload = {"instances": rows}

    core, apps = cluster.core, cluster.apps
    core.create_namespaced_secret(
        namespace,
        client.V1Secret(metadata=client.V1ObjectMeta(name="s3"), string_data=s3.env),
    )
    apps.create_namespaced_deployment(
        namespace, predictor(runtime_image, f"s3://{s3_bucket}/smoke/model.joblib", "s3")
    )
    svc = core.create_namespaced_service(namespace, service())
    diagnose = partial(describe_namespace, cluster.api, namespace)

    def available() -> bool:
        status = apps.read_namespaced_deployment_status("smoke-predictor", namespace).status
        return bool(status.available_replicas)

    wait_for(available, timeout=180, what="the predictor to be ready", diagnose=diagnose)

    def endpoint_ready() -> bool:
        endpoints = core.read_namespaced_endpoints("smoke-predictor", namespace)
        return any(subset.addresses for subset in endpoints.subsets or [])

    wait_for(endpoint_ready, timeout=30, what="the Service's endpoint", diagnose=diagnose)
    url = f"http://{svc.spec.cluster_ip}/v1/models/{MODEL}:predict"

    # From the host: on the local node straight to the ClusterIP (kube-proxy's rules);
    # on kind/minikube, whose service network the host cannot route to, through the
    # API server's service proxy. kube-proxy writes the Service's rules a moment after its
    # endpoints (until then it refuses connections to it): the first answer is waited for.
    def from_host() -> dict[str, Any] | None:
        try:
            if cluster.context == LOCAL_CONTEXT:
                return post_json(url, payload)
            return post_via_api_proxy(cluster, namespace, payload)
        except (OSError, ValueError, ApiException):
            return None

    answer = wait_for(from_host, timeout=30, what="the Service to answer the host")
    assert answer["predictions"] == expected

    # From another pod, through the Service (the node's rules are in place now).
    core.create_namespaced_pod(namespace, client_pod(runtime_image, url, json.dumps(payload)))

    def client_finished() -> str | None:
        phase = core.read_namespaced_pod("smoke-client", namespace).status.phase
        return phase if phase in ("Succeeded", "Failed") else None

    phase = wait_for(client_finished, timeout=120, what="the client pod", diagnose=diagnose)
    assert phase == "Succeeded", diagnose()
    from_pod = json.loads(core.read_namespaced_pod_log("smoke-client", namespace))
    assert from_pod["predictions"] == expected


def post_via_api_proxy(cluster: Cluster, namespace: str, payload: dict[str, Any]) -> dict[str, Any]:
    path = (
        f"/api/v1/namespaces/{namespace}/services/smoke-predictor:http/proxy"
        f"/v1/models/{MODEL}:predict"
    )
    reply = cluster.api.call_api(
        path,
        "POST",
        header_params={"Content-Type": "application/json", "Accept": "application/json"},
        body=payload,
        auth_settings=["BearerToken"],
        _preload_content=False,
        _request_timeout=20,
    )
    result: dict[str, Any] = json.loads(reply[0].data)
    return result
