"""A run's outcome from its Job and pods, and the TrainingJob's status from its runs:
a failed run always names its reason."""

from __future__ import annotations

from modelops_contracts.training import TrainingResult
from modelops_operator.trainingjob.runs import outcome
from modelops_operator.trainingjob.status import Observed, Produced, training_status
from modelops_operator.trainingjob.tuning import TrialRecord

T0 = "2026-11-27T03:00:00Z"


def job(name="ctr-daily", condition=None, reason="", scheduled="", parameters=None, produced=""):
    annotations = {}
    if produced:
        annotations["modelops.dev/produced-version"] = produced
    if scheduled:
        annotations["batch.kubernetes.io/cronjob-scheduled-timestamp"] = scheduled
    if parameters:
        annotations["modelops.dev/trainingjob-parameters"] = parameters
    status = {"startTime": T0}
    if condition:
        status["conditions"] = [{"type": condition, "status": "True", "reason": reason}]
        status["completionTime"] = T0
    return {"metadata": {"name": name, "annotations": annotations}, "status": status}


def pod(container="trainer", terminated=None, waiting=None, phase="Failed", init=False):
    state = {"terminated": terminated} if terminated else {"waiting": waiting or {}}
    key = "initContainerStatuses" if init else "containerStatuses"
    return {"metadata": {}, "status": {"phase": phase, "startTime": T0,
                                       key: [{"name": container, "state": state}]}}  # fmt: skip


def done(message):
    return [pod(terminated={"exitCode": 0, "message": message}, phase="Succeeded")]


def result(reason="Trained", **fields):
    return TrainingResult(reason=reason, **fields).termination_message()


def test_a_successful_run_carries_its_result():
    message = result(artifact_uri="s3://m/ctr/ctr-daily/", metrics={"auc": 0.8})
    run = outcome(job(condition="Complete"), done(message))
    assert run.phase == "Succeeded"
    assert run.result.artifact_uri == "s3://m/ctr/ctr-daily/"
    assert run.result.metrics == {"auc": 0.8}


def test_the_trainers_own_failure_reason_and_its_log_end():
    message = result("TrainerFailed", message="trainer.train exited with code 3", exit_code=3,
                     log_tail="KeyError: 'clicks'")  # fmt: skip
    run = outcome(job(condition="Failed", reason="BackoffLimitExceeded"),
                  [pod(terminated={"exitCode": 3, "message": message})])  # fmt: skip
    assert (run.phase, run.reason) == ("Failed", "TrainerFailed")
    assert "exited with code 3" in run.message
    assert "KeyError: 'clicks'" in run.message


def test_package_reasons_pass_through():
    for reason in ("PackageNotFound", "PackageInstallFailed", "NoModelWritten"):
        message = result(reason, message="details", exit_code=2)
        run = outcome(job(condition="Failed", reason="BackoffLimitExceeded"),
                      [pod(terminated={"exitCode": 2, "message": message})])  # fmt: skip
        assert run.reason == reason


def test_oom_kill_and_deadline_are_named():
    oom = outcome(job(condition="Failed", reason="BackoffLimitExceeded"),
                  [pod(terminated={"exitCode": 137, "reason": "OOMKilled"})])  # fmt: skip
    assert oom.reason == "OOMKilled"
    assert "resources.limits.memory" in oom.message
    late = outcome(job(condition="Failed", reason="DeadlineExceeded"), [])
    assert late.reason == "DeadlineExceeded"


def test_an_image_trainer_that_fails_quotes_its_log_end():
    run = outcome(job(condition="Failed", reason="BackoffLimitExceeded"),
                  [pod(terminated={"exitCode": 1, "message": "Traceback...\nValueError: bad"},
                       init=True)])  # fmt: skip
    assert run.reason == "TrainerFailed"
    assert "ValueError: bad" in run.message


def test_a_pod_that_cannot_start_says_why_while_pending():
    run = outcome(job(), [pod(waiting={"reason": "ErrImagePull", "message": "not found"},
                              phase="Pending")])  # fmt: skip
    assert (run.phase, run.reason) == ("Pending", "ErrImagePull")
    running = outcome(job(), [pod(waiting={"reason": "ContainerCreating"}, phase="Running")])
    assert running.phase == "Running"


def test_status_of_a_single_run():
    message = result(artifact_uri="s3://m/", metrics={"auc": 0.8})
    run = outcome(job(condition="Complete"), done(message))
    decision = {"decision": "Promoted", "reason": "auc 0.8 vs 0.7"}
    observed = Observed(runs=[run], produced={"ctr-daily": Produced("ctr-daily", "ctr-daily",
                                                                    decision)})  # fmt: skip
    status = training_status(observed, {}, 1, T0, 3)
    assert (status["phase"], status["version"]) == ("Succeeded", "ctr-daily")
    assert status["metrics"] == {"auc": 0.8}
    assert status["promotion"] == decision
    succeeded = status["conditions"][0]
    assert (succeeded["type"], succeeded["status"]) == ("Succeeded", "True")


def test_status_of_a_failed_run_is_never_a_bare_failure():
    run = outcome(job(condition="Failed", reason="BackoffLimitExceeded"),
                  [pod(terminated={"exitCode": 137, "reason": "OOMKilled"})])  # fmt: skip
    status = training_status(Observed(runs=[run]), {}, 1, T0, 3)
    assert (status["phase"], status["reason"]) == ("Failed", "OOMKilled")
    assert status["conditions"][0]["reason"] == "OOMKilled"


def test_status_of_a_schedule_lists_its_runs_with_the_gates_decisions():
    ok = result(metrics={"auc": 0.8})
    first = outcome(job("ctr-daily-1", "Complete", scheduled="2026-11-26T03:00:00Z"), done(ok))
    second = outcome(job("ctr-daily-2", "Complete", scheduled="2026-11-27T03:00:00Z"), done(ok))
    produced = {
        "ctr-daily-1": Produced("ctr-daily-1", "ctr-daily-1", {"decision": "Promoted"}),
        "ctr-daily-2": Produced("ctr-daily-2", "ctr-daily-2",
                                {"decision": "Rejected", "reason": "auc 0.8 vs 0.9"}),
    }  # fmt: skip
    status = training_status(Observed(runs=[second, first], produced=produced, scheduled=True),
                             {}, 1, T0, 3)  # fmt: skip
    assert status["phase"] == "Scheduled"
    assert [(r["job"], r.get("reason")) for r in status["runs"]] == [
        ("ctr-daily-2", "Rejected"), ("ctr-daily-1", "Promoted"),
    ]  # fmt: skip
    assert status["runs"][0]["message"] == "auc 0.8 vs 0.9"
    assert status["promotion"]["decision"] == "Rejected"
    assert {c["type"] for c in status["conditions"]} == {"Succeeded", "Scheduled"}


def test_a_run_remembers_the_version_it_made_after_the_version_is_gone():
    """Retention (or a person) deleted the version: the run still says it made one, so
    it is never made again, and its status row keeps the name."""
    ok = result(metrics={"auc": 0.8})
    run = outcome(job("ctr-daily-1", "Complete", produced="ctr-daily-1"), done(ok))
    assert run.produced == "ctr-daily-1"
    status = training_status(Observed(runs=[run], produced={}, scheduled=True), {}, 1, T0, 3)
    assert status["runs"][0]["version"] == "ctr-daily-1"
    assert outcome(job("ctr-daily-2", "Complete"), done(ok)).produced == ""


def test_status_of_a_search():
    trials = [TrialRecord(0, "Succeeded", {"d": "2"}, 0.7), TrialRecord(1, "Running", {"d": "4"})]
    starting = [pod(phase="Running", waiting={"reason": "x"})]
    running = outcome(job("s-t1", parameters='{"d": "4"}'), starting)
    status = training_status(Observed(runs=[running], trials=trials, best_trial=0), {}, 1, T0, 3)
    assert status["phase"] == "Running"
    assert [t["state"] for t in status["trials"]] == ["Succeeded", "Running"]
    assert status["bestTrial"] == 0
    failed = training_status(Observed(runs=[], trials=trials, search_failed="no trial succeeded"),
                             {}, 1, T0, 3)  # fmt: skip
    assert (failed["phase"], failed["conditions"][0]["reason"]) == ("Failed", "SearchFailed")


# --- several workers ----------------------------------------------------------------------


def worker(rank, attempt=0, finished="", **fields):
    found = pod(**fields)
    found["metadata"]["annotations"] = {
        "batch.kubernetes.io/job-completion-index": str(rank),
        "batch.kubernetes.io/job-index-failure-count": str(attempt),
    }
    if finished:
        found["status"]["containerStatuses"][0]["state"]["terminated"]["finishedAt"] = finished
    return found


def workers_job(condition=None, reason="", workers=3):
    return job(condition=condition, reason=reason) | {"spec": {"completions": workers}}


def test_a_distributed_run_takes_rank_0s_result():
    chief = result(artifact_uri="s3://m/ctr/ctr-daily/", metrics={"auc": 0.8})
    other = result(message="worker 1 of 2 finished; rank 0 publishes the model")
    pods = [worker(1, terminated={"exitCode": 0, "message": other}, phase="Succeeded"),
            worker(0, terminated={"exitCode": 0, "message": chief}, phase="Succeeded")]  # fmt: skip
    run = outcome(workers_job("Complete", workers=2), pods)
    assert run.phase == "Succeeded"
    assert (run.result.artifact_uri, run.result.metrics) == ("s3://m/ctr/ctr-daily/", {"auc": 0.8})


def test_a_failed_group_names_the_worker_that_failed_first_not_its_peers():
    killed = result("TrainerFailed", message="the trainer was killed by SIGKILL", exit_code=-9,
                    log_tail="[12] train-auc:0.71")  # fmt: skip
    lost = result("TrainerFailed", message="the trainer exited with code 1: XGBoostError: "
                  "Connection reset by peer", exit_code=1)  # fmt: skip
    pods = [
        worker(0, finished="2026-11-27T03:01:07Z", terminated={"exitCode": 1, "message": lost}),
        worker(1, finished="2026-11-27T03:01:05Z", terminated={"exitCode": 1, "message": lost}),
        worker(2, finished="2026-11-27T03:01:05Z", terminated={"exitCode": 1, "message": killed}),
    ]
    run = outcome(workers_job("Failed", "MaxFailedIndexesExceeded"), pods)
    assert (run.phase, run.reason) == ("Failed", "TrainerFailed")
    assert run.message.startswith("worker 2 of 3: the trainer was killed by SIGKILL")
    assert "train-auc:0.71" in run.message


def test_a_worker_stopped_by_its_group_watch_is_never_named_over_the_one_that_failed():
    """The watch stops a peer within milliseconds, so it may end in an earlier second than
    the worker whose error broke the group (the pods' clocks count whole seconds)."""
    stopped = result("TrainerFailed", message="the trainer exited with code 3: worker 1 of 3 "
                     "is gone (its connection closed before it finished)", exit_code=3)  # fmt: skip
    error = result("TrainerFailed", message="the trainer exited with code 1: ValueError: "
                   "no rows in day 2025-01-20", exit_code=1)  # fmt: skip
    pods = [
        worker(0, finished="2026-11-27T03:01:04Z", terminated={"exitCode": 3, "message": stopped}),
        worker(1, finished="2026-11-27T03:01:05Z", terminated={"exitCode": 1, "message": error}),
        worker(2, finished="2026-11-27T03:01:04Z", terminated={"exitCode": 3, "message": stopped}),
    ]
    run = outcome(workers_job("Failed", "MaxFailedIndexesExceeded"), pods)
    assert run.message.startswith("worker 1 of 3: the trainer exited with code 1: ValueError")


def test_a_group_retried_is_judged_by_its_last_attempt():
    oom = {"exitCode": 137, "reason": "OOMKilled", "finishedAt": "2026-11-27T03:09:00Z"}
    first = result("TrainerFailed", message="the trainer was killed by SIGKILL", exit_code=-9)
    pods = [
        worker(0, attempt=0, finished="2026-11-27T03:01:00Z",
               terminated={"exitCode": 1, "message": first}),
        worker(0, attempt=1, terminated=oom),
        worker(1, attempt=1, finished="2026-11-27T03:09:30Z",
               terminated={"exitCode": 1, "message": first}),
    ]  # fmt: skip
    run = outcome(workers_job("Failed", "MaxFailedIndexesExceeded", workers=2), pods)
    assert run.reason == "OOMKilled"
    assert run.message.startswith("worker 0 of 2: container trainer was killed for using more")
    status = training_status(Observed(runs=[run]), {}, 1, T0, 3)
    assert (status["phase"], status["reason"]) == ("Failed", "OOMKilled")
    assert "worker 0 of 2" in status["message"]


def test_a_failed_group_waits_for_the_report_of_the_worker_that_broke_it():
    """Its peers see it go within milliseconds, so their reports can reach the API server
    before its own: the run is judged once it has ended (or is gone), never on theirs."""
    stopped = result("TrainerFailed", message="the trainer exited with code 3: worker 2 of 3 "
                     "is gone (its connection closed before it finished)", exit_code=3)  # fmt: skip
    killed = result("TrainerFailed", message="the trainer was killed by SIGKILL", exit_code=-9)
    peers = [
        worker(0, finished="2026-11-27T03:01:04Z", terminated={"exitCode": 3, "message": stopped}),
        worker(1, finished="2026-11-27T03:01:04Z", terminated={"exitCode": 3, "message": stopped}),
    ]
    failed = workers_job("Failed", "MaxFailedIndexesExceeded")
    still_running = worker(2, phase="Running")
    assert outcome(failed, [*peers, still_running]).phase == "Running"

    reported = worker(2, finished="2026-11-27T03:01:05Z",
                      terminated={"exitCode": 1, "message": killed})  # fmt: skip
    run = outcome(failed, [*peers, reported])
    assert (run.phase, run.reason) == ("Failed", "TrainerFailed")
    assert run.message.startswith("worker 2 of 3: the trainer was killed by SIGKILL")

    gone = outcome(failed, peers)  # deleted before it reported: its peers' word is all there is
    assert gone.phase == "Failed"
    assert "worker 2 of 3 is gone" in gone.message


def test_a_failed_group_whose_first_report_is_its_own_error_is_judged_at_once():
    error = result("TrainerFailed", message="the trainer exited with code 1: ValueError",
                   exit_code=1)  # fmt: skip
    failed = workers_job("Failed", "MaxFailedIndexesExceeded")
    pods = [worker(0, terminated={"exitCode": 1, "message": error}), worker(2, phase="Running")]
    assert outcome(failed, pods).phase == "Failed"
