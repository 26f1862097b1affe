"""``python -m modelops_runtime train`` as a training pod runs it: a real process, real
packages built here with the CLI's builder and installed by pip, a ``file://`` store, and
the result read back from the termination log the way the operator reads it.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pytest

from modelops_contracts.training import (
    BASELINE_URI,
    BASELINE_VERSION,
    EVALUATION_FAILED,
    METRICS_INVALID,
    NO_MODEL_WRITTEN,
    PACKAGE_INSTALL_FAILED,
    PACKAGE_NOT_FOUND,
    RUN_DATE,
    TRAINED,
    TRAINER_FAILED,
    UPLOAD_FAILED,
    TrainingResult,
)
from modelops_contracts.verdict import Verdict
from modelops_runtime.artifacts import installed_framework_versions
from modelops_runtime.commands import main as runtime_main
from modelops_runtime.settings import Settings
from tests.integration.training import (
    CTR_EXAMPLE,
    TRAINERS,
    build_wheels,
    in_image,
    train,
    write_ctr_days,
)

TINY = TRAINERS / "tiny"


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return build_wheels(tmp_path_factory.mktemp("wheels"))


def _baseline(folder: Path, c: float = 0.25) -> str:
    """A serving version's artifact, for tinytrainer.quick's hook: a pickled dict."""
    folder.mkdir(parents=True)
    (folder / "model.pkl").write_bytes(pickle.dumps({"C": c}))
    (folder / "metadata.json").write_text('{"metrics": {"score": 0.25}}')
    return folder.as_uri() + "/"


# --- success ---------------------------------------------------------------------------


def test_a_package_trains_and_its_model_serves_what_it_predicted(
    tmp_path: Path, wheels: dict[str, Path]
) -> None:
    predictions = tmp_path / "predictions.json"
    run = train(
        tmp_path, "--package", wheels["tiny"].as_uri(), "--module", "tinytrainer.train",
        "--output", f"file://{tmp_path}/store/iris/iris-v1", "--hyperparameter", "C=0.5",
        trainer_args=(f"--predictions={predictions}",),
        env={RUN_DATE: "2025-01-15T03:00:00Z"},
    )  # fmt: skip
    assert run.code == 0, run.stderr
    result = run.result
    assert result.reason == TRAINED
    assert result.artifact_uri == f"file://{tmp_path}/store/iris/iris-v1/"
    assert (result.format, result.framework) == ("joblib", "sklearn")
    accuracy = result.metrics["accuracy"]
    assert result.metrics == {"accuracy": accuracy, "held_out_accuracy": accuracy}
    assert (result.candidate_metrics, result.baseline_metrics) == ({}, {})  # no baseline given
    assert "C=0.5 run date 2025-01-15T03:00:00Z" in run.stdout  # the trainer's own output

    # The uploaded folder, as the predictor loads it, predicts what the trainer did.
    store = tmp_path / "store" / "iris" / "iris-v1"
    assert sorted(p.name for p in store.iterdir()) == ["metadata.json", "model.joblib"]
    from modelops_runtime.preparation import prepare

    prepared = prepare(Settings(), uri=result.artifact_uri, cache_dir=tmp_path / "cache")
    assert prepared.artifact.sha256 == result.sha256
    expected = json.loads(predictions.read_text())
    served = prepared.loaded.model.call(np.array(expected["rows"]), "predict_proba")
    assert served.tolist() == expected["predict_proba"]

    metadata = json.loads((store / "metadata.json").read_text())
    assert metadata["framework_versions"] == installed_framework_versions()
    assert metadata["metrics"] == result.metrics
    assert (metadata["sha256"], metadata["run_date"]) == (result.sha256, "2025-01-15T03:00:00Z")
    # The user's own --name=value is an argument; only the hyperparameter channel's are
    # hyperparameters (the trainer got both: "C=0.5" in its output above).
    assert metadata["args"] == [f"--predictions={predictions}"]
    assert metadata["hyperparameters"] == {"C": "0.5"}
    assert metadata["trainer"] == {
        "module": "tinytrainer.train", "package": wheels["tiny"].as_uri(),
    }  # fmt: skip

    # pip installed the package alone: its dependencies were the image's.
    site = next((run.work / "venv" / "lib").glob("python*/site-packages"))
    installed = sorted(p.name for p in site.iterdir() if p.name != "__pycache__")
    assert installed == ["_modelops_image_site.pth", "tinytrainer", "tinytrainer-0.1.0.dist-info"]

    # A predictor pod's fetch step verifies it.
    log = tmp_path / "fetch-log"
    code = runtime_main(["fetch", result.artifact_uri, "--dest", str(tmp_path / "pod"),
                         "--termination-log", str(log)])  # fmt: skip
    verdict = Verdict.from_termination(log.read_text(), code)
    assert verdict.verified, verdict.message
    assert (verdict.sha256, verdict.metrics) == (result.sha256, result.metrics)
    assert verdict.recorded_versions == installed_framework_versions()


def test_the_evaluation_hook_scores_both_models_on_the_same_data(tmp_path: Path) -> None:
    run = train(
        tmp_path, "--module", "tinytrainer.quick", "--output", str(tmp_path / "out"),
        trainer_args=("--C=0.75",),
        env={**in_image(TINY), BASELINE_URI: _baseline(tmp_path / "serving", c=0.25),
             BASELINE_VERSION: "quick-v1"},
    )  # fmt: skip
    result = run.result
    assert result.reason == TRAINED, run.stderr
    assert result.baseline_version == "quick-v1"  # what the scores compare with
    # tinytrainer.quick:evaluate, found by default, got each loaded model.
    assert (result.candidate_metrics, result.baseline_metrics) == ({"score": 0.75}, {"score": 0.25})
    assert result.metrics == {"score": 0.75}
    assert "with tinytrainer.quick:evaluate" in run.stderr
    assert (result.format, result.framework) == ("pickle", "sklearn")


def test_no_hook_in_the_module_means_no_comparison(tmp_path: Path) -> None:
    run = train(
        tmp_path, "--module", "tinytrainer.noeval", "--output", str(tmp_path / "out"),
        env={**in_image(TINY), BASELINE_URI: _baseline(tmp_path / "serving")},
    )  # fmt: skip
    assert run.result.reason == TRAINED, run.stderr
    assert (run.result.candidate_metrics, run.result.baseline_metrics) == ({}, {})
    assert "tinytrainer.noeval defines no evaluate" in run.stderr


def test_an_images_command_with_a_given_hook(tmp_path: Path) -> None:
    run = train(
        tmp_path, f"--command={sys.executable}", "--command=-m", "--command=tinytrainer.quick",
        "--evaluation-hook", "tinytrainer.quick:evaluate", "--output", str(tmp_path / "out"),
        trainer_args=("--C=2",),
        env={**in_image(TINY), BASELINE_URI: _baseline(tmp_path / "serving")},
    )  # fmt: skip
    assert run.result.reason == TRAINED, run.stderr
    assert run.result.candidate_metrics == {"score": 2.0}
    assert "quick C=2.0" in run.stdout
    metadata = json.loads((tmp_path / "out" / "metadata.json").read_text())
    assert metadata["trainer"] == {"command": [sys.executable, "-m", "tinytrainer.quick"]}


def _pod(tmp_path: Path, container: dict[str, Any], job: str) -> tuple[list[str], dict[str, str]]:
    """A container of the operator's pod as a local process: its /work is under tmp_path,
    the Job controller's variable set, its termination log a file."""
    work, log = str(tmp_path / "work"), str(tmp_path / "termination-log")

    def local(text: str) -> str:
        text = text.replace("$(MODELOPS_JOB_NAME)", job).replace("/dev/termination-log", log)
        return work + text.removeprefix("/work") if text.startswith("/work") else text

    env = {e["name"]: local(e["value"]) for e in container["env"] if "value" in e}
    env["MODELOPS_JOB_NAME"] = job
    return [local(arg) for arg in [*container.get("command", []), *container["args"]]], env


def test_the_pod_the_operator_builds(tmp_path: Path, wheels: dict[str, Path]) -> None:
    """The operator's own pod spec (args and environment) run by the entrypoint."""
    from modelops_operator.api.schema import parse
    from modelops_operator.api.trainingjob import TrainingJobSpec
    from modelops_operator.meta import Owner
    from modelops_operator.trainingjob.builders import Baseline, TrainerInputs, pod_spec

    spec = parse(TrainingJobSpec, {"model": "quick", "package": wheels["tiny"].as_uri(),
                                   "module": "tinytrainer.quick", "args": ["--C=0.5"]})  # fmt: skip
    serving = Baseline("quick-v0", _baseline(tmp_path / "serving", c=0.25))
    inputs = TrainerInputs(Owner("TrainingJob", "quick", "ns", "uid"), spec, "runtime:dev",
                           f"file://{tmp_path}/store", "2025-01-15T03:00:00Z", serving)  # fmt: skip
    argv, env = _pod(tmp_path, pod_spec(inputs, {"C": "0.75"})["containers"][0], "quick-1")
    assert argv[:3] == ["python", "-m", "modelops_runtime"]
    done = subprocess.run([sys.executable, *argv[1:]], env={**os.environ, **env},
                          capture_output=True, text=True, timeout=300, check=False)  # fmt: skip
    result = TrainingResult.from_termination((tmp_path / "termination-log").read_text(), 0)
    assert (done.returncode, result.reason) == (0, TRAINED), done.stderr
    assert result.artifact_uri == f"file://{tmp_path}/store/ns/quick/quick-1/"
    assert result.metrics == {"score": 0.75}  # the search's --C=0.75 came after the user's
    assert result.baseline_version == "quick-v0"
    assert (result.candidate_metrics, result.baseline_metrics) == ({"score": 0.75}, {"score": 0.25})
    assert (tmp_path / "work" / "metrics.json").is_file()  # the pod's paths were used
    assert "quick C=0.75" in done.stdout


def test_collecting_what_an_images_trainer_wrote(tmp_path: Path) -> None:
    """An image's trainer runs first (the pod's init container), then the entrypoint
    collects its model and metrics from the paths both were given."""
    from modelops_operator.api.schema import parse
    from modelops_operator.api.trainingjob import TrainingJobSpec
    from modelops_operator.meta import Owner
    from modelops_operator.trainingjob.builders import TrainerInputs, pod_spec

    script = (
        "import json, os, pickle, sys; d = os.environ['MODELOPS_MODEL_DIR']; "
        "open(os.path.join(d, 'model.pkl'), 'wb').write(pickle.dumps({'C': 3.0})); "
        "json.dump({'score': 3.0}, open(os.environ['MODELOPS_METRICS_FILE'], 'w')); "
        "print('image trainer args', sys.argv[1:])"
    )
    code = {"image": "trainer:1", "command": ["python", "-c", script], "args": ["--x=1"]}
    spec = parse(TrainingJobSpec, {"model": "quick", **code})
    inputs = TrainerInputs(Owner("TrainingJob", "quick", "ns", "uid"), spec, "runtime:dev",
                           f"file://{tmp_path}/store", "2025-01-15T03:00:00Z")  # fmt: skip
    pod = pod_spec(inputs, {})
    trainer_argv, trainer_env = _pod(tmp_path, pod["initContainers"][0], "quick-1")
    collect_argv, collect_env = _pod(tmp_path, pod["containers"][0], "quick-1")
    (tmp_path / "work" / "model").mkdir(parents=True)  # the emptyDir, as the trainer finds it
    trained = subprocess.run([sys.executable, *trainer_argv[1:]], env={**os.environ, **trainer_env},
                             capture_output=True, text=True, check=True)  # fmt: skip
    # --job-dir first, as the seed-era service passed it, then the user's arguments
    assert "image trainer args ['--job-dir', " in trained.stdout
    assert "/work/model', '--x=1']" in trained.stdout
    done = subprocess.run([sys.executable, *collect_argv[1:]], env={**os.environ, **collect_env},
                          capture_output=True, text=True, timeout=300, check=False)  # fmt: skip
    result = TrainingResult.from_termination((tmp_path / "termination-log").read_text(), 0)
    assert (done.returncode, result.reason) == (0, TRAINED), done.stderr
    assert (result.metrics, result.format) == ({"score": 3.0}, "pickle")
    stored = tmp_path / "store" / "ns" / "quick" / "quick-1"
    metadata = json.loads((stored / "metadata.json").read_text())
    assert (metadata["trainer"], metadata["run_date"]) == (
        {"collected": True},
        "2025-01-15T03:00:00Z",
    )


# --- each failure, with its reason ------------------------------------------------------


def test_a_missing_package(tmp_path: Path) -> None:
    run = train(
        tmp_path, "--package", f"file://{tmp_path}/absent/trainer-0.1-py3-none-any.whl",
        "--module", "trainer.train", "--output", str(tmp_path / "out"),
    )  # fmt: skip
    assert (run.code, run.result.reason) == (1, PACKAGE_NOT_FOUND)
    assert "cannot download the trainer package" in run.result.message
    assert "trainer-0.1-py3-none-any.whl" in run.result.message
    assert not (tmp_path / "out").exists()


def test_a_package_pip_refuses(tmp_path: Path, wheels: dict[str, Path]) -> None:
    run = train(
        tmp_path, "--package", wheels["unmet"].as_uri(), "--module", "unmet.train",
        "--output", str(tmp_path / "out"),
        env={"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": ""},  # an index without it, offline
    )  # fmt: skip
    assert (run.code, run.result.reason) == (1, PACKAGE_INSTALL_FAILED)
    message = run.result.message
    assert message.startswith("pip could not install unmet-0.1.0-py3-none-any.whl")
    assert "No matching distribution found for modelops-absent-dependency-for-tests" in message
    assert "No matching distribution" in run.stderr  # pip's words are in the pod's log too


def test_a_trainer_that_fails_gives_its_exit_code_and_last_lines(tmp_path: Path) -> None:
    run = train(
        tmp_path, "--module", "tinytrainer.crash", "--output", str(tmp_path / "out"),
        env=in_image(TINY),
    )  # fmt: skip
    result = run.result
    assert (run.code, result.reason, result.exit_code) == (1, TRAINER_FAILED, 1)
    assert result.message == (
        "the trainer exited with code 1: ValueError: no rows for 2025-01-14 in s3://data/ctr"
    )
    assert "step 29: loss 0.033" in result.log_tail
    assert "loading the held-out day" in result.log_tail
    assert "step 29: loss 0.033" in run.stdout  # streamed as it ran
    assert not (tmp_path / "out").exists()


def test_no_model_written(tmp_path: Path) -> None:
    run = train(
        tmp_path, "--module", "tinytrainer.nomodel", "--output", str(tmp_path / "out"),
        env=in_image(TINY),
    )  # fmt: skip
    assert (run.code, run.result.reason) == (1, NO_MODEL_WRITTEN)
    assert "the trainer ended well but wrote no model" in run.result.message
    assert "joblib.dump(model, os.path.join(os.environ['MODELOPS_MODEL_DIR']" in run.result.message


def test_metrics_that_are_not_numbers(tmp_path: Path) -> None:
    run = train(
        tmp_path, "--module", "tinytrainer.badmetrics", "--output", str(tmp_path / "out"),
        env=in_image(TINY),
    )  # fmt: skip
    assert (run.code, run.result.reason) == (1, METRICS_INVALID)
    assert "score='high'" in run.result.message


def test_an_evaluation_hook_that_fails(tmp_path: Path) -> None:
    run = train(
        tmp_path, "--module", "tinytrainer.brokenhook", "--output", str(tmp_path / "out"),
        env={**in_image(TINY), BASELINE_URI: _baseline(tmp_path / "serving")},
    )  # fmt: skip
    assert (run.code, run.result.reason) == (1, EVALUATION_FAILED)
    assert run.result.message == (
        "tinytrainer.brokenhook:evaluate raised on this run's model: "
        "RuntimeError: the held-out data is gone"
    )
    assert "RuntimeError: the held-out data is gone" in run.result.log_tail  # the traceback
    assert not (tmp_path / "out").exists()  # a run that failed leaves nothing in the store


def test_a_given_hook_that_does_not_exist(tmp_path: Path) -> None:
    run = train(
        tmp_path, "--module", "tinytrainer.noeval", "--evaluation-hook", "tinytrainer.noeval:score",
        "--output", str(tmp_path / "out"),
        env={**in_image(TINY), BASELINE_URI: _baseline(tmp_path / "serving")},
    )  # fmt: skip
    assert (run.result.reason, run.result.message) == (
        EVALUATION_FAILED, "tinytrainer.noeval has no function score",
    )  # fmt: skip


def test_a_serving_version_that_cannot_be_read(tmp_path: Path) -> None:
    run = train(
        tmp_path, "--module", "tinytrainer.quick", "--output", str(tmp_path / "out"),
        env={**in_image(TINY), BASELINE_URI: f"file://{tmp_path}/gone/"},
    )  # fmt: skip
    assert run.result.reason == EVALUATION_FAILED
    gone = f"file://{tmp_path}/gone/"
    assert f"cannot read the serving version's artifact {gone}" in run.result.message


def test_an_upload_that_fails(tmp_path: Path) -> None:
    (tmp_path / "store").write_text("a file where the store's folder must be")
    run = train(
        tmp_path, "--module", "tinytrainer.quick", "--output", f"file://{tmp_path}/store/quick/v1",
        env=in_image(TINY),
    )  # fmt: skip
    assert (run.code, run.result.reason) == (1, UPLOAD_FAILED)
    assert f"cannot upload the model to file://{tmp_path}/store/quick/v1/" in run.result.message


# --- the CTR example --------------------------------------------------------------------


@pytest.fixture(scope="module")
def ctr_days(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Three weeks of synthetic click logs, written by the example's own module."""
    return write_ctr_days(tmp_path_factory.mktemp("ctr-days"), days=21)


@pytest.fixture
def ctr_trainer() -> Iterator[object]:
    """The example's trainer module, imported here to score models as it does."""
    sys.path.insert(0, str(CTR_EXAMPLE))
    try:
        from trainer import train as ctr_train

        yield ctr_train
    finally:
        sys.path.remove(str(CTR_EXAMPLE))
        for name in [m for m in sys.modules if m == "trainer" or m.startswith("trainer.")]:
            del sys.modules[name]


def test_the_ctr_example_retrains_and_beats_last_weeks_model(
    tmp_path: Path, wheels: dict[str, Path], ctr_days: str, ctr_trainer: object
) -> None:
    package = ("--package", wheels["ctr"].as_uri(), "--module", "trainer.train")
    last_week = train(
        tmp_path / "a", *package, "--output", f"file://{tmp_path}/store/ctr/ctr-20250115",
        trainer_args=(f"--data={ctr_days}",), env={RUN_DATE: "2025-01-15T03:00:00Z"},
    )  # fmt: skip
    assert last_week.result.reason == TRAINED, last_week.stderr
    assert last_week.result.framework == "xgboost"
    assert "training on 2025-01-08..2025-01-13, held out 2025-01-14" in last_week.stdout

    today = train(
        tmp_path / "b", *package, "--output", f"file://{tmp_path}/store/ctr/ctr-20250122",
        trainer_args=(f"--data={ctr_days}", "--max_depth=5"),
        env={RUN_DATE: "2025-01-22T03:00:00Z", BASELINE_URI: last_week.result.artifact_uri},
    )  # fmt: skip
    result = today.result
    assert result.reason == TRAINED, today.stderr
    assert set(result.metrics) == {"auc", "log_loss"}
    assert 0.7 < result.metrics["auc"] < 1.0
    # The hook scored this model as the trainer did, and last week's on the same day.
    assert result.candidate_metrics == result.metrics
    assert result.baseline_metrics["auc"] < result.candidate_metrics["auc"]  # the signal drifted

    # The uploaded model scores exactly what the trainer reported, on the held-out day.
    model = joblib.load(tmp_path / "store" / "ctr" / "ctr-20250122" / "model.joblib")
    os.environ[RUN_DATE] = "2025-01-22T03:00:00Z"
    try:
        args = ctr_trainer.parse_args([f"--data={ctr_days}"])  # type: ignore[attr-defined]
        _, held_out = ctr_trainer.window(ctr_trainer.run_day(), 7, 1)  # type: ignore[attr-defined]
        rows, clicked = ctr_trainer.load(args, held_out)  # type: ignore[attr-defined]
    finally:
        del os.environ[RUN_DATE]
    assert ctr_trainer.score(model, rows, clicked) == result.metrics  # type: ignore[attr-defined]
    assert model[-1].get_params()["max_depth"] == 5  # the hyperparameter reached the model


# --- an S3 store --------------------------------------------------------------------------


@pytest.fixture
def s3_store(s3_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A bucket of its own on the real S3 server, emptied and removed afterwards."""
    import secrets

    import boto3

    for key, value in s3_env.items():
        monkeypatch.setenv(key, value)
    s3 = boto3.session.Session().client("s3", endpoint_url=s3_env["AWS_ENDPOINT_URL"])
    bucket = f"train-{secrets.token_hex(4)}"
    s3.create_bucket(Bucket=bucket)
    yield bucket
    for item in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
        s3.delete_object(Bucket=bucket, Key=item["Key"])
    s3.delete_bucket(Bucket=bucket)


def test_package_serving_version_and_output_on_s3(
    tmp_path: Path, wheels: dict[str, Path], s3_store: str, s3_env: dict[str, str]
) -> None:
    from modelops_runtime import storage

    package = f"s3://{s3_store}/ctr/packages/ab12/{wheels['tiny'].name}"
    storage.upload(wheels["tiny"], package)
    baseline = f"s3://{s3_store}/quick/quick-v1/"
    storage.upload(Path(_baseline(tmp_path / "serving", c=0.5).removeprefix("file://")), baseline)
    run = train(
        tmp_path, "--package", package, "--module", "tinytrainer.quick",
        "--output", f"s3://{s3_store}/quick/quick-v2", trainer_args=("--C=0.9",),
        env={**s3_env, BASELINE_URI: baseline},
    )  # fmt: skip
    result = run.result
    assert result.reason == TRAINED, run.stderr
    assert result.artifact_uri == f"s3://{s3_store}/quick/quick-v2/"
    assert (result.candidate_metrics, result.baseline_metrics) == ({"score": 0.9}, {"score": 0.5})
    fetched = storage.fetch(result.artifact_uri, tmp_path / "cache")
    assert sorted(p.name for p in fetched.iterdir()) == ["metadata.json", "model.pkl"]
    assert pickle.loads((fetched / "model.pkl").read_bytes()) == {"C": 0.9}


def test_a_stopped_pod_stops_the_trainer_and_says_so(tmp_path: Path) -> None:
    """SIGTERM (a cancel, a deadline) goes on to the trainer; the result still comes."""
    import signal

    log = tmp_path / "termination-log"
    child = subprocess.Popen(
        [sys.executable, "-m", "modelops_runtime", "train", "--module", "tinytrainer.sleepy",
         "--output", str(tmp_path / "out"), "--work-dir", str(tmp_path / "work"),
         "--termination-log", str(log)],
        env={**os.environ, **in_image(TINY)}, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert child.stdout is not None
    assert child.stdout.readline() == "ready\n"
    child.send_signal(signal.SIGTERM)
    assert child.wait(timeout=30) == 1
    result = TrainingResult.from_termination(log.read_text(), 1)
    assert (result.reason, result.exit_code) == (TRAINER_FAILED, 143)
    assert result.message.startswith("the trainer was killed by SIGTERM")
