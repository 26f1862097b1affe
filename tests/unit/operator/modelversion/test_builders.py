"""A ModelVersion's builders: spec → Deployment and Service manifests."""

from __future__ import annotations

import dataclasses

import pytest

from modelops_operator import names
from modelops_operator.api.common import EnvVar, Predictor, Resources
from modelops_operator.api.model import Auth
from modelops_operator.api.modelversion import ModelVersionSpec
from modelops_operator.api.schema import parse
from modelops_operator.meta import Owner
from modelops_operator.modelversion.builders import (
    PredictorInputs,
    Verified,
    claim_of,
    deployment,
    fetch_args,
    light_wake,
    merge_predictor,
    private_service,
    replicas,
    serve_args,
    version_service,
)

SHA = "a" * 64
OWNER = Owner("ModelVersion", "ctr-v1", "team", "uid-1")


def spec(**extra):
    body = {"model": "ctr", "artifact": {"uri": "s3://models/ctr/v1/"}, **extra}
    return parse(ModelVersionSpec, body)


def inputs(version_spec=None, predictor=None, secret="modelops-storage", verified=None):
    version_spec = version_spec or spec()
    return PredictorInputs(
        OWNER, version_spec, predictor or Predictor(), "runtime:1", 1, secret, "IfNotPresent",
        verified=verified,
    )  # fmt: skip


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


def test_predictor_pods_say_where_prometheus_scrapes_them():
    template = deployment(inputs(spec()))["spec"]["template"]
    assert template["metadata"]["annotations"] == {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": "8080",
        "prometheus.io/path": "/metrics",
    }
    ports = template["spec"]["containers"][0]["ports"]
    assert ports == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]


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
    assert init["command"] == ["python", "-m", "modelops_runtime"]
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


def test_the_operators_variables_come_after_the_users_so_they_win():
    """A version written before the CRD refused these names: the last duplicate wins."""
    predictor = Predictor(env=(EnvVar("MODELOPS_AUTH_MODE", "none"),
                               EnvVar("MODELOPS_CACHE_DIR", "/elsewhere")))  # fmt: skip
    wanted = dataclasses.replace(inputs(predictor=predictor), auth=Auth(mode="apiKey"))
    container = pod_spec(deployment(wanted))["containers"][0]
    resolved = {e["name"]: e["value"] for e in container["env"]}  # as the kubelet does
    assert resolved["MODELOPS_AUTH_MODE"] == "apiKey"
    assert resolved["MODELOPS_CACHE_DIR"] == "/cache"


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
        assert mounts == {"/models", "/cache"}  # no pvc:// artifact: nothing else
    assert {v["name"] for v in pod["volumes"]} == {"model", "cache"}


def test_kubernetes_auth_pods_hold_no_credential_and_ask_the_activator():
    """Model code runs in the predictor's pod: it gets no account token (one bound to
    system:auth-delegator could review any token and anyone's access); the activator
    reviews its callers' tokens."""
    url = "http://modelops-activator.modelops-system.svc.cluster.local:9090/modelops/review"
    wanted = dataclasses.replace(inputs(), auth=Auth(mode="kubernetes"), reviewer=url)
    pod = pod_spec(deployment(wanted))
    assert pod["automountServiceAccountToken"] is False
    assert "serviceAccountName" not in pod
    resolved = {e["name"]: e["value"] for e in pod["containers"][0]["env"]}
    assert resolved["MODELOPS_AUTH_MODE"] == "kubernetes"
    assert resolved["MODELOPS_AUTH_RESOURCE"] == "team/ctr"
    assert resolved["MODELOPS_AUTH_REVIEWER"] == url
    assert {v["name"] for v in pod["volumes"]} == {"model", "cache"}


@pytest.mark.parametrize(
    ("min_replicas", "served_once", "expected"),
    [(None, False, 1), (3, False, 3), (3, True, 3), (0, True, 0)],
)
def test_replicas_follow_min_replicas(min_replicas, served_once, expected):
    assert replicas(Predictor(min_replicas=min_replicas), served_once) == expected


def test_a_version_at_zero_starts_one_pod_until_it_has_served():
    """A new version with minReplicas 0 is verified by one pod before it scales to zero."""
    assert replicas(Predictor(min_replicas=0), served_once=False) == 1
    assert replicas(Predictor(min_replicas=0), served_once=True) == 0


def test_deployment_runs_the_replicas_it_is_given():
    version = PredictorInputs(OWNER, spec(), Predictor(), "runtime:1", 4)
    assert deployment(version)["spec"]["replicas"] == 4


def test_a_pvc_artifact_mounts_its_claim_read_only_for_the_fetch_step():
    manifest = deployment(inputs(spec(artifact={"uri": "pvc://models-claim/ctr/v1/model.joblib"})))
    pod = pod_spec(manifest)
    claim = next(v for v in pod["volumes"] if "persistentVolumeClaim" in v)
    assert claim["persistentVolumeClaim"] == {"claimName": "models-claim", "readOnly": True}
    fetch = pod["initContainers"][0]
    mount = next(m for m in fetch["volumeMounts"] if m["name"] == claim["name"])
    assert mount == {"name": claim["name"], "mountPath": "/mnt/pvc/models-claim", "readOnly": True}
    assert {"name": "MODELOPS_PVC_ROOT", "value": "/mnt/pvc"} in fetch["env"]
    assert fetch["args"][1] == "pvc://models-claim/ctr/v1/model.joblib"
    predictor = pod["containers"][0]
    assert all(m["name"] != claim["name"] for m in predictor["volumeMounts"])


def test_claim_names():
    assert claim_of("pvc://c/a/b") == "c"
    assert claim_of("s3://c/a") is None


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


def test_the_private_service_selects_its_pods_and_the_public_one_is_routed():
    private = private_service(OWNER, "ctr")
    assert private["metadata"]["name"] == "ctr-v1-predictor-private"
    assert private["spec"]["selector"] == {names.MODEL_LABEL: "ctr", names.VERSION_LABEL: "ctr-v1"}
    public = version_service(OWNER, "ctr")
    assert public["metadata"]["name"] == "ctr-v1-predictor"
    assert "selector" not in public["spec"]  # the operator writes its endpoints
    assert public["metadata"]["annotations"]["modelops.dev/routes"] == (
        '[{"version":"ctr-v1","percent":100}]'
    )
    assert public["spec"]["ports"] == [
        {"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}
    ]


# --- a light wake: the predictor alone, pinned to the verified sha256 ---------------------


def test_a_light_wake_serves_the_artifact_itself_pinned_to_its_sha256():
    version = spec(artifact={"uri": "s3://m/x.joblib", "format": "joblib"})
    pod = pod_spec(deployment(inputs(version, verified=Verified(SHA, "joblib"))))
    assert pod["initContainers"] == []
    (predictor,) = pod["containers"]
    args = predictor["args"]
    assert args[:2] == ["serve", "s3://m/x.joblib"]
    assert args[args.index("--sha256") + 1] == SHA
    assert args[args.index("--format") + 1] == "joblib"
    assert args[args.index("--termination-log") + 1] == "/dev/termination-log"
    assert predictor["envFrom"] == [{"secretRef": {"name": "modelops-storage", "optional": True}}]


@pytest.mark.parametrize(
    ("declared", "verified", "passed"),
    [
        pytest.param("", "xgboost-json", "xgboost-json", id="a folder: the verified format"),
        pytest.param("joblib", "joblib", "joblib", id="the spec's own"),
        pytest.param("", "", None, id="recorded before formats were: none"),
    ],
)
def test_a_light_wake_names_the_format_so_the_predictor_imports_its_framework_early(
    declared, verified, passed
):
    artifact = {"uri": "s3://models/ctr/v1/", **({"format": declared} if declared else {})}
    args = serve_args(inputs(spec(artifact=artifact), verified=Verified(SHA, verified)))
    assert (args[args.index("--format") + 1] if "--format" in args else None) == passed


def test_a_light_wake_of_a_pvc_artifact_mounts_the_claim_in_the_predictor():
    version = spec(artifact={"uri": "pvc://models-claim/ctr/model.joblib"})
    (predictor,) = pod_spec(deployment(inputs(version, verified=Verified(SHA))))["containers"]
    assert {"name": "MODELOPS_PVC_ROOT", "value": "/mnt/pvc"} in predictor["env"]
    mounts = {m["mountPath"]: m.get("readOnly") for m in predictor["volumeMounts"]}
    assert mounts["/mnt/pvc/models-claim"] is True


def _deployment(replicas, init=True):
    template = {"spec": {"initContainers": [{"name": "fetch"}] if init else []}}
    return {"spec": {"replicas": replicas, "template": template}}


VERIFIED_STATUS = {"sha256": SHA, "format": "xgboost-json"}
LIGHT = Verified(SHA, "xgboost-json")


@pytest.mark.parametrize(
    ("status", "current", "wanted", "expected"),
    [
        pytest.param({}, _deployment(0), 1, None, id="never verified: the fetch step verifies"),
        pytest.param(VERIFIED_STATUS, None, 1, None, id="no Deployment yet"),
        pytest.param(VERIFIED_STATUS, _deployment(2), 2, None, id="serving pods are not replaced"),
        pytest.param(VERIFIED_STATUS, _deployment(1), 0, LIGHT, id="going to zero"),
        pytest.param(VERIFIED_STATUS, _deployment(0), 1, LIGHT, id="woken from zero"),
        pytest.param(VERIFIED_STATUS, _deployment(3, init=False), 5, LIGHT, id="already light"),
    ],
)
def test_light_wake_only_once_verified_and_never_replacing_serving_pods(
    status, current, wanted, expected
):
    assert light_wake(status, current, wanted) == expected
