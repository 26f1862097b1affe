"""What the operators apply, for a DAG run (pure): the TrainingJob of a logical date, a
ModelVersion from an artifact URI. The specs are the typed API's; the bodies are written
as the CLI writes them."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from modelops_cli.resources import manifest
from modelops_cli.trainingjobs import spec_body
from modelops_operator.api import MODEL_VERSION, TRAINING_JOB
from modelops_operator.api.schema import parse
from modelops_operator.api.trainingjob import Promotion, TrainingJobSpec
from modelops_operator.names import PROMOTION_LABEL

_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
NAME_LIMIT = 52
"""A run's Job, pods and labels derive from the TrainingJob's name (a label value and a
CronJob's name stop at 52 characters)."""


def run_date(logical_date: datetime) -> str:
    """The logical date as the trainer reads MODELOPS_RUN_DATE: RFC 3339 in UTC."""
    if logical_date.tzinfo is None:
        raise ValueError(f"the logical date {logical_date} has no time zone")
    return logical_date.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def run_name(prefix: str, logical_date: datetime) -> str:
    """``<prefix>-YYYYmmdd`` (and ``-HHMM`` when the date is not midnight UTC): one
    TrainingJob per DAG run, so a retried task finds its run instead of starting another."""
    when = logical_date.astimezone(UTC)
    suffix = (
        when.strftime("%Y%m%d")
        if (when.hour, when.minute) == (0, 0)
        else when.strftime("%Y%m%d-%H%M")
    )
    return checked_name(f"{prefix}-{suffix}")


def checked_name(name: str) -> str:
    if len(name) > NAME_LIMIT or not _NAME.match(name):
        raise ValueError(
            f"{name!r} cannot name a TrainingJob: lowercase letters, digits and '-', at most "
            f"{NAME_LIMIT} characters"
        )
    return name


def training_spec(
    *,
    model: str,
    package: str | None = None,
    module: str | None = None,
    image: str | None = None,
    command: Sequence[str] = (),
    args: Sequence[Any] = (),
    output: str | None = None,
    runtime_version: str | None = None,
    promotion: Promotion | Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> TrainingJobSpec:
    """The TrainingJob's spec from an operator's arguments; ``extra`` holds any other field
    of the spec, camelCase as in YAML (env, resources, evaluationHook, ...)."""
    body: dict[str, Any] = {
        **dict(extra or {}),
        "model": model,
        "package": package,
        "module": module,
        "image": image,
        "command": [str(word) for word in command] or None,
        "args": [str(arg) for arg in args] or None,
        "output": output,
        "runtimeVersion": runtime_version,
    }
    spec = parse(TrainingJobSpec, body)
    if isinstance(promotion, Promotion):
        spec = dataclasses.replace(spec, promotion=promotion)
    elif promotion is not None:
        spec = dataclasses.replace(spec, promotion=parse(Promotion, dict(promotion)))
    return spec


def training_job(
    namespace: str, name: str, spec: TrainingJobSpec, logical_date: datetime
) -> dict[str, Any]:
    """The TrainingJob of one DAG run: a single run dated ``logical_date``."""
    if spec.schedule is not None or spec.hyperparameters is not None:
        raise ValueError(
            "a DAG run trains once: leave schedule to Airflow, and tune in a TrainingJob of its own"
        )
    dated = dataclasses.replace(spec, run_date=run_date(logical_date))
    return manifest(TRAINING_JOB, namespace, checked_name(name), spec_body(dated))


def model_version(
    namespace: str,
    name: str,
    *,
    model: str,
    artifact_uri: str,
    sha256: str | None = None,
    artifact_format: str | None = None,
    runtime_version: str | None = None,
    held: bool = False,
) -> dict[str, Any]:
    """A ModelVersion serving ``artifact_uri``. ``held``: labelled ``pending``, so it does
    not serve until the promotion gate lets it (``ModelOpsPromoteOperator``)."""
    artifact = {"uri": artifact_uri, "sha256": sha256, "format": artifact_format}
    spec: dict[str, Any] = {
        "model": model,
        "artifact": {key: value for key, value in artifact.items() if value},
    }
    if runtime_version:
        spec["runtimeVersion"] = runtime_version
    found = manifest(MODEL_VERSION, namespace, name, spec)
    if held:
        found["metadata"]["labels"] = {PROMOTION_LABEL: "pending"}
    return found
