"""A ModelVersion's status from its Deployment and pods, and condition bookkeeping."""

from __future__ import annotations

import json

from modelops_operator.conditions import Observation, find, is_true, merge
from modelops_operator.status import (
    Observed,
    artifact_observations,
    changes,
    phase,
    pod_problem,
    ready_observation,
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


# --- conditions ------------------------------------------------------------------------


def test_merge_sets_bookkeeping():
    merged = merge([], [Observation.true("Ready", "Serving", "ok")], 3, T0)
    assert merged == [
        {
            "type": "Ready",
            "status": "True",
            "reason": "Serving",
            "message": "ok",
            "lastTransitionTime": T0,
            "observedGeneration": 3,
        }
    ]


def test_merge_keeps_transition_time_while_status_holds():
    first = merge([], [Observation.unknown("Ready", "Deploying")], 1, T0)
    same = merge(first, [Observation.unknown("Ready", "Creating", "other")], 2, T1)
    assert same[0]["lastTransitionTime"] == T0
    assert same[0]["reason"] == "Creating"
    assert same[0]["observedGeneration"] == 2
    flipped = merge(same, [Observation.true("Ready", "Serving")], 2, T1)
    assert flipped[0]["lastTransitionTime"] == T1


def test_merge_keeps_other_types():
    other = {"type": "Custom", "status": "True"}
    merged = merge([other], [Observation.true("Ready", "Serving")], 1, T0)
    assert merged[-1] == other
    assert is_true(merged, "Ready")
    assert not is_true(merged, "Missing")
    assert find(merged, "Custom") == other


# --- the fetch step's verdict ------------------------------------------------------------


def test_no_verdict_while_fetching():
    assert verdict([pod(init={"name": "fetch", "state": {"running": {}}})]) is None
    assert verdict([]) is None


def test_verdict_from_termination_message():
    found = verdict([pod(init=fetch_terminated(json.dumps(VERIFIED)))])
    assert found == VERIFIED


def test_newest_verdict_wins_across_pods_and_restarts():
    old = fetch_terminated(
        json.dumps({"reason": "ArtifactNotFound", "message": "gone"}), 1, T0, last=True
    )
    new = fetch_terminated(json.dumps(VERIFIED), 0, T1)
    assert verdict([pod(init=old), pod(init=new)])["reason"] == "Verified"


def test_unparsable_message_is_reported_as_is():
    found = verdict([pod(init=fetch_terminated("Traceback: boom", 1))])
    assert found["reason"] == "VerificationFailed"
    assert "boom" in found["message"]


def test_verified_artifact_and_compatible_runtime():
    verified, runtime = artifact_observations(VERIFIED)
    assert (verified.status, verified.reason) == ("True", "Verified")
    assert (runtime.status, runtime.reason) == ("True", "Compatible")
    assert "xgboost 3.2.0" in runtime.message


def test_artifact_failure():
    verified, runtime = artifact_observations(
        {
            "reason": "ChecksumMismatch",
            "message": "sha256 mismatch",
            "condition": "ArtifactVerified",
        }
    )
    assert (verified.status, verified.reason, verified.message) == (
        "False",
        "ChecksumMismatch",
        "sha256 mismatch",
    )
    assert runtime.status == "Unknown"


def test_version_mismatch():
    verified, runtime = artifact_observations(
        {
            "reason": "VersionMismatch",
            "message": "sklearn 1.5 vs 1.9",
            "condition": "RuntimeCompatible",
        }
    )
    assert verified.status == "True"
    assert (runtime.status, runtime.reason) == ("False", "VersionMismatch")
    assert "1.5" in runtime.message


def test_allowed_mismatch_is_named_but_serves():
    found = {**VERIFIED, "version_problems": ["sklearn 1.5.0 recorded, 1.9.1 here"]}
    _, runtime = artifact_observations(found)
    assert (runtime.status, runtime.reason) == ("False", "VersionMismatchAllowed")
    ready = ready_observation(Observed(1, deployment(ready=1), []), artifact_observations(found))
    assert ready.status == "True"


# --- pods stuck ----------------------------------------------------------------------------


def test_image_pull_failure_is_a_problem():
    main = {
        "name": "predictor",
        "state": {"waiting": {"reason": "ErrImagePull", "message": "not found"}},
    }
    problem = pod_problem([pod(main=main)])
    assert problem is not None
    assert (problem.status, problem.reason) == ("False", "ErrImagePull")
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


# --- Ready and phase ----------------------------------------------------------------------


def unknown():
    return artifact_observations(None)


def test_blocked_wins():
    blocked = Observation.false("Ready", "UnknownRuntimeVersion", "no such runtime")
    assert ready_observation(Observed(1, None, [], blocked), unknown()) == blocked


def test_artifact_failure_fails_ready():
    failed = artifact_observations(
        {"reason": "ArtifactNotFound", "message": "no object", "condition": "ArtifactVerified"}
    )
    ready = ready_observation(Observed(1, deployment(), []), failed)
    assert (ready.status, ready.reason, ready.message) == ("False", "ArtifactNotFound", "no object")


def test_scaled_to_zero():
    ready = ready_observation(Observed(0, deployment(), []), unknown())
    assert ready.reason == "ScaledToZero"
    assert phase(Observed(0, None, []), ready) == "ScaledToZero"


def test_ready_progression():
    creating = ready_observation(Observed(1, None, []), unknown())
    assert (creating.status, creating.reason) == ("Unknown", "Creating")
    deploying = ready_observation(Observed(1, deployment(), []), unknown())
    assert (deploying.status, deploying.reason) == ("Unknown", "Deploying")
    assert phase(Observed(1, None, []), deploying) == "Pending"
    serving = ready_observation(Observed(2, deployment(ready=1), []), unknown())
    assert (serving.status, serving.reason, serving.message) == (
        "True",
        "Serving",
        "1/2 pods ready",
    )
    assert phase(Observed(1, None, []), serving) == "Ready"


def test_progress_deadline():
    stalled = deployment(
        conditions=[
            {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}
        ]
    )
    ready = ready_observation(Observed(1, stalled, []), unknown())
    assert ready.reason == "ProgressDeadlineExceeded"
    assert phase(Observed(1, stalled, []), ready) == "Failed"


def test_version_status_records_what_verification_found():
    pods = [pod(init=fetch_terminated(json.dumps(VERIFIED)))]
    status = version_status(
        Observed(1, deployment(ready=1), pods), {}, 4, T0, url="http://x", image="img"
    )
    assert status["phase"] == "Ready"
    assert status["url"] == "http://x"
    assert status["image"] == "img"
    assert status["readyReplicas"] == 1
    assert status["observedGeneration"] == 4
    assert status["frameworkVersions"] == VERIFIED["recorded_versions"]
    assert status["metrics"] == {"auc": 0.9}
    assert status["sha256"] == VERIFIED["sha256"]
    assert [c["type"] for c in status["conditions"]] == [
        "ArtifactVerified",
        "RuntimeCompatible",
        "Ready",
    ]


def test_changes_is_empty_when_nothing_changed():
    status = version_status(Observed(1, deployment(), []), {}, 1, T0, url="u")
    assert changes(status, status) == {}
    again = version_status(Observed(1, deployment(), []), status, 1, T1, url="u")
    assert changes(status, again) == {}
    moved = version_status(Observed(1, deployment(ready=1), []), status, 1, T1, url="u")
    assert set(changes(status, moved)) == {"phase", "readyReplicas", "conditions"}
