"""The runtime's commands take exactly the arguments predictor pods pass them, and
``modelops serve|fetch`` is the same parser and the same code."""

from __future__ import annotations

import pytest

from modelops_cli.main import build_parser as modelops_parser
from modelops_cli.main import main as modelops_main
from modelops_runtime import commands

FETCH = [
    "fetch", "s3://models/ctr/v4/", "--dest", "/models", "--termination-log",
    "/dev/termination-log", "--sha256", "ab" * 32, "--format", "joblib",
    "--allow-version-mismatch",
]  # fmt: skip
SERVE = [
    "serve", "/models/model", "--name", "ctr", "--version", "ctr-v4", "--host", "0.0.0.0",
    "--port", "8080", "--method", "predict_proba", "--max-batch-size", "32",
    "--allow-version-mismatch",
]  # fmt: skip


def test_the_fetch_arguments_of_a_pod() -> None:
    args = commands.build_parser().parse_args(FETCH)
    assert args.run is commands.fetch
    assert (args.model_uri, args.dest, args.termination_log) == (
        "s3://models/ctr/v4/",
        "/models",
        "/dev/termination-log",
    )
    assert (args.sha256, args.artifact_format, args.allow_version_mismatch) == (
        "ab" * 32,
        "joblib",
        True,
    )


def test_the_serve_arguments_of_a_pod() -> None:
    args = commands.build_parser().parse_args(SERVE)
    assert args.run is commands.serve
    assert (args.model_uri, args.name, args.model_version) == ("/models/model", "ctr", "ctr-v4")
    assert (args.host, args.port, args.default_method) == ("0.0.0.0", 8080, "predict_proba")
    assert (args.max_batch_size, args.allow_version_mismatch) == (32, True)


@pytest.mark.parametrize("argv", [FETCH, SERVE])
def test_modelops_parses_them_into_the_same_command(argv: list[str]) -> None:
    ours, theirs = commands.build_parser().parse_args(argv), modelops_parser().parse_args(argv)
    assert vars(ours) == vars(theirs)


def test_optional_flags_stay_unset_so_the_environment_applies() -> None:
    args = commands.build_parser().parse_args(["serve", "model.joblib"])
    assert args.allow_version_mismatch is None
    assert args.model_version is None


def test_serve_refuses_bad_settings_as_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code = commands.main(["serve", "model.joblib", "--max-batch-size", "0"])
    assert code == 1
    assert capsys.readouterr().err == (
        "python -m modelops_runtime: max batch size must be at least 1\n"
    )


def test_modelops_serve_reports_the_same_error_as_its_own(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = modelops_main(["serve", "model.joblib", "--max-batch-size", "0"])
    assert code == 1
    assert capsys.readouterr().err == "modelops: max batch size must be at least 1\n"
