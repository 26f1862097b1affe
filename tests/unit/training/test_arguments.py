"""The user's code's arguments: --job-dir, the user's own, hyperparameters, the hook."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelops_runtime.training.arguments import (
    Hook,
    evaluation_hook,
    hyperparameter,
    parse_hook,
    trainer_args,
)


def test_job_dir_comes_first_as_the_seed_era_service_passed_it() -> None:
    assert trainer_args(Path("/w/model"), ["--data=s3://b/d", "--max_depth=4"]) == [
        "--job-dir", "/w/model", "--data=s3://b/d", "--max_depth=4",
    ]  # fmt: skip
    assert trainer_args(Path("/w/model"), []) == ["--job-dir", "/w/model"]


@pytest.mark.parametrize("given", [["--job-dir", "gs://b/j"], ["--job-dir=gs://b/j", "--x=1"]])
def test_a_users_own_job_dir_is_kept(given: list[str]) -> None:
    assert trainer_args(Path("/w/model"), given) == given


def test_a_hyperparameter_is_name_equals_value() -> None:
    assert hyperparameter("max_depth=6") == ("max_depth", "6")
    assert hyperparameter("expr=a=b") == ("expr", "a=b")
    assert hyperparameter("eta=") == ("eta", "")
    for bad in ("max_depth", "=1", "--max_depth=1", "1x=2", "a b=1"):
        with pytest.raises(ValueError, match="a hyperparameter is NAME=VALUE"):
            hyperparameter(bad)


def test_hooks() -> None:
    assert parse_hook("trainer.eval:score") == Hook("trainer.eval", "score")
    assert str(parse_hook(" trainer:evaluate ")) == "trainer:evaluate"
    for bad in ("trainer", "trainer:", ":f", "trainer.eval:score:x", "a-b:f", "a:f()"):
        with pytest.raises(ValueError, match="is not module:function"):
            parse_hook(bad)


def test_the_default_hook_is_evaluate_in_the_module_if_it_has_one() -> None:
    assert evaluation_hook(None, "trainer.train") == Hook("trainer.train", "evaluate", False)
    assert evaluation_hook("x.y:z", "trainer.train") == Hook("x.y", "z", True)
    assert evaluation_hook(None, None) is None  # a command: only a given hook
