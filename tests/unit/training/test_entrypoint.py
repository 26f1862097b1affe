"""Failures the entrypoint finds before it runs anything, and the result's round trip."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from modelops_contracts.training import (
    ENTRYPOINT_FAILED,
    TERMINATION_MESSAGE_LIMIT,
    TRAINER_FAILED,
    UPLOAD_FAILED,
    TrainingResult,
)
from modelops_runtime.commands import build_parser
from modelops_runtime.training.entrypoint import Options, run

POD_ARGS = [
    "train", "--package", "s3://models/ctr/packages/ab12/ctr_trainer-0.1.0-py3-none-any.whl",
    "--module", "trainer.train", "--output", "s3://models/ctr/ctr-20250115/",
    "--termination-log", "/dev/termination-log", "--evaluation-hook", "trainer.eval:score",
    "--work-dir", "/work", "--", "--data=s3://data/ctr", "--max_depth=4",
]  # fmt: skip


def test_the_train_arguments_of_a_pod() -> None:
    args = build_parser().parse_args(POD_ARGS)
    assert (args.package, args.module, args.command) == (POD_ARGS[2], "trainer.train", None)
    assert (args.output, args.termination_log) == (POD_ARGS[6], "/dev/termination-log")
    assert (args.evaluation_hook, args.work_dir) == ("trainer.eval:score", "/work")
    assert args.trainer_args == ["--data=s3://data/ctr", "--max_depth=4"]


@pytest.mark.parametrize("image", [False, True])
def test_the_arguments_the_operators_pods_pass(image: bool) -> None:
    """The operator's own builder, read by the entrypoint's own parser."""
    from modelops_operator.api.schema import parse
    from modelops_operator.api.trainingjob import TrainingJobSpec
    from modelops_operator.meta import Owner
    from modelops_operator.trainingjob.builders import TrainerInputs, entrypoint_args

    code = (
        {"image": "trainer:1", "command": ["python", "/app/train.py"]}
        if image
        else {"package": "s3://b/t-0.1-py3-none-any.whl", "module": "trainer.train",
              "evaluationHook": "trainer.eval:score",
              "packageIndex": {"url": "https://pi.team/simple",
                               "extraUrls": ["https://extra.team/simple"]}}
    )  # fmt: skip
    spec = parse(TrainingJobSpec, {"model": "ctr", "args": ["--days=7"], **code})
    owner = Owner("TrainingJob", "ctr-once", "team", "uid")
    argv = entrypoint_args(TrainerInputs(owner, spec, "runtime:1", "s3://models"), {"C": "2"})
    args = build_parser().parse_args(argv)
    assert args.run.__name__ == "train"
    assert (args.output, args.work_dir) == ("s3://models/team/ctr/$(MODELOPS_JOB_NAME)/", "/work")
    assert args.termination_log == "/dev/termination-log"
    if image:
        assert (args.collect, args.module, args.package) == (True, None, None)
    else:
        assert (args.collect, args.module) == (False, "trainer.train")
        assert args.package == code["package"]
        assert args.evaluation_hook == "trainer.eval:score"
        assert (args.index_url, args.extra_index_url) == (
            "https://pi.team/simple", ["https://extra.team/simple"])  # fmt: skip
        assert args.trainer_args == ["--days=7"]
    assert args.hyperparameters == [("C", "2")]  # on a channel of its own


def test_an_images_command_one_word_per_flag() -> None:
    args = build_parser().parse_args(
        ["train", "--command=python", "--command=-u", "--command=/app/train.py", "--output",
         "s3://m/", "--", "--epochs=3", "--", "literal"]
    )  # fmt: skip
    assert (args.module, args.command) == (None, ["python", "-u", "/app/train.py"])
    assert args.trainer_args == ["--epochs=3", "--", "literal"]


def test_no_output_is_a_result_too(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("MODELOPS_OUTPUT_URI", raising=False)
    log = tmp_path / "termination-log"
    args = build_parser().parse_args(
        ["train", "--module", "trainer.train", "--termination-log", str(log)]
    )
    assert args.run(args) == 1
    result = TrainingResult.from_termination(log.read_text(), 1)
    assert result.reason == ENTRYPOINT_FAILED
    assert "give --output (or set MODELOPS_OUTPUT_URI)" in result.message


def test_an_output_that_cannot_be_written_fails_before_training(tmp_path: Path) -> None:
    result = run(
        Options(output="https://example.com/m/", module="never.imported", work_dir=tmp_path)
    )
    assert result.reason == UPLOAD_FAILED
    assert not (tmp_path / "model").exists()  # nothing was prepared, nothing ran


def test_one_way_to_give_the_code(tmp_path: Path) -> None:
    for options in (Options(output="s3://m/"), Options(output="s3://m/", module="m", collect=True)):
        result = run(options)
        assert (result.reason, result.message) == (
            ENTRYPOINT_FAILED, "give the trainer as one of --module, --command or --collect",
        )  # fmt: skip


def test_a_bad_hook_fails_before_training(tmp_path: Path) -> None:
    result = run(
        Options(output=str(tmp_path / "out"), module="m", evaluation_hook="m.evaluate",
                work_dir=tmp_path / "w")
    )  # fmt: skip
    assert result.reason == ENTRYPOINT_FAILED
    assert "'m.evaluate' is not module:function" in result.message


def test_an_error_of_the_entrypoint_itself_is_a_result(tmp_path: Path) -> None:
    blocked = tmp_path / "work"
    blocked.write_text("a file where the work dir must go")
    result = run(Options(output=str(tmp_path / "out"), module="m", work_dir=blocked))
    assert result.reason == ENTRYPOINT_FAILED
    assert result.message.startswith("the trainer entrypoint failed: NotADirectoryError")


def test_a_failure_with_a_long_log_fits_the_termination_message() -> None:
    tail = "\n".join(f"epoch {i}: loss 0.{i:04d}" for i in range(400))
    failed = TrainingResult(
        reason=TRAINER_FAILED, message="the trainer exited with code 1: ValueError: boom",
        exit_code=1, log_tail=tail,
    )  # fmt: skip
    line = failed.termination_message()
    assert len(line) <= TERMINATION_MESSAGE_LIMIT
    back = TrainingResult.from_termination(line, 1)
    assert (back.reason, back.exit_code, back.message) == (TRAINER_FAILED, 1, failed.message)
    assert back.log_tail.endswith("epoch 399: loss 0.0399")  # the end says most
    assert json.loads(line)["reason"] == TRAINER_FAILED


def test_a_worker_other_than_rank_0_reports_done_without_a_model(tmp_path: Path) -> None:
    """A real child process (a command that writes nothing): rank 2 has no model to find,
    rank 0 publishes the group's."""
    options = Options(output=str(tmp_path / "out"), command=("true",), work_dir=tmp_path / "w")
    result = run(options, {"MODELOPS_RANK": "2", "MODELOPS_WORLD_SIZE": "3"})
    assert (result.reason, result.artifact_uri) == ("Trained", "")
    assert result.message == "worker 2 of 3 finished; rank 0 publishes the model"
    assert not (tmp_path / "out").exists()


def test_a_bad_rank_fails_before_training(tmp_path: Path) -> None:
    options = Options(output=str(tmp_path / "out"), command=("true",), work_dir=tmp_path / "w")
    result = run(options, {"MODELOPS_RANK": "3", "MODELOPS_WORLD_SIZE": "3"})
    assert result.reason == ENTRYPOINT_FAILED
    assert "MODELOPS_RANK=3 is not below MODELOPS_WORLD_SIZE=3" in result.message
    assert not (tmp_path / "w" / "model").exists()  # nothing was prepared, nothing ran
