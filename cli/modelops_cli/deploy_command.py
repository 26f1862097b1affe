"""``modelops deploy PATH --model M --version V``: upload an artifact and serve it.

Uploads the model file with its sha256 and a metadata.json of this environment's
framework versions to ``STORE/M/V/``, creates the Model if missing and the ModelVersion,
then follows the version's conditions until it is Ready (or says why not).
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from modelops_cli import resources
from modelops_cli.errors import CommandError
from modelops_operator.api import MODEL, MODEL_VERSION


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "deploy", help="upload a model file and serve it as a ModelVersion"
    )
    parser.add_argument(
        "path", type=Path, help="the saved model (.joblib, .pkl, .skops, .json, .ubj)"
    )
    parser.add_argument("--model", required=True, help="Model name (the stable URL)")
    parser.add_argument(
        "--version", required=True, help="version name (the ModelVersion is MODEL-VERSION)"
    )
    parser.add_argument(
        "--store",
        default=os.environ.get("MODELOPS_STORE"),
        help="where artifacts go, e.g. s3://bucket/models (default: $MODELOPS_STORE)",
    )
    parser.add_argument(
        "--runtime-version", help="runtime to serve with (the operator's default if unset)"
    )
    parser.add_argument("--min-replicas", type=int)
    parser.add_argument(
        "--wait",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="follow the version until it is Ready (default) or fails",
    )
    parser.add_argument(
        "--timeout", type=float, default=300.0, help="seconds to wait (default 300)"
    )
    resources.add_namespace(parser)
    parser.set_defaults(run=run)


def framework_of(model_file: Path, fmt: str) -> str:
    """xgboost when the file is an XGBoost model or a pickle that references XGBoost (the
    runtime's rule, which the trainer entrypoint records too)."""
    from modelops_runtime.artifacts import Format
    from modelops_runtime.artifacts import framework_of as runtime_framework_of

    return runtime_framework_of(model_file, Format(fmt))


def upload(path: Path, store: str, model: str, version: str) -> tuple[str, str, str]:
    """Upload ``path`` with its metadata.json; returns (folder URI, sha256, format)."""
    from modelops_runtime import storage
    from modelops_runtime.artifacts import detect_format, write_metadata
    from modelops_runtime.errors import ArtifactError

    try:
        fmt = detect_format(path).value
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            shutil.copyfile(path, folder / path.name)
            write_metadata(folder, framework_of(path, fmt))
            uri = f"{store.rstrip('/')}/{model}/{version}/"
            storage.upload(folder, uri)
    except ArtifactError as err:
        raise CommandError(f"{path}: {err} ({err.reason})") from err
    return uri, storage.sha256_of(path), fmt


def run(args: argparse.Namespace) -> int:
    if not args.path.is_file():
        raise CommandError(f"no model file at {args.path}")
    if not args.store:
        raise CommandError("give --store (e.g. s3://bucket/models) or set MODELOPS_STORE")
    name = resources.version_name(args.model, args.version)
    ns = args.namespace
    started = time.monotonic()
    uri, sha256, fmt = upload(args.path, args.store, args.model, args.version)
    print(f"uploaded {args.path.name} ({fmt}, sha256 {sha256[:12]}…) to {uri}")
    if resources.get_model(ns, args.model) is None:
        resources.create(resources.manifest(MODEL, ns, args.model, {}))
        print(f"created Model {args.model}")
    spec: dict[str, Any] = {
        "model": args.model,
        "artifact": {"uri": uri, "sha256": sha256, "format": fmt},
    }
    if args.runtime_version:
        spec["runtimeVersion"] = args.runtime_version
    if args.min_replicas is not None:
        spec["predictor"] = {"minReplicas": args.min_replicas}
    resources.create(resources.manifest(MODEL_VERSION, ns, name, spec))
    print(f"created ModelVersion {name}")
    if not args.wait:
        return 0
    version = wait_ready(ns, name, args.timeout)
    print(
        f"{name} is Ready after {time.monotonic() - started:.1f}s: {version['status'].get('url')}"
    )
    print(serving_message(wait_model(ns, args.model, name, timeout=30), name))
    return 0


def wait_model(namespace: str, model: str, name: str, timeout: float) -> dict[str, Any]:
    """The Model once it serves ``name``, or once it is clear it will not (a pin elsewhere)."""
    deadline = time.monotonic() + timeout
    while True:
        found = resources.get_model(namespace, model) or {}
        pin = (found.get("spec") or {}).get("defaultVersion")
        serving = (found.get("status") or {}).get("servingVersion")
        if serving == name or (pin and pin != name) or time.monotonic() > deadline:
            return found
        time.sleep(0.5)


def serving_message(model: dict[str, Any], name: str) -> str:
    status, spec = model.get("status") or {}, model.get("spec") or {}
    model_name = model.get("metadata", {}).get("name", "the model")
    if status.get("servingVersion") == name:
        return f"Model {model_name} serves {name} at {status.get('url')}"
    if spec.get("defaultVersion"):
        return (
            f"Model {model_name} stays on its pinned version {spec['defaultVersion']} "
            f"(modelops set-default {model_name} {name} to switch)"
        )
    return f"Model {model_name} does not serve {name} yet (serving: {status.get('servingVersion')})"


def wait_ready(namespace: str, name: str, timeout: float) -> dict[str, Any]:
    """Print each change of the version's conditions until Ready is True; a False Ready
    (a failure with its reason) or the timeout is a CommandError. A version with
    ``minReplicas: 0`` is Ready once one pod has verified and served it."""
    deadline = time.monotonic() + timeout
    seen: set[tuple[str, str, str]] = set()
    while True:
        version = resources.get_version(namespace, name) or {}
        for cond in version.get("status", {}).get("conditions") or []:
            key = (cond.get("type", ""), cond.get("status", ""), cond.get("reason", ""))
            if key not in seen:
                seen.add(key)
                print(f"  {key[0]}={key[1]} {key[2]}: {cond.get('message', '')}")
        ready = resources.condition(version, "Ready")
        if ready.get("status") == "True":
            return version
        if ready.get("status") == "False":
            raise CommandError(f"{name} failed: {ready.get('reason')}: {ready.get('message')}")
        if time.monotonic() > deadline:
            last = (
                f"Ready={ready.get('status')} {ready.get('reason')}: {ready.get('message')}"
                if ready
                else "no status yet (is the operator running?)"
            )
            raise CommandError(
                f"waited {timeout:.0f}s for ModelVersion {name} to be Ready; last seen: {last} "
                f"(kubectl describe mv {name} -n {namespace})"
            )
        time.sleep(1)
