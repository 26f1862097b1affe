"""Builders: spec → Deployment and Service manifests."""

from __future__ import annotations

import pytest

from modelops_operator import names
from modelops_operator.api.common import EnvVar, Predictor, Resources
from modelops_operator.api.modelversion import ModelVersionSpec
from modelops_operator.api.schema import parse
from modelops_operator.builders.meta import Owner
from modelops_operator.builders.predictor import (
    PredictorInputs,
    deployment,
    fetch_args,
    merge_predictor,
    replicas,
    serve_args,
)
from modelops_operator.builders.services import model_service, version_service

SHA = "a" * 64
OWNER = Owner("ModelVersion", "ctr-v1", "team", "uid-1")


def spec(**extra):
    body = {"model": "ctr", "artifact": {"uri": "s3://models/ctr/v1/"}, **extra}
    return parse(ModelVersionSpec, body)


def inputs(version_spec=None, predictor=None, secret="modelops-storage"):
    version_spec = version_spec or spec()
    return PredictorInputs(
        OWNER, version_spec, predictor or Predictor(), "runtime:1", secret, "IfNotPresent"
    )


def pod_spec(manifest):
    return manifest["spec"]["template"]["spec"]


def test_deployment_identity_and_ownership():
    manifest = deployment(inputs())
    assert manifest["metadata"]["name"] == "ctr-v1-predictor"
    assert manifest["metadata"]["namespace"] == "team"
    owner = manifest["metadata"]["ownerReferences"][0]
    assert owner == {
        "apiVersion": "modelops.dev/v1alpha1",
        "kind": "ModelVersion",
        "name": "ctr-v1",
        "uid": "uid-1",
        "controller": True,
        "blockOwnerDeletion": True,
    }
    selector = manifest["spec"]["selector"]["matchLabels"]
    assert selector == {names.MODEL_LABEL: "ctr", names.VERSION_LABEL: "ctr-v1"}
    labels = manifest["spec"]["template"]["metadata"]["labels"]
    assert selector.items() <= labels.items()
    assert labels[names.MANAGED_BY] == "modelops"


def test_user_labels_cannot_override_ours():
    manifest = deployment(inputs(spec(labels={"team": "ads", names.VERSION_LABEL: "x"})))
    labels = manifest["spec"]["template"]["metadata"]["labels"]
    assert labels["team"] == "ads"
    assert labels[names.VERSION_LABEL] == "ctr-v1"


def test_fetch_step_verifies_the_artifact():
    manifest = deployment(
        inputs(spec(artifact={"uri": "s3://m/x.joblib", "sha256": SHA, "format": "joblib"}))
    )
    init = pod_spec(manifest)["initContainers"][0]
    assert init["name"] == "fetch"
    assert init["command"] == ["modelops"]
    assert init["args"] == [
        "fetch", "s3://m/x.joblib", "--dest", "/models",
        "--termination-log", "/dev/termination-log", "--sha256", SHA, "--format", "joblib",
    ]  # fmt: skip
    assert init["envFrom"] == [{"secretRef": {"name": "modelops-storage", "optional": True}}]


def test_no_secret_no_env_from():
    manifest = deployment(inputs(secret=""))
    assert "envFrom" not in pod_spec(manifest)["containers"][0]


def test_predictor_serves_under_the_model_name():
    args = serve_args(inputs())
    assert args[:4] == ["serve", "/models/model", "--name", "ctr"]
    assert "--version" in args
    assert args[args.index("--port") + 1] == "8080"


def test_version_mismatch_allowance_reaches_both_steps():
    allowed = spec(allowVersionMismatch=True)
    assert "--allow-version-mismatch" in fetch_args(allowed)
    assert "--allow-version-mismatch" in serve_args(inputs(allowed))
    assert "--allow-version-mismatch" not in fetch_args(spec())


def test_predictor_settings_become_args_env_and_resources():
    predictor = Predictor(
        method="predict_proba",
        max_batch_size=64,
        env=(EnvVar("MODELOPS_NAN_POLICY", "reject"),),
        resources=Resources(requests={"cpu": "100m"}, limits={"memory": 1}),  # type: ignore[dict-item]
    )
    container = pod_spec(deployment(inputs(predictor=predictor)))["containers"][0]
    assert container["args"][-4:] == ["--method", "predict_proba", "--max-batch-size", "64"]
    assert {"name": "MODELOPS_NAN_POLICY", "value": "reject"} in container["env"]
    assert {"name": "MODELOPS_CACHE_DIR", "value": "/cache"} in container["env"]
    assert container["resources"] == {"requests": {"cpu": "100m"}, "limits": {"memory": "1"}}


def test_probes_use_the_health_routes():
    container = pod_spec(deployment(inputs()))["containers"][0]
    assert container["readinessProbe"]["httpGet"] == {"path": "/v2/health/ready", "port": "http"}
    assert container["livenessProbe"]["httpGet"]["path"] == "/v2/health/live"
    assert container["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]


def test_pods_are_locked_down():
    pod = pod_spec(deployment(inputs()))
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 1000
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    for container in pod["containers"] + pod["initContainers"]:
        context = container["securityContext"]
        assert context["readOnlyRootFilesystem"] is True
        assert context["allowPrivilegeEscalation"] is False
        assert context["capabilities"] == {"drop": ["ALL"]}
        mounts = {m["mountPath"] for m in container["volumeMounts"]}
        assert mounts == {"/models", "/cache"}
    assert {v["name"] for v in pod["volumes"]} == {"model", "cache"}


@pytest.mark.parametrize(("min_replicas", "expected"), [(None, 1), (0, 0), (3, 3)])
def test_replicas_default_to_one(min_replicas, expected):
    assert replicas(Predictor(min_replicas=min_replicas)) == expected
    assert (
        deployment(inputs(predictor=Predictor(min_replicas=min_replicas)))["spec"]["replicas"]
        == expected
    )


def test_version_settings_win_over_model_defaults():
    model = Predictor(min_replicas=2, max_batch_size=8, env=(EnvVar("A", "1"),))
    version = Predictor(min_replicas=0)
    merged = merge_predictor(version, model)
    assert merged.min_replicas == 0
    assert merged.max_batch_size == 8
    assert merged.env == (EnvVar("A", "1"),)
    assert merge_predictor(None, model) == model
    assert merge_predictor(version, None) == version
    assert merge_predictor(None, None) == Predictor()


def test_version_service_selects_its_pods():
    service = version_service(OWNER, "ctr")
    assert service["metadata"]["name"] == "ctr-v1-predictor"
    assert service["spec"]["selector"] == {names.MODEL_LABEL: "ctr", names.VERSION_LABEL: "ctr-v1"}
    assert service["spec"]["ports"] == [
        {"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}
    ]


def test_model_service_follows_the_serving_version():
    owner = Owner("Model", "ctr", "team", "uid-m")
    service = model_service(owner, "ctr-v2")
    assert service["metadata"]["name"] == "ctr"
    assert service["metadata"]["ownerReferences"][0]["kind"] == "Model"
    assert service["spec"]["selector"] == {names.MODEL_LABEL: "ctr", names.VERSION_LABEL: "ctr-v2"}
