"""The trainer entrypoint's recipe: install the code, run it, find its model and metrics,
score it against the serving version, record and upload it, and say how it went.

Every outcome is a ``TrainingResult``: a failure has its reason and a message for
people (never a bare exit code), an unexpected error of our own included.
"""

from __future__ import annotations

import os
import sys
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from modelops_contracts.training import (
    ENTRYPOINT_FAILED,
    METRICS_INVALID,
    RUN_DATE,
    TRAINED,
    TRAINER_FAILED,
    TrainingResult,
    hyperparameter_args,
)
from modelops_runtime.training import (
    discovery,
    distributed,
    evaluation,
    package,
    process,
    publish,
)
from modelops_runtime.training.arguments import (
    Hook,
    evaluation_hook,
    trainer_args,
)
from modelops_runtime.training.environment import (
    DEFAULT_WORK_DIR,
    Workspace,
    baseline,
    run_date,
    trainer_env,
)
from modelops_runtime.training.failure import TrainingFailure
from modelops_runtime.training.metrics import MetricsError, read_metrics


@dataclass(frozen=True)
class Options:
    """What the entrypoint is told: the code (a package and module, a module already
    installed, or a command; or none, to collect what an image's trainer wrote), the
    user's arguments, and where the model goes."""

    output: str
    module: str | None = None
    package: str | None = None
    index: tuple[str, ...] = ()
    """Where the package's dependencies resolve: this index, then extra ones; empty: pip's."""
    command: tuple[str, ...] = ()
    collect: bool = False
    user_args: tuple[str, ...] = ()
    hyperparameters: dict[str, str] = field(default_factory=dict)
    """Recorded as the run's hyperparameters; the trainer gets them after ``user_args``."""
    evaluation_hook: str | None = None
    work_dir: Path = DEFAULT_WORK_DIR


def run(options: Options, env: Mapping[str, str] | None = None) -> TrainingResult:
    """The run's result; never raises."""
    try:
        return _run(options, os.environ if env is None else env)
    except TrainingFailure as failure:
        return TrainingResult(
            reason=failure.reason,
            message=failure.message,
            exit_code=failure.exit_code,
            log_tail=failure.log_tail,
        )
    except Exception as err:
        traceback.print_exc()
        return TrainingResult(
            reason=ENTRYPOINT_FAILED,
            message=f"the trainer entrypoint failed: {type(err).__name__}: {err}",
        )


def _run(options: Options, env: Mapping[str, str]) -> TrainingResult:
    if [bool(options.module), bool(options.command), options.collect].count(True) != 1:
        raise TrainingFailure(
            ENTRYPOINT_FAILED, "give the trainer as one of --module, --command or --collect"
        )
    destination = publish.output_folder(options.output)
    try:
        hook = evaluation_hook(options.evaluation_hook, options.module)
        me = distributed.worker(env)
    except ValueError as err:
        raise TrainingFailure(ENTRYPOINT_FAILED, str(err)) from err
    workspace = Workspace.of(options.work_dir, env)
    workspace.prepare(keep_outputs=options.collect)
    date = run_date(env)
    child_env = trainer_env(env, workspace, date, destination)

    python = _install(options, workspace, child_env)
    argv = trainer_args(
        workspace.model_dir, [*options.user_args, *hyperparameter_args(options.hyperparameters)]
    )
    tail = "" if options.collect else _train(python, options, argv, child_env).tail
    if me.rank != 0:  # rank 0 saves, scores and reports the one model of the group
        return TrainingResult(
            reason=TRAINED,
            message=f"worker {me.rank} of {me.world_size} finished; rank 0 publishes the model",
        )
    found = discovery.find_model(workspace.model_dir)
    try:
        metrics = read_metrics(workspace.metrics_file, workspace.hypertune_file)
    except MetricsError as err:
        raise TrainingFailure(METRICS_INVALID, str(err), log_tail=tail) from err
    say(f"model {found.path.name} ({found.format.value}), metrics {metrics or 'none'}")
    # Staged before the hook runs: what is uploaded is what was scored, even if importing
    # the trainer's module for its hook were to write the model dir again.
    staged = publish.stage(
        found,
        workspace.artifact,
        publish.framework_versions(python),
        metrics,
        {
            "args": list(options.user_args),
            "hyperparameters": dict(sorted(options.hyperparameters.items())),
            "run_date": date,
            "trainer": _trainer(options),
        },
    )
    baseline_uri, baseline_version = baseline(env)
    scores = None
    if hook is not None and baseline_uri:
        scores = _score(
            python, hook, candidate=staged.model_file, baseline_uri=baseline_uri,
            workspace=workspace, env=child_env, argv=argv,
        )  # fmt: skip
    say(f"uploading {staged.model_file.name} and metadata.json to {destination}")
    publish.upload(staged, destination)
    return TrainingResult(
        reason=TRAINED,
        message=f"trained {staged.model_file.name} ({staged.framework}), uploaded to {destination}",
        artifact_uri=destination,
        sha256=staged.sha256,
        format=found.format.value,
        framework=staged.framework,
        metrics=metrics,
        baseline_version=baseline_version if scores else "",
        candidate_metrics=scores.candidate if scores else {},
        baseline_metrics=scores.baseline if scores else {},
    )


def _install(options: Options, workspace: Workspace, env: Mapping[str, str]) -> Path:
    """The interpreter that runs the trainer: a venv with the package installed, or this
    one (a module or command already in the image)."""
    if not options.package:  # a module or command in the image, or a collect
        return Path(sys.executable)
    say(f"downloading the trainer package {options.package}")
    package_file = package.download(options.package, workspace.downloads / "package")
    python = package.create_venv(workspace.venv)
    say(f"installing {package_file.name}")
    started = time.monotonic()
    package.install(python, package_file, env, options.index)
    say(f"installed {package_file.name} in {time.monotonic() - started:.1f}s")
    return python


def _score(
    python: Path,
    hook: Hook,
    *,
    candidate: Path,
    baseline_uri: str,
    workspace: Workspace,
    env: Mapping[str, str],
    argv: list[str],
) -> evaluation.Scores | None:
    say(f"scoring this model and the serving version ({baseline_uri}) with {hook}")
    baseline = evaluation.fetch_baseline(baseline_uri, workspace.downloads / "baseline")
    scores = evaluation.score(
        python, hook, candidate=candidate, baseline=baseline, env=env, trainer_argv=argv,
        folder=workspace.evaluation,
    )  # fmt: skip
    if scores is None:
        say(f"{hook.module} defines no {hook.function}: the serving version is not scored")
    else:
        say(f"this model scored {scores.candidate}, the serving one {scores.baseline}")
    return scores


def _train(
    python: Path, options: Options, argv: list[str], env: Mapping[str, str]
) -> process.Finished:
    """The user's code run to its end; TrainerFailed unless it exits 0."""
    command = [str(python), "-m", options.module] if options.module else list(options.command)
    say(f"running {' '.join([*command, *argv])} (run date {env[RUN_DATE]})")
    started = time.monotonic()
    try:
        finished = process.run([*command, *argv], env)
    except OSError as err:
        raise TrainingFailure(
            TRAINER_FAILED, f"cannot start {command[0]}: {err}", exit_code=127
        ) from err
    say(f"the trainer {finished.describe()} after {time.monotonic() - started:.1f}s")
    if finished.exit_code != 0:
        said = f": {finished.last_error}" if finished.last_error else " without output"
        raise TrainingFailure(
            TRAINER_FAILED,
            f"the trainer {finished.describe()}{said}",
            exit_code=finished.exit_code,
            log_tail=finished.tail,
        )
    return finished


def _trainer(options: Options) -> dict[str, object]:
    if options.collect:
        return {"collected": True}
    if options.command:
        return {"command": list(options.command)}
    return {"module": options.module, **({"package": options.package} if options.package else {})}


def say(line: str) -> None:
    """One line of the entrypoint's own in the pod's log, beside the trainer's."""
    print(f"modelops: {line}", file=sys.stderr, flush=True)
