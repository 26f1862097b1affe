"""The modelops API: group, version, kinds and their typed specs."""

from __future__ import annotations

from dataclasses import dataclass

GROUP = "modelops.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"


@dataclass(frozen=True)
class Kind:
    kind: str
    plural: str
    singular: str
    short_names: tuple[str, ...]


MODEL = Kind("Model", "models", "model", ("mdl",))
MODEL_VERSION = Kind("ModelVersion", "modelversions", "modelversion", ("mv",))
TRAINING_JOB = Kind("TrainingJob", "trainingjobs", "trainingjob", ("tj",))
