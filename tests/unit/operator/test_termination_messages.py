"""A pod writes its termination message, so the operator reads it as untrusted input:
wrong types, non-finite numbers, garbage and JSON nested past the parser's depth become a
condition with the reason ``TerminationMessageInvalid`` and a message naming the field,
never an exception that fails every reconcile, and never a status the API server refuses
(``NaN`` and ``Infinity`` are not JSON)."""

from __future__ import annotations

import json

import pytest

from modelops_contracts.termination import MESSAGE_INVALID
from modelops_contracts.training import TRAINER_FAILED, TrainingResult
from modelops_contracts.verdict import VERIFICATION_FAILED, Verdict
from modelops_operator.modelversion.status import Observed as VersionObserved
from modelops_operator.modelversion.status import version_status
from modelops_operator.trainingjob.runs import outcome
from modelops_operator.trainingjob.status import Observed as TrainingObserved
from modelops_operator.trainingjob.status import training_status

T0 = "2026-01-01T00:00:00Z"
VERIFIED = '{"reason": "Verified", "framework": "sklearn", "format": "joblib", "sha256": "ab"'
TRAINED = '{"reason": "Trained", "artifact_uri": "s3://m/ctr/", "sha256": "ab"'
DEEP = "[" * 3000 + "]" * 3000

# (termination message, what the condition's message names)
BAD_VERDICTS = [
    (VERIFIED + ', "metrics": {"auc": NaN}}', "metrics.auc"),
    (VERIFIED + ', "metrics": {"auc": Infinity}}', "metrics.auc"),
    (VERIFIED + ', "metrics": {"auc": -1e999}}', "metrics.auc"),
    (VERIFIED + ', "metrics": {"auc": 1' + "0" * 400 + "}}", "metrics.auc"),
    (VERIFIED + ', "metrics": {"auc": "0.9"}}', "metrics.auc"),
    (VERIFIED + ', "metrics": {"auc": true}}', "metrics.auc"),
    (VERIFIED + ', "metrics": [0.9]}', "metrics"),
    (VERIFIED + ', "version_problems": 5}', "version_problems"),
    (VERIFIED + ', "version_problems": "sklearn 1.5 vs 1.9"}', "version_problems"),
    (VERIFIED + ', "version_problems": [{"sklearn": "1.5"}]}', "version_problems"),
    (VERIFIED + ', "recorded_versions": ["1.9.1"]}', "recorded_versions"),
    (VERIFIED + ', "runtime_versions": {"sklearn": 1.9}}', "runtime_versions.sklearn"),
    (VERIFIED + ', "sha256": 5}', "sha256"),
    (VERIFIED + ', "condition": "Ready"}', "condition"),
    ('{"reason": 5, "message": "five"}', "reason"),
    ('{"reason": "", "message": "empty"}', "reason"),
    ('{"reason": "ChecksumMismatch", "message": ["sha256", "mismatch"]}', "message"),
]


@pytest.mark.parametrize(("message", "field"), BAD_VERDICTS)
@pytest.mark.parametrize("exit_code", [0, 1])
def test_a_verdict_with_a_wrong_type_or_a_non_finite_number_is_refused_naming_it(
    message: str, field: str, exit_code: int
) -> None:
    found = Verdict.from_termination(message, exit_code)
    assert found.reason == MESSAGE_INVALID
    assert not found.verified
    assert field in found.message


@pytest.mark.parametrize("message", ["not json at all", "null", "[1, 2]", '"Verified"', DEEP])
def test_a_fetch_step_that_exits_0_without_a_verdict_is_not_verified(message: str) -> None:
    found = Verdict.from_termination(message, 0)
    assert found.reason == MESSAGE_INVALID
    assert "no verdict" in found.message


def test_a_crash_before_the_verdict_still_quotes_the_end_of_its_output() -> None:
    for message in ("Traceback (most recent call last):\nMemoryError", DEEP):
        found = Verdict.from_termination(message, 137)
        assert found.reason == VERIFICATION_FAILED
        assert found.message.endswith(message.strip()[-20:])


NO_VERDICT = [("garbage", "no verdict"), (DEEP, "no verdict")]


@pytest.mark.parametrize(("message", "field"), [*BAD_VERDICTS, *NO_VERDICT])
def test_a_versions_status_says_why_and_the_api_server_takes_it(message: str, field: str) -> None:
    pods = [{"status": {"initContainerStatuses": [{"name": "fetch", "state": {"terminated": {
        "exitCode": 0, "message": message, "finishedAt": T0}}}]}}]  # fmt: skip
    status = version_status(VersionObserved(1, None, pods), {}, 1, T0)
    json.dumps(status, allow_nan=False)  # what the status patch sends
    verified = next(c for c in status["conditions"] if c["type"] == "ArtifactVerified")
    assert (verified["status"], verified["reason"]) == ("False", MESSAGE_INVALID)
    assert field in verified["message"]
    assert "metrics" not in status


BAD_RESULTS = [
    (TRAINED + ', "metrics": {"auc": NaN}}', "metrics.auc"),
    (TRAINED + ', "metrics": {"auc": Infinity}}', "metrics.auc"),
    (TRAINED + ', "baseline_metrics": {"auc": -Infinity}}', "baseline_metrics.auc"),
    (TRAINED + ', "candidate_metrics": {"auc": 1' + "0" * 400 + "}}", "candidate_metrics.auc"),
    (TRAINED + ', "metrics": {"auc": "high"}}', "metrics.auc"),
    (TRAINED + ', "exit_code": "three"}', "exit_code"),
    (TRAINED + ', "exit_code": 1e999}', "exit_code"),
    (TRAINED + ', "exit_code": 1.5}', "exit_code"),
    (TRAINED + ', "exit_code": 99999999999999999999999}', "exit_code"),
    (TRAINED + ', "artifact_uri": {"s3": "m"}}', "artifact_uri"),
    (TRAINED + ', "log_tail": ["a", "b"]}', "log_tail"),
    ('{"reason": ["Trained"]}', "reason"),
]


@pytest.mark.parametrize(("message", "field"), BAD_RESULTS)
def test_a_training_result_with_a_wrong_type_or_a_non_finite_number_is_refused_naming_it(
    message: str, field: str
) -> None:
    found = TrainingResult.from_termination(message, 0)
    assert found.reason == MESSAGE_INVALID
    assert not found.trained
    assert field in found.message


def test_a_training_pod_killed_mid_message_is_a_trainer_failure_quoting_it() -> None:
    for message in ("Killed", DEEP):
        found = TrainingResult.from_termination(message, 137)
        assert (found.reason, found.exit_code) == (TRAINER_FAILED, 137)


@pytest.mark.parametrize(("message", "field"), BAD_RESULTS)
@pytest.mark.parametrize("ended", ["Complete", "Failed"])
def test_a_runs_status_says_why_and_the_api_server_takes_it(
    message: str, field: str, ended: str
) -> None:
    job = {
        "metadata": {"name": "ctr-daily", "annotations": {}},
        "status": {
            "startTime": T0,
            "completionTime": T0,
            "conditions": [{"type": ended, "status": "True", "reason": "x"}],
        },
    }
    pod = {"metadata": {}, "status": {"phase": "Succeeded" if ended == "Complete" else "Failed",
           "startTime": T0, "containerStatuses": [{"name": "trainer", "state": {"terminated": {
               "exitCode": 0 if ended == "Complete" else 1, "message": message}}}]}}  # fmt: skip
    run = outcome(job, [pod])
    assert (run.phase, run.reason) == ("Failed", MESSAGE_INVALID)
    assert field in run.message
    status = training_status(TrainingObserved(runs=[run]), {}, 1, T0, 3)
    json.dumps(status, allow_nan=False)
    assert status["conditions"][0]["reason"] == MESSAGE_INVALID
    assert field in status["conditions"][0]["message"]


def test_what_the_pods_write_reads_back_unchanged() -> None:
    verdict = Verdict(reason="Verified", framework="xgboost", format="ubj", sha256="ab" * 32,
                      recorded_versions={"xgboost": "3.2.0"}, runtime_versions={"xgboost": "3.2.0"},
                      metrics={"auc": 0.91, "rows": 1000}, version_problems=("a", "b"))  # fmt: skip
    assert Verdict.from_termination(verdict.termination_message(), 0) == verdict
    refused = Verdict.refused("VersionMismatch", "sklearn 1.5 recorded, 1.9 here")
    assert Verdict.from_termination(refused.termination_message(), 1) == refused
    result = TrainingResult(reason="Trained", artifact_uri="s3://m/", sha256="ab", format="joblib",
                            framework="sklearn", metrics={"auc": 0.8}, baseline_version="v3",
                            baseline_metrics={"auc": 0.7}, candidate_metrics={"auc": 0.8},
                            exit_code=-9, log_tail="done")  # fmt: skip
    assert TrainingResult.from_termination(result.termination_message(), 0) == result
