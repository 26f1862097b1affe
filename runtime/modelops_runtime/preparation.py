"""Fetch, verify and load an artifact, and judge its framework versions: the steps a
predictor takes before serving, shared by the ``serve`` and ``fetch`` commands."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from modelops_runtime import storage
from modelops_runtime.artifacts import Artifact, resolve
from modelops_runtime.errors import ArtifactError
from modelops_runtime.models.loader import Loaded, load
from modelops_runtime.settings import Settings

VERSION_MISMATCH = "VersionMismatch"


@dataclass(frozen=True)
class Prepared:
    artifact: Artifact
    loaded: Loaded


def prepare(settings: Settings, uri: str | None = None, cache_dir: Path | None = None) -> Prepared:
    """The loaded artifact, or an ``ArtifactError`` whose reason says what went wrong.

    Version problems are an error (reason ``VersionMismatch``) unless the settings allow
    them; allowed problems stay listed on the result.
    """
    local = storage.fetch(uri or settings.model_uri, cache_dir or settings.cache_dir)
    artifact = resolve(local, settings.artifact_format, settings.sha256)
    loaded = load(artifact, settings.skops_trusted)
    if loaded.framework_version_problems and not settings.allow_version_mismatch:
        raise ArtifactError(
            "; ".join(loaded.framework_version_problems)
            + "; retrain with this runtime's versions, choose a matching runtimeVersion, "
            "or allow the mismatch explicitly",
            reason=VERSION_MISMATCH,
        )
    return Prepared(artifact=artifact, loaded=loaded)
