"""What an artifact is: which file, which format, its recorded metadata, its checksum.

The format is decided from the file's name and its first bytes, never by trying loaders
one after another: a name and a content that disagree are an error, not a guess.
"""

from __future__ import annotations

import json
import platform
from dataclasses import dataclass, field
from enum import StrEnum
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

from modelops_runtime.errors import ArtifactError
from modelops_runtime.storage import sha256_of

METADATA_FILE = "metadata.json"


class Format(StrEnum):
    JOBLIB = "joblib"
    PICKLE = "pickle"
    SKOPS = "skops"
    XGBOOST_JSON = "xgboost-json"
    XGBOOST_UBJ = "xgboost-ubj"


# What the bytes can tell: joblib and plain pickle share one family.
_CONTENT_FAMILY = {
    Format.JOBLIB: "pickle",
    Format.PICKLE: "pickle",
    Format.SKOPS: "skops",
    Format.XGBOOST_JSON: "xgboost-json",
    Format.XGBOOST_UBJ: "xgboost-ubj",
}
XGBOOST_FORMATS = frozenset({Format.XGBOOST_JSON, Format.XGBOOST_UBJ})
"""XGBoost's own files (the rest are joblib or pickle files)."""
_BY_EXTENSION = {
    ".joblib": Format.JOBLIB,
    ".pkl": Format.PICKLE,
    ".pickle": Format.PICKLE,
    ".skops": Format.SKOPS,
    ".json": Format.XGBOOST_JSON,
    ".ubj": Format.XGBOOST_UBJ,
}
_BY_FAMILY = {
    "pickle": Format.JOBLIB,
    "skops": Format.SKOPS,
    "xgboost-json": Format.XGBOOST_JSON,
    "xgboost-ubj": Format.XGBOOST_UBJ,
}
# joblib writes a plain pickle (protocol >= 2 starts with 0x80) or one of these wrappers.
_COMPRESSED_PICKLE_MAGIC = (b"\x78", b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00", b"\x04\x22\x4d\x18")
_UBJ_TYPE_MARKERS = b"iUIlLSHdDCTFZN$#"


@dataclass(frozen=True)
class Metadata:
    """What ``metadata.json`` beside an artifact records of how it was made."""

    framework: str = ""
    framework_versions: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Metadata:
        versions = data.get("framework_versions") or {}
        metrics = data.get("metrics") or {}
        if not isinstance(versions, dict) or not isinstance(metrics, dict):
            raise ArtifactError(
                f"{METADATA_FILE}: 'framework_versions' and 'metrics' must be objects",
                reason="MetadataInvalid",
            )
        try:
            numbers = {str(k): float(v) for k, v in metrics.items()}
        except (TypeError, ValueError) as err:
            raise ArtifactError(
                f"{METADATA_FILE}: every metric must be a number ({err})", reason="MetadataInvalid"
            ) from err
        return cls(
            framework=str(data.get("framework", "")),
            framework_versions={str(k): str(v) for k, v in versions.items()},
            metrics=numbers,
            raw=data,
        )


@dataclass(frozen=True)
class Artifact:
    path: Path
    format: Format
    sha256: str
    metadata: Metadata


def content_family(head: bytes) -> str:
    """Which kind of file these first bytes start, or '' when none we know."""
    if head.startswith(b"\x80") or head.startswith(_COMPRESSED_PICKLE_MAGIC):
        return "pickle"
    if head.startswith(b"PK\x03\x04"):
        return "skops"
    stripped = head.lstrip()
    if stripped.startswith(b"{"):
        body = stripped[1:].lstrip()
        if body.startswith(b'"') and b'"learner"' in head:
            return "xgboost-json"
        if body[:1] and body[:1] in _UBJ_TYPE_MARKERS and b"learner" in head[:128]:
            return "xgboost-ubj"
    return ""


def format_from_name(name: str) -> Format | None:
    """The format a file's name says (its extension), or None when it says none."""
    return _BY_EXTENSION.get(Path(name).suffix.lower())


def detect_format(path: Path, declared: str = "") -> Format:
    """The artifact's format from its name and first bytes, checked against ``declared``."""
    with path.open("rb") as handle:
        family = content_family(handle.read(4096))
    if not family:
        raise ArtifactError(
            f"{path.name} is not a model file we can serve: expected a joblib/pickle, skops, "
            "or XGBoost .json/.ubj model",
            reason="UnknownFormat",
        )
    named = format_from_name(path.name)
    if declared:
        try:
            named = Format(declared)
        except ValueError as err:
            choices = ", ".join(f.value for f in Format)
            raise ArtifactError(
                f"unknown format {declared!r}; use one of {choices}", reason="UnknownFormat"
            ) from err
    if named is None:
        return _BY_FAMILY[family]
    if _CONTENT_FAMILY[named] != family:
        raise ArtifactError(
            f"{path.name} is declared or named as {named.value} but its content is {family}",
            reason="FormatMismatch",
        )
    return named


def locate(local: Path) -> Path:
    """The one model file at ``local``: the file itself, or the only model file in a folder."""
    if local.is_file():
        return local
    candidates = sorted(
        p
        for p in local.iterdir()
        if p.is_file() and p.name != METADATA_FILE and not p.name.startswith(".")
    )
    if len(candidates) != 1:
        found = ", ".join(p.name for p in candidates) or "nothing"
        raise ArtifactError(
            f"a model folder must hold exactly one model file (and an optional {METADATA_FILE}); "
            f"found {found}",
            reason="ArtifactInvalid",
        )
    return candidates[0]


def read_metadata(model_file: Path) -> Metadata:
    """``metadata.json`` beside the model file, or empty metadata when there is none."""
    path = model_file.parent / METADATA_FILE
    if not path.exists():
        return Metadata()
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise ArtifactError(
            f"{METADATA_FILE} is not valid JSON: {err}", reason="MetadataInvalid"
        ) from err
    if not isinstance(data, dict):
        raise ArtifactError(f"{METADATA_FILE} must hold a JSON object", reason="MetadataInvalid")
    return Metadata.from_dict(data)


def resolve(local: Path, declared_format: str = "", expected_sha256: str = "") -> Artifact:
    """Find, identify and verify the artifact at a local path."""
    model_file = locate(local)
    digest = sha256_of(model_file)
    if expected_sha256 and digest != expected_sha256.lower():
        raise ArtifactError(
            f"sha256 mismatch for {model_file.name}: expected {expected_sha256}, got {digest}; "
            "the artifact changed since it was registered",
            reason="ChecksumMismatch",
        )
    artifact_format = detect_format(model_file, declared_format)
    return Artifact(
        path=model_file, format=artifact_format, sha256=digest, metadata=read_metadata(model_file)
    )


def framework_of(model_file: Path, artifact_format: Format) -> str:
    """``xgboost`` for XGBoost's own files and for pickles that reference XGBoost (its
    scikit-learn wrappers, a pipeline ending in one), else ``sklearn``."""
    if artifact_format in XGBOOST_FORMATS:
        return "xgboost"
    with model_file.open("rb") as handle:
        return "xgboost" if b"xgboost" in handle.read() else "sklearn"


def installed_framework_versions() -> dict[str, str]:
    """Versions of the frameworks importable here, keyed as metadata.json records them."""
    versions = {"python": platform.python_version()}
    for key, dists in {
        "sklearn": ("scikit-learn",),
        "xgboost": ("xgboost", "xgboost-cpu"),
        "numpy": ("numpy",),
        "scipy": ("scipy",),
        "pandas": ("pandas",),
        "joblib": ("joblib",),
    }.items():
        for dist in dists:
            try:
                versions[key] = importlib_metadata.version(dist)
                break
            except importlib_metadata.PackageNotFoundError:
                continue
    return versions


def write_metadata(
    folder: Path,
    framework: str,
    metrics: dict[str, float] | None = None,
    extra: dict[str, Any] | None = None,
    framework_versions: dict[str, str] | None = None,
) -> Path:
    """Record the framework versions (this environment's unless given) and metrics
    beside a saved model."""
    data: dict[str, Any] = {
        "framework": framework,
        "framework_versions": framework_versions or installed_framework_versions(),
        "metrics": metrics or {},
        **(extra or {}),
    }
    path = folder / METADATA_FILE
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    return path
