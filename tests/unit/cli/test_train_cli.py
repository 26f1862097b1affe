"""The training CLI's pure parts: the TrainingJob it applies, the tables and texts it
prints, what it reads of pods, and which project it builds."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from modelops_cli import packaging, training_logs, trainingjobs
from modelops_cli.errors import CommandError
from modelops_cli.main import build_parser
from modelops_cli.train_command import job_spec
from modelops_contracts.training import TRAINER_FAILED, TrainingResult
from modelops_operator.api.schema import openapi, parse
from modelops_operator.api.trainingjob import TrainingJobSpec

SUBMIT = [
    "train", "submit", "--package-path", "examples/ctr/trainer", "--module", "trainer.train",
    "--model", "ctr", "--store", "s3://models", "-n", "ml",
]  # fmt: skip


def _args(*extra: str, after: tuple[str, ...] = ()) -> argparse.Namespace:
    return build_parser().parse_args([*SUBMIT, *extra, "--", *after])


def test_submit_arguments_and_the_trainers_after_the_dashes() -> None:
    args = _args("--follow", after=("--data=s3://d/ctr", "--max_depth=4", "-n", "x"))
    assert (args.model, args.module, args.namespace, args.follow) == (
        "ctr", "trainer.train", "ml", True,
    )  # fmt: skip
    assert args.args == ["--data=s3://d/ctr", "--max_depth=4", "-n", "x"]


def test_the_spec_has_only_what_was_said_in_the_apis_words() -> None:
    spec = job_spec(
        _args(after=("--data=s3://d",)), "s3://models/ctr/packages/ab/t.whl", "s3://models"
    )
    body = trainingjobs.spec_body(spec)
    assert body == {
        "model": "ctr",
        "package": "s3://models/ctr/packages/ab/t.whl",
        "module": "trainer.train",
        "args": ["--data=s3://d"],
        "output": "s3://models",
    }
    assert parse(TrainingJobSpec, body) == spec  # the operator reads back what was written
    known = set(openapi(TrainingJobSpec)["properties"])
    assert set(body) <= known


def test_schedule_and_promotion() -> None:
    args = _args(
        "--schedule", "0 3 * * *", "--time-zone", "Europe/Paris", "--promote-metric", "auc",
        "--goal", "maximize", "--min-improvement", "0.005", "--runtime-version", "sklearn-1.9",
        "--evaluation-hook", "trainer.eval:score",
    )  # fmt: skip
    body = trainingjobs.spec_body(job_spec(args, "s3://p/t.whl", "s3://models"))
    assert body["schedule"] == {"cron": "0 3 * * *", "timeZone": "Europe/Paris"}
    assert body["promotion"] == {"metric": "auc", "goal": "maximize", "minImprovement": 0.005}
    assert (body["runtimeVersion"], body["evaluationHook"]) == ("sklearn-1.9", "trainer.eval:score")


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        (("--promote-metric", "auc"), "--promote-metric and --goal go together"),
        (("--goal", "maximize"), "--promote-metric and --goal go together"),
        (("--min-improvement", "0.1"), "--min-improvement needs --promote-metric"),
        (("--time-zone", "UTC"), "--time-zone needs --schedule"),
    ],
)
def test_flags_that_go_together(extra: tuple[str, ...], says: str) -> None:
    with pytest.raises(CommandError, match=says):
        job_spec(_args(*extra), "s3://p/t.whl", "s3://models")


def test_stores_the_cluster_can_read() -> None:
    assert trainingjobs.check_store("s3://models/") == "s3://models"
    assert trainingjobs.check_store("file:///srv/models") == "file:///srv/models"
    for bad in ("/srv/models", "https://host/models", "models"):
        with pytest.raises(CommandError, match="give an s3://, gs:// or pvc:// URI"):
            trainingjobs.check_store(bad)


def _job(name: str, status: dict[str, object], **spec: object) -> dict[str, object]:
    return {
        "metadata": {"name": name, "namespace": "ml", "creationTimestamp": "2025-01-15T03:00:00Z"},
        "spec": {"model": "ctr", "package": "s3://p/t.whl", "module": "trainer.train", **spec},
        "status": status,
    }


SUCCEEDED = {
    "phase": "Succeeded", "version": "ctr-20250115", "metrics": {"auc": 0.81234, "log_loss": 0.5},
    "promotion": {"decision": "Promoted", "metric": "auc", "version": "ctr-20250115",
                  "candidateValue": 0.8123, "servingVersion": "ctr-20250108",
                  "servingValue": 0.8016, "reason": "beats the serving version by 0.0107"},
}  # fmt: skip
FAILED = {"phase": "Failed", "reason": TRAINER_FAILED, "message": "exited with code 1: boom"}


def test_list_table() -> None:
    table = trainingjobs.rows([_job("ctr-daily", SUCCEEDED, schedule={"cron": "0 3 * * *"}),
                               _job("ctr-once", FAILED), _job("ctr-new", {})])  # fmt: skip
    assert table[0] == ["NAME", "MODEL", "PHASE", "VERSION", "SCHEDULE", "REASON", "CREATED"]
    assert table[1][:5] == ["ctr-daily", "ctr", "Succeeded", "ctr-20250115", "0 3 * * *"]
    assert table[2][:6] == ["ctr-once", "ctr", "Failed", "", "", "TrainerFailed"]
    assert table[3][:3] == ["ctr-new", "ctr", ""]
    text = trainingjobs.format_table(table)
    assert text.splitlines()[0].split() == table[0]


def test_outcomes() -> None:
    ok, text = trainingjobs.outcome(_job("ctr-once", SUCCEEDED))
    assert ok
    assert text.startswith("TrainingJob ctr-once succeeded: version ctr-20250115 (auc=0.8123")
    assert "promotion: Promoted (auc: candidate ctr-20250115 0.8123 vs serving" in text
    ok, text = trainingjobs.outcome(_job("ctr-once", FAILED))
    assert not ok
    assert text == "TrainingJob ctr-once failed: TrainerFailed: exited with code 1: boom"


def test_the_pods_own_report_when_the_job_has_none() -> None:
    trained = TrainingResult(reason="Trained", artifact_uri="s3://m/ctr/v/", metrics={"auc": 0.8})
    ok, text = trainingjobs.pod_outcome("ctr-once", trained)
    assert ok
    assert "uploaded s3://m/ctr/v/ (auc=0.8)" in text
    assert "the operator has not recorded the version yet" in text
    failed = TrainingResult(reason="NoModelWritten", message="wrote no model")
    assert trainingjobs.pod_outcome("ctr-once", failed) == (
        False, "TrainingJob ctr-once: its pod failed: NoModelWritten: wrote no model",
    )  # fmt: skip


def test_describe() -> None:
    text = trainingjobs.describe(
        _job("ctr-daily", SUCCEEDED, args=["--data=s3://d"], schedule={"cron": "0 3 * * *"},
             promotion={"metric": "auc", "goal": "maximize"})
    )  # fmt: skip
    assert text.splitlines()[0] == "TrainingJob ctr-daily (namespace ml)"
    expected = [
        "code:       trainer.train from s3://p/t.whl", "args:       --data=s3://d",
        "schedule:   0 3 * * *", "phase:      Succeeded", "version:    ctr-20250115",
        "metrics:    auc=0.8123, log_loss=0.5", "promotion:  maximize auc (by at least 0)",
        "promotion:  Promoted (auc",
    ]  # fmt: skip
    for line in expected:
        assert line in text, line
    assert "not started (is the operator running?)" in trainingjobs.describe(_job("x", {}))


def _pod(
    phase: str,
    statuses: list[dict[str, object]],
    containers: tuple[str, ...] = ("trainer",),
    init: tuple[str, ...] = (),
) -> dict[str, object]:
    by_name = {str(s["name"]): s for s in statuses}
    return {
        "metadata": {"name": "ctr-once-abcde"},
        "spec": {"containers": [{"name": n} for n in containers],
                 "initContainers": [{"name": n} for n in init]},
        "status": {"phase": phase,
                   "initContainerStatuses": [by_name[n] for n in init if n in by_name],
                   "containerStatuses": [by_name[n] for n in containers if n in by_name]},
    }  # fmt: skip


def _state(name: str, **state: object) -> dict[str, object]:
    return {"name": name, "state": state}


def test_a_package_runs_pod() -> None:
    report = TrainingResult(reason="Trained", artifact_uri="s3://m/ctr/v/").termination_message()
    done = _pod("Succeeded", [_state("trainer", terminated={"exitCode": 0, "message": report})])
    assert training_logs.log_containers(done) == ["trainer"]
    assert training_logs.started(done)
    assert training_logs.termination(done) == TrainingResult.from_termination(report, 0)
    pulling = _pod("Pending", [_state("trainer", waiting={"reason": "ErrImagePull",
                                                          "message": "nope"})])  # fmt: skip
    assert not training_logs.started(pulling)
    assert training_logs.waiting_reason(pulling) == "ErrImagePull: nope"
    assert training_logs.termination(pulling) is None
    creating = _pod("Pending", [_state("trainer", waiting={"reason": "ContainerCreating"})])
    assert training_logs.waiting_reason(creating) == ""
    oom = {"exitCode": 137, "reason": "OOMKilled"}
    killed = _pod("Failed", [_state("trainer", terminated=oom)])
    assert training_logs.termination(killed) == TrainingResult(
        reason=TRAINER_FAILED, message="", exit_code=137
    )


def test_an_images_pod_shows_its_trainer_then_the_collect_step() -> None:
    from modelops_operator.trainingjob.builders import COLLECT_CONTAINER, TRAINER_CONTAINER

    assert (TRAINER_CONTAINER, COLLECT_CONTAINER) == ("trainer", "collect")
    training = _pod("Pending", [_state("trainer", running={}),
                                _state("collect", waiting={"reason": "PodInitializing"})],
                    containers=("collect",), init=("trainer",))  # fmt: skip
    assert training_logs.log_containers(training) == ["trainer", "collect"]
    assert training_logs.started(training)  # the pod is Pending while its trainer runs
    assert training_logs.has_log(training, "trainer")
    assert not training_logs.has_log(training, "collect")
    assert training_logs.waiting_reason(training) == ""
    log_end = "Traceback ...\nValueError: boom"  # an image trainer's log end, kept by the kubelet
    failed = _pod("Failed", [_state("trainer", terminated={"exitCode": 2, "message": log_end})],
                  containers=("collect",), init=("trainer",))  # fmt: skip
    found = training_logs.termination(failed)
    assert found is not None
    assert (found.reason, found.exit_code, found.message) == (TRAINER_FAILED, 2, log_end)


def test_an_unschedulable_pod_says_why() -> None:
    unscheduled = {"metadata": {"name": "p"}, "status": {"phase": "Pending", "conditions": [
        {"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
         "message": "0/1 nodes are available: 1 Insufficient memory."}]}}  # fmt: skip
    assert training_logs.waiting_reason(unscheduled).startswith("Unschedulable: 0/1 nodes")


def test_which_project_is_built(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "trainer").mkdir(parents=True)
    (project / "trainer" / "__init__.py").write_text("")
    bare = tmp_path / "bare" / "mytrainer"
    bare.mkdir(parents=True)
    (bare / "__init__.py").write_text("")
    with pytest.raises(CommandError, match="neither a Python project"):
        packaging.project_of(project)
    (project / "pyproject.toml").write_text("[project]\nname = 't'\n")
    assert packaging.project_of(project) == (project, False)
    assert packaging.project_of(project / "trainer") == (project, False)
    assert packaging.project_of(bare) == (bare, True)
    with pytest.raises(CommandError, match="no such folder"):
        packaging.project_of(tmp_path / "absent")
