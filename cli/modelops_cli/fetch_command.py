"""``modelops fetch``: fetch and verify an artifact for a predictor pod (its init step).

The verdict goes to stdout and to a termination log as one JSON object, which the
operator turns into the ModelVersion's ``ArtifactVerified`` and ``RuntimeCompatible``
conditions; the model lands in ``DEST/model/`` for ``modelops serve DEST/model``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

RUNTIME_REASONS = {"VersionMismatch"}


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "fetch", help="fetch, verify and test-load an artifact into a folder (a pod's init step)"
    )
    parser.add_argument("model_uri")
    parser.add_argument("--dest", required=True, help="folder that receives model/<file>")
    parser.add_argument("--sha256")
    parser.add_argument("--format", dest="artifact_format")
    parser.add_argument("--allow-version-mismatch", action="store_const", const=True)
    parser.add_argument(
        "--termination-log", help="also write the verdict here (a pod's /dev/termination-log)"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from modelops_runtime.artifacts import METADATA_FILE, installed_framework_versions
    from modelops_runtime.errors import ArtifactError
    from modelops_runtime.preparation import prepare
    from modelops_runtime.settings import Settings

    settings = Settings.from_env(
        model_uri=args.model_uri,
        sha256=args.sha256,
        artifact_format=args.artifact_format,
        allow_version_mismatch=args.allow_version_mismatch,
    )
    Path(args.dest).mkdir(parents=True, exist_ok=True)
    dest = Path(args.dest) / "model"
    with tempfile.TemporaryDirectory(dir=args.dest) as cache:
        try:
            prepared = prepare(settings, cache_dir=Path(cache))
        except ArtifactError as err:
            condition = "RuntimeCompatible" if err.reason in RUNTIME_REASONS else "ArtifactVerified"
            _report(args, {"reason": err.reason, "message": str(err), "condition": condition})
            return 1
        artifact = prepared.artifact
        staging = Path(args.dest) / ".model-staging"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        shutil.copyfile(artifact.path, staging / artifact.path.name)
        metadata = artifact.path.parent / METADATA_FILE
        if metadata.exists():
            shutil.copyfile(metadata, staging / METADATA_FILE)
        shutil.rmtree(dest, ignore_errors=True)
        staging.rename(dest)
    _report(
        args,
        {
            "reason": "Verified",
            "framework": prepared.loaded.model.framework,
            "format": artifact.format.value,
            "sha256": artifact.sha256,
            "recorded_versions": artifact.metadata.framework_versions,
            "runtime_versions": installed_framework_versions(),
            "metrics": artifact.metadata.metrics,
            "version_problems": prepared.loaded.framework_version_problems,
        },
    )
    return 0


def _report(args: argparse.Namespace, verdict: dict[str, Any]) -> None:
    line = json.dumps(verdict, sort_keys=True)
    print(line)
    if args.termination_log:
        # The kubelet keeps at most 4 KiB of a termination message.
        Path(args.termination_log).write_text(line[:4000])
