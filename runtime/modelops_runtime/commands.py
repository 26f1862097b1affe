"""The runtime's commands, as pods run them: ``serve`` and ``fetch`` (predictor pods) and
``train`` (training pods) and ``activate`` (the activator's pods).

``python -m modelops_runtime serve|fetch|train|activate ...`` runs them without the
operator or the ``modelops`` command installed; ``modelops serve|fetch`` registers the
same parsers and functions. Nothing heavy is imported until a command runs, so building
the parser is cheap.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from modelops_contracts.training import HYPERPARAMETER_OPTION
from modelops_contracts.verdict import VERIFICATION_FAILED, VERIFIED, Verdict
from modelops_runtime.errors import ArtifactError

PROG = "python -m modelops_runtime"


class CommandError(Exception):
    """A failure the person running the command can act on; printed as one line, exit 1."""


def register(commands: Any) -> None:
    """Add ``serve`` and ``fetch`` to a parser's subcommands (``add_subparsers()``)."""
    _add_serve(commands)
    _add_fetch(commands)


def build_parser(prog: str = PROG) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Serve one model artifact, fetch and verify it for a pod, run a "
        "trainer and upload its model, or run the activator.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    register(commands)
    _add_train(commands)
    _add_activate(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except KeyboardInterrupt:
        return 130
    except CommandError as err:
        print(f"{PROG}: {err}", file=sys.stderr)
        return 1


# --- serve ---------------------------------------------------------------------------------


def _add_serve(commands: Any) -> None:
    parser = commands.add_parser(
        "serve",
        help="serve a model artifact over HTTP (KServe V1 and Open Inference Protocol)",
        description="Serve one model artifact. Flags override MODELOPS_* environment settings.",
    )
    parser.add_argument(
        "model_uri", nargs="?", help="path, file://, http(s)://, s3://, gs:// or pvc:// URI"
    )
    parser.add_argument("--name", help="model name in the URL paths (default: 'model')")
    parser.add_argument(
        "--version",
        dest="model_version",
        help="the version this server serves (the ModelVersion's name): reported in "
        "metadata and answered on /v2/models/NAME/versions/VERSION/...",
    )
    parser.add_argument("--port", type=int)
    parser.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--sha256", help="refuse to load unless the artifact has this sha256")
    parser.add_argument(
        "--format",
        dest="artifact_format",
        help="joblib, pickle, skops, xgboost-json or xgboost-ubj (default: detect)",
    )
    parser.add_argument(
        "--method",
        dest="default_method",
        choices=["predict", "predict_proba"],
        help="method used when a request names none (default predict)",
    )
    parser.add_argument("--max-batch-size", type=int, help="most rows merged into one model call")
    parser.add_argument(
        "--max-batch-wait-ms",
        type=float,
        help="how long a batch waits for more requests (default 0: never waits)",
    )
    parser.add_argument("--max-body-bytes", type=int, help="largest request body accepted")
    parser.add_argument(
        "--nan-policy",
        choices=["allow", "reject"],
        help="pass missing values to the model, or refuse them with a 400",
    )
    _add_allow_version_mismatch(parser)
    parser.add_argument("--cache-dir", help="where remote artifacts are downloaded")
    parser.add_argument(
        "--termination-log",
        help="when the artifact is refused, write the verdict here (a pod's "
        "/dev/termination-log) and exit 1 instead of staying not ready",
    )
    parser.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    parser.set_defaults(run=serve)


def serve(args: argparse.Namespace) -> int:
    """Run the predictor until it is stopped."""
    from modelops_runtime.settings import Settings

    overrides = {
        "model_uri": args.model_uri,
        "model_name": args.name,
        "model_version": args.model_version,
        "port": args.port,
        "host": args.host,
        "sha256": args.sha256,
        "artifact_format": args.artifact_format,
        "default_method": args.default_method,
        "max_batch_size": args.max_batch_size,
        "max_batch_wait_ms": args.max_batch_wait_ms,
        "max_body_bytes": args.max_body_bytes,
        "nan_policy": args.nan_policy,
        "allow_version_mismatch": args.allow_version_mismatch,
        "cache_dir": Path(args.cache_dir) if args.cache_dir else None,
        "log_level": args.log_level,
    }
    try:
        settings = Settings.from_env(**overrides)
    except ValueError as err:
        raise CommandError(str(err)) from err
    if not settings.model_uri:
        raise CommandError("give a model URI (or set MODELOPS_MODEL_URI)")
    import gc

    from modelops_runtime import prefetch

    # The start is mostly imports, whose objects all stay: collecting while they run
    # (~8% of their time) finds nothing. The app collects, freezes what the load left
    # and turns the collector back on when the load is over (create_app's freeze_heap).
    gc.disable()
    # Before the server's imports, so the download runs beside them (see prefetch).
    fetching = prefetch.start(settings.model_uri, settings.cache_dir, settings.artifact_format)
    from modelops_runtime.kube import KubeError
    from modelops_runtime.server import serve as run_server

    termination_log = Path(args.termination_log) if args.termination_log else None
    try:
        return run_server(settings, termination_log, fetching)
    except KubeError as err:  # auth mode kubernetes outside a pod, without MODELOPS_KUBE_API
        raise CommandError(str(err)) from err


# --- activate ------------------------------------------------------------------------------


def _add_activate(commands: Any) -> None:
    parser = commands.add_parser(
        "activate",
        help="run the activator: the proxy in front of versions at zero or split by percent",
        description="Proxy requests for modelops Services to their versions' pods, holding "
        "them while a version wakes. Settings come from MODELOPS_ACTIVATOR_* variables "
        "(docs/serving.md); flags override them.",
    )
    parser.add_argument("--port", type=int, help="proxied traffic (default 8080)")
    parser.add_argument("--admin-port", type=int, help="metrics, stats, health (default 9090)")
    parser.add_argument("--host", help="address to listen on (default 0.0.0.0)")
    parser.add_argument(
        "--static",
        help="a JSON file of routes and pods to use instead of watching the API server",
    )
    parser.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    parser.set_defaults(run=activate)


def activate(args: argparse.Namespace) -> int:
    from modelops_runtime.activator.server import serve as run_activator
    from modelops_runtime.activator.settings import ActivatorSettings
    from modelops_runtime.kube import KubeError

    try:
        settings = ActivatorSettings.from_env(
            port=args.port,
            admin_port=args.admin_port,
            host=args.host,
            static=Path(args.static) if args.static else None,
            log_level=args.log_level,
        )
        run_activator(settings)
    except (ValueError, KubeError) as err:
        raise CommandError(str(err)) from err
    return 0


# --- fetch ---------------------------------------------------------------------------------


def _add_fetch(commands: Any) -> None:
    parser = commands.add_parser(
        "fetch",
        help="fetch, verify and test-load an artifact into a folder (a pod's init step)",
        description="Fetch, verify and test-load an artifact into DEST/model/, and report "
        "the verdict as one JSON line on stdout (and in the termination log).",
    )
    parser.add_argument("model_uri", help="path, file://, http(s)://, s3://, gs:// or pvc:// URI")
    parser.add_argument("--dest", required=True, help="folder that receives model/<file>")
    parser.add_argument("--sha256", help="refuse the artifact unless it has this sha256")
    parser.add_argument(
        "--format",
        dest="artifact_format",
        help="joblib, pickle, skops, xgboost-json or xgboost-ubj (default: detect)",
    )
    _add_allow_version_mismatch(parser)
    parser.add_argument(
        "--termination-log", help="also write the verdict here (a pod's /dev/termination-log)"
    )
    parser.set_defaults(run=fetch)


def fetch(args: argparse.Namespace) -> int:
    """Place the verified artifact in ``DEST/model/``; 0 when verified, 1 when refused.

    Every outcome is a verdict, an unexpected failure included, so the operator always
    has a reason to show on the ModelVersion.
    """
    try:
        verdict = _fetch(Path(args.dest), args)
    except ArtifactError as err:
        verdict = Verdict.refused(err.reason, str(err))
    except Exception as err:
        verdict = Verdict.refused(VERIFICATION_FAILED, f"{type(err).__name__}: {err}")
    print(verdict.to_json())
    if args.termination_log:
        Path(args.termination_log).write_text(verdict.termination_message())
    return 0 if verdict.verified else 1


def _fetch(dest: Path, args: argparse.Namespace) -> Verdict:
    import contextlib
    import shutil
    import tempfile

    from modelops_runtime import prefetch, storage
    from modelops_runtime.artifacts import METADATA_FILE, installed_framework_versions
    from modelops_runtime.preparation import prepare
    from modelops_runtime.settings import Settings

    settings = Settings.from_env(
        model_uri=args.model_uri,
        sha256=args.sha256,
        artifact_format=args.artifact_format,
        allow_version_mismatch=args.allow_version_mismatch,
    )
    dest.mkdir(parents=True, exist_ok=True)
    placed = dest / "model"
    with tempfile.TemporaryDirectory(dir=dest) as cache:
        # Downloaded first, so the framework is judged by the file itself and imported
        # without what it brings for nothing, as a predictor does. No child is forked:
        # tests call this command inside the test process. Whatever fails, the load says why.
        with contextlib.suppress(Exception):
            local = storage.fetch(settings.model_uri, Path(cache))
            prefetch.start(str(local), Path(cache), settings.artifact_format).wait()
        prepared = prepare(settings, cache_dir=Path(cache))
        artifact = prepared.artifact
        staging = dest / ".model-staging"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        shutil.copyfile(artifact.path, staging / artifact.path.name)
        metadata = artifact.path.parent / METADATA_FILE
        if metadata.exists():
            shutil.copyfile(metadata, staging / METADATA_FILE)
        shutil.rmtree(placed, ignore_errors=True)
        staging.rename(placed)
    return Verdict(
        reason=VERIFIED,
        framework=prepared.loaded.model.framework,
        format=artifact.format.value,
        sha256=artifact.sha256,
        recorded_versions=artifact.metadata.framework_versions,
        runtime_versions=installed_framework_versions(),
        metrics=artifact.metadata.metrics,
        version_problems=tuple(prepared.loaded.framework_version_problems),
    )


def _add_allow_version_mismatch(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--allow-version-mismatch",
        action="store_const",
        const=True,
        help="serve even if the artifact was saved with other framework versions",
    )


# --- train ---------------------------------------------------------------------------------


def _add_train(commands: Any) -> None:
    parser = commands.add_parser(
        "train",
        help="run a trainer (a package and module, or a command) and upload its model",
        description="Install the trainer package, run its module (or run a command, or "
        "collect what an image's trainer wrote) with the trainer contract's environment and "
        "--job-dir, then find the model it wrote, read "
        "its metrics, score it against the serving version with the evaluation hook, and "
        "upload it with its metadata.json. The result is one JSON line on stdout and in the "
        "termination log; exit 0 only when trained. Arguments after -- go to the trainer.",
    )
    code = parser.add_mutually_exclusive_group(required=True)
    code.add_argument("--module", help="module run with python -m (e.g. trainer.train)")
    code.add_argument(
        "--command",
        action="append",
        metavar="ARG",
        help="an image's trainer command, one --command=ARG per word, e.g. "
        "--command=python --command=/app/train.py",
    )
    code.add_argument(
        "--collect",
        action="store_true",
        help="run nothing: collect the model and metrics an image's trainer wrote to "
        "$MODELOPS_MODEL_DIR before (a pod's init container), and upload them",
    )
    parser.add_argument(
        "--package", help="URI of the trainer's wheel or sdist, installed first (with --module)"
    )
    parser.add_argument(
        "--index-url",
        help="the only index the package's dependencies resolve from (no public index, no "
        "pip configuration); default: pip's own",
    )
    parser.add_argument(
        "--extra-index-url", action="append", default=[], help="another index (with --index-url)"
    )
    parser.add_argument(
        "--output",
        help="folder URI the model and metadata.json are uploaded to "
        "(default: $MODELOPS_OUTPUT_URI)",
    )
    parser.add_argument(
        "--termination-log", help="also write the result here (a pod's /dev/termination-log)"
    )
    parser.add_argument(
        "--evaluation-hook",
        metavar="MODULE:FUNCTION",
        help="scores a loaded model on the run's held-out data (default: evaluate in "
        "--module, if it defines one); used when $MODELOPS_BASELINE_URI is set",
    )
    parser.add_argument(
        "--work-dir", help="writable folder for the run (default /tmp/modelops-train)"
    )
    parser.add_argument(
        HYPERPARAMETER_OPTION,
        dest="hyperparameters",
        action="append",
        default=[],
        type=_hyperparameter,
        metavar="NAME=VALUE",
        help="a hyperparameter: recorded in metadata.json and given to the trainer as "
        "--NAME=VALUE after its own arguments (repeat for each)",
    )
    parser.add_argument("trainer_args", nargs="*", metavar="-- ARGS", help="the trainer's")
    parser.set_defaults(run=train, parser=parser)


def _hyperparameter(text: str) -> tuple[str, str]:
    from modelops_runtime.training.arguments import hyperparameter

    try:
        return hyperparameter(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from err


def train(args: argparse.Namespace) -> int:
    """Run the trainer; 0 when a model was trained and uploaded, 1 otherwise (with the
    reason in the result)."""
    import os

    from modelops_contracts.training import ENTRYPOINT_FAILED, OUTPUT_URI, TrainingResult
    from modelops_runtime.training.entrypoint import Options
    from modelops_runtime.training.entrypoint import run as run_training
    from modelops_runtime.training.environment import DEFAULT_WORK_DIR

    if args.package and not args.module:
        args.parser.error("--package goes with --module (the module of the package to run)")
    if args.extra_index_url and not args.index_url:
        args.parser.error("--extra-index-url goes with --index-url")
    output = args.output or os.environ.get(OUTPUT_URI, "")
    if output:
        result = run_training(
            Options(
                output=output,
                module=args.module,
                package=args.package,
                index=(args.index_url, *args.extra_index_url) if args.index_url else (),
                command=tuple(args.command or ()),
                user_args=tuple(args.trainer_args),
                hyperparameters=dict(args.hyperparameters),
                evaluation_hook=args.evaluation_hook,
                collect=args.collect,
                work_dir=Path(args.work_dir) if args.work_dir else DEFAULT_WORK_DIR,
            )
        )
    else:
        result = TrainingResult(
            reason=ENTRYPOINT_FAILED,
            message=f"give --output (or set {OUTPUT_URI}): the folder URI the model goes to",
        )
    print(result.to_json(), flush=True)
    if not result.trained:
        print(f"{PROG} train: {result.reason}: {result.message}", file=sys.stderr, flush=True)
    if args.termination_log:
        Path(args.termination_log).write_text(result.termination_message())
    return 0 if result.trained else 1
