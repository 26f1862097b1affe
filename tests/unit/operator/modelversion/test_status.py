"""A ModelVersion's status from its Deployment and pods: the fetch verdict, the condition
set (ArtifactVerified, RuntimeCompatible, ResourcesAvailable make Ready; Active apart)."""

from __future__ import annotations

import json

import pytest

from modelops_contracts.verdict import Verdict
from modelops_operator.conditions import Observation, changes, find
from modelops_operator.modelversion.status import (
    Observed,
    active_observation,
    artifact_observations,
    phase,
    pod_problem,
    resources_observation,
    served_once,
    verdict,
    version_status,
)

T0, T1 = "2026-01-01T00:00:00Z", "2026-01-01T00:01:00Z"
VERIFIED = {
    "reason": "Verified",
    "framework": "xgboost",
    "format": "joblib",
    "sha256": "ab" * 32,
    "recorded_versions": {"sklearn": "1.9.1", "xgboost": "3.2.0"},
    "runtime_versions": {"sklearn": "1.9.1", "xgboost": "3.2.0"},
    "metrics": {"auc": 0.9},
    "version_problems": [],
}


def pod(init=None, main=None, conditions=None):
    status = {
        "initContainerStatuses": [init] if init else [],
        "containerStatuses": [main] if main else [],
    }
    if conditions:
        status["conditions"] = conditions
    return {"status": status}


def fetch_terminated(message, exit_code=0, finished=T0, last=False):
    state = {"terminated": {"exitCode": exit_code, "message": message, "finishedAt": finished}}
    key = "lastState" if last else "state"
    return {"name": "fetch", key: state}


def deployment(ready=0, conditions=None):
    return {"status": {"replicas": 1, "readyReplicas": ready, "conditions": conditions or []}}


def verified(**changes):
    return Verdict.from_termination(json.dumps({**VERIFIED, **changes}), 0)


def of(status, type_):
    return find(status["conditions"], type_) or {}


# --- the fetch step's verdict ------------------------------------------------------------


def test_no_verdict_while_fetching():
    assert verdict([pod(init={"name": "fetch", "state": {"running": {}}})]) is None
    assert verdict([]) is None


def test_verdict_from_termination_message():
    found = verdict([pod(init=fetch_terminated(json.dumps(VERIFIED)))])
    assert found == verified()
    assert found.verified
    assert found.recorded_versions == {"sklearn": "1.9.1", "xgboost": "3.2.0"}


def test_newest_verdict_wins_across_pods_and_restarts():
    old = fetch_terminated(
        json.dumps({"reason": "ArtifactNotFound", "message": "gone"}), 1, T0, last=True
    )
    new = fetch_terminated(json.dumps(VERIFIED), 0, T1)
    assert verdict([pod(init=old), pod(init=new)]).reason == "Verified"


def test_a_predictor_serving_without_the_fetch_step_reports_its_refusal():
    refusal = json.dumps({"reason": "ChecksumMismatch", "message": "sha256 mismatch"})
    verified_first = fetch_terminated(json.dumps(VERIFIED), 0, T0)
    predictor = {"name": "predictor", "lastState": {"terminated": {
        "exitCode": 1, "message": refusal, "finishedAt": T1}}}  # fmt: skip
    assert verdict([pod(main=predictor)]).reason == "ChecksumMismatch"
    assert verdict([pod(init=verified_first), pod(main=predictor)]).reason == "ChecksumMismatch"
    drained = {"name": "predictor", "lastState": {"terminated": {"exitCode": 0, "finishedAt": T1}}}
    assert verdict([pod(init=verified_first, main=drained)]).verified


def test_unparsable_message_is_reported_as_is():
    found = verdict([pod(init=fetch_terminated("Traceback: boom", 1))])
    assert found.reason == "VerificationFailed"
    assert "boom" in found.message


def test_verified_artifact_and_compatible_runtime():
    artifact, runtime = artifact_observations(verified(), [], blocked=False)
    assert (artifact.status, artifact.reason) == ("True", "Verified")
    assert (runtime.status, runtime.reason) == ("True", "Compatible")
    assert "xgboost 3.2.0" in runtime.message


def test_artifact_failure():
    artifact, runtime = artifact_observations(
        Verdict.refused("ChecksumMismatch", "sha256 mismatch"), [], blocked=False
    )
    assert (artifact.status, artifact.reason, artifact.message) == (
        "False",
        "ChecksumMismatch",
        "sha256 mismatch",
    )
    assert runtime.status == "Unknown"


def test_version_mismatch():
    artifact, runtime = artifact_observations(
        Verdict.refused("VersionMismatch", "sklearn 1.5 vs 1.9"), [], blocked=False
    )
    assert artifact.status == "True"
    assert (runtime.status, runtime.reason) == ("False", "VersionMismatch")
    assert "1.5" in runtime.message


def test_allowed_mismatch_is_named_but_serves():
    found = VERIFIED | {"version_problems": ["sklearn 1.5.0 recorded, 1.9.1 here"]}
    _, runtime = artifact_observations(Verdict.from_termination(json.dumps(found), 0), [], False)
    assert (runtime.status, runtime.reason) == ("False", "VersionMismatchAllowed")
    assert runtime.severity == "Warning"
    pods = [pod(init=fetch_terminated(json.dumps(found)))]
    status = version_status(Observed(1, deployment(ready=1), pods), {}, 1, T0)
    assert of(status, "Ready")["status"] == "True"
    assert of(status, "RuntimeCompatible")["severity"] == "Warning"


# --- pods stuck ----------------------------------------------------------------------------


def test_image_pull_failure_is_a_problem():
    main = {
        "name": "predictor",
        "state": {"waiting": {"reason": "ErrImagePull", "message": "not found"}},
    }
    problem = pod_problem([pod(main=main)])
    assert problem is not None
    assert (problem.type, problem.status, problem.reason) == (
        "ResourcesAvailable", "False", "ErrImagePull",
    )  # fmt: skip
    assert "not found" in problem.message


def test_crash_loop_names_the_last_exit():
    main = {
        "name": "predictor",
        "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off"}},
        "lastState": {"terminated": {"exitCode": 137, "reason": "OOMKilled"}},
    }
    problem = pod_problem([pod(main=main)])
    assert problem is not None
    assert problem.reason == "CrashLoopBackOff"
    assert "137" in problem.message
    assert "OOMKilled" in problem.message


def test_unschedulable_pod():
    cond = {
        "type": "PodScheduled",
        "status": "False",
        "reason": "Unschedulable",
        "message": "no cpu",
    }
    problem = pod_problem([pod(conditions=[cond])])
    assert problem is not None
    assert problem.reason == "Unschedulable"


def test_starting_containers_are_not_a_problem():
    main = {"name": "predictor", "state": {"waiting": {"reason": "ContainerCreating"}}}
    assert pod_problem([pod(main=main)]) is None


@pytest.mark.parametrize(
    ("message", "stuck"),
    [
        ('secret "s3-creds" not found', True),
        ("couldn't find key AWS_ACCESS_KEY_ID in Secret modelops-demo/s3-creds", True),
        ("failed to sync secret cache: timed out waiting for the condition", False),
        ("failed to sync configmap cache: timed out waiting for the condition", False),
    ],
)
def test_a_config_error_the_kubelet_retries_by_itself_is_still_starting(message, stuck):
    """A late watch of the pod's Secret on a busy node is retried by the kubelet: held
    requests keep waiting for the pod instead of being refused."""
    waiting = {"reason": "CreateContainerConfigError", "message": message}
    main = {"name": "predictor", "state": {"waiting": waiting}}
    problem = pod_problem([pod(main=main)])
    assert (problem is not None) == stuck
    if stuck:
        assert problem.reason == "CreateContainerConfigError"
        assert message in problem.message


# --- the condition set: Ready from its parts, Active apart -----------------------------


def test_blocked_children_fail_ready_with_their_reason():
    blocked = Observation.false("ResourcesAvailable", "UnknownRuntimeVersion", "no such runtime")
    status = version_status(Observed(1, None, [], blocked), {}, 1, T0)
    assert (of(status, "Ready")["status"], of(status, "Ready")["reason"]) == (
        "False",
        "UnknownRuntimeVersion",
    )
    assert of(status, "ArtifactVerified")["status"] == "Unknown"
    assert status["phase"] == "Failed"


def test_artifact_failure_fails_ready():
    pods = [
        pod(init=fetch_terminated(json.dumps({"reason": "ArtifactNotFound", "message": "no"}), 1))
    ]
    status = version_status(Observed(1, deployment(), pods), {}, 1, T0)
    ready = of(status, "Ready")
    assert (ready["status"], ready["reason"], ready["message"]) == (
        "False",
        "ArtifactNotFound",
        "no",
    )


def test_ready_progression():
    creating = version_status(Observed(1, None, []), {}, 1, T0)
    assert (of(creating, "Ready")["status"], of(creating, "ResourcesAvailable")["reason"]) == (
        "Unknown",
        "Creating",
    )
    assert creating["phase"] == "Pending"
    pods = [pod(init=fetch_terminated(json.dumps(VERIFIED)))]
    deploying = version_status(Observed(1, deployment(), pods), creating, 1, T0)
    assert of(deploying, "Ready")["reason"] == "Deploying"
    serving = version_status(Observed(2, deployment(ready=1), pods), deploying, 1, T1)
    assert of(serving, "Ready")["status"] == "True"
    assert of(serving, "Active")["message"] == "1/2 pods ready"
    assert serving["phase"] == "Ready"
    assert [c["type"] for c in serving["conditions"]] == [
        "ArtifactVerified", "RuntimeCompatible", "ResourcesAvailable", "Ready", "Active",
    ]  # fmt: skip


def test_a_version_scaled_to_zero_stays_ready_and_keeps_what_it_recorded():
    pods = [pod(init=fetch_terminated(json.dumps(VERIFIED)))]
    serving = version_status(Observed(1, deployment(ready=1), pods), {}, 1, T0)
    assert served_once(serving)
    idle = version_status(Observed(0, deployment(ready=0), []), serving, 1, T1)
    assert of(idle, "Ready")["status"] == "True"
    assert (of(idle, "Active")["status"], of(idle, "Active")["reason"]) == (
        "False",
        "ScaledToZero",
    )
    assert of(idle, "Active")["severity"] == "Info"  # a normal state, not a warning
    assert idle["phase"] == "ScaledToZero"
    assert idle["sha256"] == VERIFIED["sha256"]
    assert idle["metrics"] == {"auc": 0.9}
    assert of(idle, "ArtifactVerified")["lastTransitionTime"] == T0
    assert not served_once({})


def test_active_is_apart_from_ready():
    assert active_observation(Observed(0, deployment(), [])).reason == "ScaledToZero"
    waking = active_observation(Observed(1, deployment(), []))
    assert (waking.status, waking.reason) == ("Unknown", "Activating")


def test_progress_deadline():
    stalled = deployment(
        conditions=[
            {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}
        ]
    )
    found = resources_observation(Observed(1, stalled, []), [])
    assert (found.status, found.reason) == ("False", "ProgressDeadlineExceeded")


def test_pods_refused_by_a_quota_are_named():
    refused = deployment(
        conditions=[
            {
                "type": "ReplicaFailure",
                "status": "True",
                "reason": "FailedCreate",
                "message": 'pods "x" is forbidden: exceeded quota: pods, requested: pods=1',
            }
        ]
    )
    found = resources_observation(Observed(1, refused, []), [])
    assert (found.status, found.reason) == ("False", "FailedCreate")
    assert "exceeded quota" in found.message


def test_phases():
    true, false = Observation.true("Ready", "Ready"), Observation.false("Ready", "X")
    unknown = Observation.unknown("Ready", "Y")
    idle = Observation.false("Active", "ScaledToZero")
    assert phase(false, idle) == "Failed"
    assert phase(unknown, idle) == "Pending"
    assert phase(true, idle) == "ScaledToZero"
    assert phase(true, Observation.true("Active", "Serving")) == "Ready"


def test_version_status_records_what_verification_found():
    pods = [pod(init=fetch_terminated(json.dumps(VERIFIED)))]
    status = version_status(
        Observed(1, deployment(ready=1), pods), {}, 4, T0, url="http://x", image="img"
    )
    assert status["phase"] == "Ready"
    assert status["url"] == "http://x"
    assert status["image"] == "img"
    assert (status["readyReplicas"], status["desiredReplicas"]) == (1, 1)
    assert status["observedGeneration"] == 4
    assert status["frameworkVersions"] == VERIFIED["recorded_versions"]
    assert status["metrics"] == {"auc": 0.9}
    assert status["sha256"] == VERIFIED["sha256"]


def test_changes_is_empty_when_nothing_changed():
    status = version_status(Observed(1, deployment(), []), {}, 1, T0, url="u")
    assert changes(status, status) == {}
    again = version_status(Observed(1, deployment(), []), status, 1, T1, url="u")
    assert changes(status, again) == {}
    moved = version_status(Observed(1, deployment(ready=1), []), status, 1, T1, url="u")
    assert set(changes(status, moved)) == {"readyReplicas", "conditions"}
