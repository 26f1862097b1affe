"""The artifact a run leaves: the model file and its metadata.json (framework and framework
versions, metrics, sha256, the arguments and the run date), uploaded to the output URI."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelops_contracts.training import UPLOAD_FAILED
from modelops_runtime import storage
from modelops_runtime.artifacts import framework_of, installed_framework_versions, write_metadata
from modelops_runtime.errors import ArtifactError
from modelops_runtime.training.discovery import Found
from modelops_runtime.training.failure import TrainingFailure

UPLOADABLE = ("file", "pvc", "s3", "gs")
_VERSIONS = (
    "import json; from modelops_runtime.artifacts import installed_framework_versions as v; "
    "print(json.dumps(v()))"
)


@dataclass(frozen=True)
class Staged:
    folder: Path
    model_file: Path
    framework: str
    sha256: str


def output_folder(output: str) -> str:
    """The folder URI the artifact goes to (a plain path becomes ``file://``), or
    UploadFailed for a URI the runtime cannot write, said before anything is trained."""
    try:
        scheme = storage.scheme_of(output)
    except ArtifactError as err:
        raise TrainingFailure(UPLOAD_FAILED, f"cannot upload the model to {output}: {err}") from err
    if scheme not in UPLOADABLE:
        raise TrainingFailure(
            UPLOAD_FAILED,
            f"cannot upload the model to {output}: {scheme}:// is read-only here; give an "
            "s3://, gs://, pvc:// or file:// output",
        )
    if scheme == "file" and not output.startswith("file://"):
        output = Path(output).absolute().as_uri()
    return output.rstrip("/") + "/"


def framework_versions(python: Path) -> dict[str, str]:
    """The framework versions the user's code ran with: those its interpreter imports
    (a package may have installed its own scikit-learn into the venv)."""
    if python == Path(sys.executable):
        return installed_framework_versions()
    probe = subprocess.run(
        [str(python), "-c", _VERSIONS], capture_output=True, text=True, timeout=120, check=False
    )
    if probe.returncode != 0:
        print(
            "modelops: could not read the trainer's framework versions; recording the "
            f"image's: {probe.stderr.strip()[-500:]}",
            file=sys.stderr,
            flush=True,
        )
        return installed_framework_versions()
    versions: dict[str, str] = json.loads(probe.stdout)
    return versions


def stage(
    found: Found,
    folder: Path,
    versions: dict[str, str],
    metrics: dict[str, float],
    extra: dict[str, Any],
) -> Staged:
    """The model file and its metadata.json, together in ``folder``."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    model_file = folder / found.path.name
    shutil.copyfile(found.path, model_file)
    framework = framework_of(model_file, found.format)
    digest = storage.sha256_of(model_file)
    write_metadata(
        folder,
        framework,
        metrics,
        {"sha256": digest, "format": found.format.value, **extra},
        framework_versions=versions,
    )
    return Staged(folder, model_file, framework, digest)


def upload(staged: Staged, destination: str) -> None:
    try:
        storage.upload(staged.folder, destination)
    except (ArtifactError, OSError) as err:
        raise TrainingFailure(
            UPLOAD_FAILED, f"cannot upload the model to {destination}: {err}"
        ) from err
