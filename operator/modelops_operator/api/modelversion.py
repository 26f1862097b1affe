"""``ModelVersion``: one artifact, served by its own predictor pods."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from modelops_operator.api.common import NAME_PATTERN, PREDICTOR_RULES, Condition, Predictor
from modelops_operator.api.schema import prop

FORMATS = ("joblib", "pickle", "skops", "xgboost-json", "xgboost-ubj")
URI_RULE = (
    "self.matches('^(s3|gs|https?|pvc|file)://.+')",
    "uri must be an s3://, gs://, http(s)://, pvc:// or file:// URI",
)


@dataclass(frozen=True)
class Artifact:
    """Where the model file is and what it must be."""

    uri: str = prop(
        "URI of the model file (or of a folder holding it and its metadata.json).",
        maxLength=2048,
        rules=[URI_RULE],
    )
    format: Literal["joblib", "pickle", "skops", "xgboost-json", "xgboost-ubj"] | None = prop(
        "File format; detected from the name and content when unset.", default=None
    )
    sha256: str | None = prop(
        "Hex sha256 of the model file's bytes; the version is refused if the file differs.",
        default=None,
        pattern="^[a-f0-9]{64}$",
    )


@dataclass(frozen=True)
class ModelVersionSpec:
    """One artifact served by a predictor. The artifact and the model are immutable:
    a new artifact is a new ModelVersion."""

    model: str = prop(
        "Name of the Model this version belongs to.",
        pattern=NAME_PATTERN,
        maxLength=40,
        rules=[("self == oldSelf", "model is immutable")],
    )
    artifact: Artifact = prop(
        "The model artifact.",
        rules=[("self == oldSelf", "artifact is immutable; create a new ModelVersion")],
    )
    framework: Literal["sklearn", "xgboost"] | None = prop(
        "Framework of the model; detected when unset.", default=None
    )
    runtime_version: str | None = prop(
        "Runtime (predictor image) to serve with, a key of the operator's runtimes map; "
        "the operator's default when unset.",
        default=None,
        maxLength=63,
    )
    allow_version_mismatch: bool = prop(
        "Serve even if the artifact was saved with framework versions other than the "
        "runtime's (RuntimeCompatible stays False with the difference named).",
        default=False,
    )
    predictor: Predictor | None = prop(
        "Predictor settings; unset fields come from the Model's defaults.",
        default=None,
        rules=PREDICTOR_RULES,
    )
    labels: dict[str, str] = prop("Labels added to the predictor pods.", factory=dict)


@dataclass(frozen=True)
class ModelVersionStatus:
    """What the operator observed of the version."""

    phase: Literal["Pending", "Ready", "Failed", "ScaledToZero"] | None = prop(
        "A summary for people; the conditions are the truth.", default=None
    )
    url: str | None = prop("In-cluster predict URL of this version.", default=None)
    image: str | None = prop("Runtime image serving this version.", default=None)
    replicas: int | None = prop("Pods of the version.", default=None)
    ready_replicas: int | None = prop("Pods ready to serve.", default=None)
    desired_replicas: int | None = prop("Pods the operator asks for.", default=None)
    concurrency: float | None = prop(
        "In-flight requests per pod, averaged over the autoscaler's stable window.", default=None
    )
    last_request_time: str | None = prop(
        "When the version last answered a request (to the minute).", default=None
    )
    framework: str | None = prop("Framework of the loaded model.", default=None)
    format: str | None = prop("Format of the verified artifact.", default=None)
    sha256: str | None = prop("sha256 of the verified model file.", default=None)
    framework_versions: dict[str, str] = prop(
        "Framework versions recorded with the artifact.", factory=dict
    )
    runtime_versions: dict[str, str] = prop(
        "Framework versions of the runtime image.", factory=dict
    )
    metrics: dict[str, float] = prop("Metrics recorded with the artifact.", factory=dict)
    observed_generation: int | None = prop("The spec generation last reconciled.", default=None)
    conditions: tuple[Condition, ...] = prop(
        "ArtifactVerified, RuntimeCompatible and ResourcesAvailable make Ready; Active says "
        "whether a pod serves now (a version scaled to zero is Ready and not Active).",
        factory=tuple,
        map_keys=["type"],
    )
