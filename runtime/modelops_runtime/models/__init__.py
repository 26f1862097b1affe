"""One model interface; a small module per framework; the shared parts once."""

from modelops_runtime.models.base import InputKind, InputSchema, Model, ModelInput

__all__ = ["InputKind", "InputSchema", "Model", "ModelInput"]
