"""``modelops train submit|list|describe|logs|cancel`` and ``modelops logs``.

``submit`` builds the trainer package into a wheel, uploads it under the store, creates
the Model if it is missing and applies the TrainingJob (server-side apply, the CLI's own
field manager, so submitting again with the same ``--name`` updates it); ``--follow``
streams the run's pod logs until it ends and prints the outcome.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from modelops_cli import resources, training_logs, trainingjobs
from modelops_cli.errors import CommandError
from modelops_operator import kube
from modelops_operator.api import API_VERSION, MODEL, MODEL_VERSION, TRAINING_JOB
from modelops_operator.api.trainingjob import Promotion, Schedule, TrainingJobSpec
from modelops_operator.names import CANCEL_ANNOTATION, PROMOTION_LABEL

FIELD_MANAGER = "modelops-cli"


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "train", help="train on the cluster: submit, list, describe, logs, cancel, promote"
    )
    train = parser.add_subparsers(dest="train_command", required=True, metavar="COMMAND")
    _add_submit(train)
    listing = train.add_parser("list", help="list the TrainingJobs")
    resources.add_namespace(listing)
    listing.set_defaults(run=run_list)
    describe = train.add_parser("describe", help="what a TrainingJob runs and how it went")
    describe.add_argument("name")
    resources.add_namespace(describe)
    describe.set_defaults(run=run_describe)
    for command in (train, commands):  # `modelops train logs` and `modelops logs`
        _add_logs(command)
    cancel = train.add_parser(
        "cancel", help="stop a TrainingJob's runs (and its schedule), keeping its record"
    )
    cancel.add_argument("name")
    resources.add_namespace(cancel)
    cancel.set_defaults(run=run_cancel)
    promote = train.add_parser(
        "promote", help="let a candidate the gate holds for a person (manual mode) serve"
    )
    promote.add_argument("model")
    promote.add_argument("version", help="the candidate ModelVersion")
    resources.add_namespace(promote)
    promote.set_defaults(run=run_promote)


def _add_submit(train: Any) -> None:
    parser = train.add_parser(
        "submit",
        help="build and upload a trainer package and run it as a TrainingJob",
        description="Build the package at --package-path into a wheel, upload it under "
        "--store and apply a TrainingJob that runs --module with the arguments after --.",
    )
    parser.add_argument(
        "--package-path",
        type=Path,
        required=True,
        help="the trainer's project (pyproject.toml/setup.py) or package folder",
    )
    parser.add_argument("--module", required=True, help="module to run, e.g. trainer.train")
    parser.add_argument("--model", required=True, help="the Model the training produces")
    parser.add_argument("--name", help="TrainingJob name (default MODEL-YYYYmmdd-HHMMSS)")
    parser.add_argument(
        "--store",
        default=os.environ.get("MODELOPS_STORE"),
        help="where the package and the models go, e.g. s3://bucket/models "
        "(default: $MODELOPS_STORE)",
    )
    parser.add_argument("--schedule", metavar="CRON", help="run on a schedule, e.g. '0 3 * * *'")
    parser.add_argument("--time-zone", help="IANA time zone of --schedule (default UTC)")
    parser.add_argument("--runtime-version", help="runtime to train in and serve with")
    parser.add_argument(
        "--evaluation-hook", metavar="MODULE:FUNCTION", help="default: evaluate in --module"
    )
    parser.add_argument("--promote-metric", help="promote a new version only if it beats ...")
    parser.add_argument("--goal", choices=["maximize", "minimize"], help="... on this goal")
    parser.add_argument("--min-improvement", type=float, help="... by at least this much")
    parser.add_argument(
        "--no-build-isolation",
        dest="build_isolation",
        action="store_false",
        help="build with the setuptools installed here (offline), not a fresh one from PyPI",
    )
    parser.add_argument(
        "--follow", action="store_true", help="stream the run's logs and print its outcome"
    )
    parser.add_argument("--timeout", type=float, help="seconds --follow waits (default: no end)")
    parser.add_argument("args", nargs="*", metavar="-- ARGS", help="the trainer's arguments")
    resources.add_namespace(parser)
    parser.set_defaults(run=run_submit)


def _add_logs(commands: Any) -> None:
    parser = commands.add_parser("logs", help="a TrainingJob's logs (its runs' pods)")
    parser.add_argument("name", help="the TrainingJob")
    parser.add_argument(
        "-f", "--follow", action="store_true", help="stream until the TrainingJob ends"
    )
    parser.add_argument("--timeout", type=float, help="seconds --follow waits (default: no end)")
    resources.add_namespace(parser)
    parser.set_defaults(run=run_logs)


def job_spec(args: argparse.Namespace, package_uri: str, store: str) -> TrainingJobSpec:
    """The TrainingJob's spec from ``submit``'s flags (the typed API's fields)."""
    if bool(args.promote_metric) != bool(args.goal):
        raise CommandError("--promote-metric and --goal go together")
    if args.min_improvement is not None and not args.promote_metric:
        raise CommandError("--min-improvement needs --promote-metric and --goal")
    if args.time_zone and not args.schedule:
        raise CommandError("--time-zone needs --schedule")
    promotion = None
    if args.promote_metric:
        promotion = Promotion(
            metric=args.promote_metric, goal=args.goal, min_improvement=args.min_improvement or 0.0
        )
    return TrainingJobSpec(
        model=args.model,
        package=package_uri,
        module=args.module,
        args=tuple(args.args),
        runtime_version=args.runtime_version,
        output=store,
        evaluation_hook=args.evaluation_hook,
        schedule=Schedule(cron=args.schedule, time_zone=args.time_zone) if args.schedule else None,
        promotion=promotion,
    )


def run_submit(args: argparse.Namespace) -> int:
    if not args.store:
        raise CommandError("give --store (e.g. s3://bucket/models) or set MODELOPS_STORE")
    store = trainingjobs.check_store(args.store)
    ns, name = args.namespace, args.name or f"{args.model}-{time.strftime('%Y%m%d-%H%M%S')}"
    with tempfile.TemporaryDirectory() as tmp:
        from modelops_cli import packaging

        wheel = packaging.build(args.package_path, Path(tmp), isolation=args.build_isolation)
        package_uri = packaging.upload(wheel, store, args.model)
    print(f"built {wheel.name} and uploaded it to {package_uri}")
    spec = trainingjobs.spec_body(job_spec(args, package_uri, store))
    if resources.get_model(ns, args.model) is None:
        resources.create(resources.manifest(MODEL, ns, args.model, {}))
        print(f"created Model {args.model}")
    apply(ns, name, spec)
    print(f"applied TrainingJob {name} (namespace {ns})")
    if not args.follow:
        print(f"follow it with: modelops train logs {name} --follow -n {ns}")
        return 0
    if args.schedule:
        print(f"it runs on '{args.schedule}'; follow its runs with: modelops logs {name} -f")
        return 0
    return _print_outcome(training_logs.follow(ns, name, args.timeout))


def apply(namespace: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    """Server-side apply under the CLI's field manager, without force: a field another
    manager owns (a GitOps tool, say) is a conflict the user sees, not an overwrite."""
    manifest = resources.manifest(TRAINING_JOB, namespace, name, spec)
    path = kube.Ref(API_VERSION, TRAINING_JOB.kind, namespace, name).path()
    try:
        applied: dict[str, Any] = kube.request(
            "PATCH", path, manifest, "application/apply-patch+yaml",
            {"fieldManager": FIELD_MANAGER},
        )  # fmt: skip
    except kube.KubeError as err:
        if err.status == 409:
            raise CommandError(
                f"TrainingJob {name} in namespace {namespace} is managed elsewhere: "
                f"{err.message}; change it there, or submit with another --name"
            ) from err
        raise CommandError(f"applying TrainingJob {name}: {err}") from err
    except OSError as err:
        raise CommandError(
            f"applying TrainingJob {name}: cannot reach the Kubernetes API: {err}"
        ) from err
    return applied


def run_list(args: argparse.Namespace) -> int:
    path = resources.ref(TRAINING_JOB, args.namespace).path()
    listed = resources.call("listing TrainingJobs", kube.request, "GET", path)
    jobs = sorted(
        listed.get("items") or [], key=lambda j: str(j["metadata"].get("creationTimestamp", ""))
    )
    if not jobs:
        print(f"no TrainingJobs in namespace {args.namespace}")
        return 0
    print(trainingjobs.format_table(trainingjobs.rows(jobs)))
    return 0


def run_describe(args: argparse.Namespace) -> int:
    print(trainingjobs.describe(training_logs.get_job(args.namespace, args.name)))
    return 0


def run_logs(args: argparse.Namespace) -> int:
    if args.follow:
        return _print_outcome(training_logs.follow(args.namespace, args.name, args.timeout))
    if training_logs.show_logs(args.namespace, args.name) == 0:
        print(f"TrainingJob {args.name} has no pod with a log yet", file=sys.stderr)
    return 0


def run_cancel(args: argparse.Namespace) -> int:
    """Mark the TrainingJob cancelled; the operator stops its runs and keeps the record."""
    training_logs.get_job(args.namespace, args.name)
    patch = {"metadata": {"annotations": {CANCEL_ANNOTATION: "true"}}}
    path = resources.ref(TRAINING_JOB, args.namespace, args.name).path()
    resources.call(
        f"cancelling TrainingJob {args.name}",
        kube.request, "PATCH", path, patch, "application/merge-patch+json",
    )  # fmt: skip
    print(
        f"cancelled TrainingJob {args.name}: no new run starts, running ones stop, a schedule "
        f"is suspended (kubectl delete trainingjob {args.name} -n {args.namespace} removes it)"
    )
    return 0


def run_promote(args: argparse.Namespace) -> int:
    """Label a pending (or rejected) candidate promoted: the Model's rule may then pick it
    (a pin on the Model still wins)."""
    version = resources.require_version(args.namespace, args.model, args.version)
    name = version["metadata"]["name"]
    labels = (version.get("metadata") or {}).get("labels") or {}
    if labels.get(PROMOTION_LABEL) not in ("pending", "rejected"):
        raise CommandError(f"{name} is not held back by the promotion gate: nothing to promote")
    patch = {"metadata": {"labels": {PROMOTION_LABEL: "promoted"}}}
    path = resources.ref(MODEL_VERSION, args.namespace, name).path()
    resources.call(f"promoting {name}", kube.request, "PATCH", path, patch,
                   "application/merge-patch+json")  # fmt: skip
    print(f"{name} promoted: Model {args.model} serves it once it is the newest Ready version")
    return 0


def _print_outcome(found: tuple[bool, str]) -> int:
    succeeded, text = found
    print(text)
    return 0 if succeeded else 1
