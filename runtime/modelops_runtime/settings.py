"""Predictor settings, read once from the environment (prefix ``MODELOPS_``)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from modelops_contracts.serving import (
    API_KEYS_DIR_ENV,
    AUTH_MODE_ENV,
    AUTH_MODES,
    AUTH_RESOURCE_ENV,
    AUTH_REVIEWER_ENV,
    DRAIN_SECONDS_ENV,
    DRAIN_TIMEOUT_ENV,
)
from modelops_runtime.skops_trust import DEFAULT_SKOPS_TRUSTED_TYPES


def _flag(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _csv(value: str | None, default: tuple[str, ...]) -> tuple[str, ...]:
    if not value:
        return default
    return tuple(part.strip() for part in value.split(",") if part.strip())


@dataclass(frozen=True)
class Settings:
    """Everything the predictor can be told, with defaults that suit a pod."""

    model_uri: str = ""
    model_name: str = "model"
    model_version: str = ""
    sha256: str = ""
    artifact_format: str = ""
    default_method: str = "predict"
    host: str = "127.0.0.1"
    port: int = 8080
    cache_dir: Path = field(default_factory=lambda: Path.home() / ".cache/modelops/artifacts")
    max_body_bytes: int = 16 * 1024 * 1024
    max_batch_size: int = 64
    max_batch_wait_ms: float = 0.0
    allow_version_mismatch: bool = False
    nan_policy: str = "allow"
    skops_trusted: tuple[str, ...] = DEFAULT_SKOPS_TRUSTED_TYPES
    """The exact type names a skops file may name beyond skops' own safe list: the
    defaults and those ``MODELOPS_SKOPS_TRUSTED`` adds."""
    log_level: str = "info"
    access_log: bool = False
    auth_mode: str = "none"
    """none, apiKey or kubernetes: who may call the predict routes."""
    api_keys_dir: Path | None = None
    """apiKey: the folder (a mounted Secret) whose files each hold one accepted key."""
    auth_resource: str = ""
    """kubernetes: ``namespace/model``, the Model a caller must be allowed to predict on."""
    auth_reviewer: str = ""
    """kubernetes: the URL that decides on a caller's token (the activator's review route,
    set by the operator); empty, the predictor asks the API server itself."""
    drain_seconds: float = 5.0
    """After SIGTERM: how long readiness fails while requests are still answered."""
    drain_timeout_seconds: float = 20.0
    """Then: how long the server waits for the requests it holds before it stops."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Settings from ``MODELOPS_*`` variables; explicit overrides (CLI flags) win."""
        env = os.environ if env is None else env
        base = cls()
        values: dict[str, object] = {
            "model_uri": env.get("MODELOPS_MODEL_URI", base.model_uri),
            "model_name": env.get("MODELOPS_MODEL_NAME", base.model_name),
            "model_version": env.get("MODELOPS_MODEL_VERSION", base.model_version),
            "sha256": env.get("MODELOPS_MODEL_SHA256", base.sha256),
            "artifact_format": env.get("MODELOPS_MODEL_FORMAT", base.artifact_format),
            "default_method": env.get("MODELOPS_DEFAULT_METHOD", base.default_method),
            "host": env.get("MODELOPS_HOST", base.host),
            "port": int(env.get("MODELOPS_PORT", base.port)),
            "cache_dir": Path(env.get("MODELOPS_CACHE_DIR", str(base.cache_dir))),
            "max_body_bytes": int(env.get("MODELOPS_MAX_BODY_BYTES", base.max_body_bytes)),
            "max_batch_size": int(env.get("MODELOPS_MAX_BATCH_SIZE", base.max_batch_size)),
            "max_batch_wait_ms": float(
                env.get("MODELOPS_MAX_BATCH_WAIT_MS", base.max_batch_wait_ms)
            ),
            "allow_version_mismatch": _flag(
                env.get("MODELOPS_ALLOW_VERSION_MISMATCH"), base.allow_version_mismatch
            ),
            "nan_policy": env.get("MODELOPS_NAN_POLICY", base.nan_policy),
            "skops_trusted": base.skops_trusted + _csv(env.get("MODELOPS_SKOPS_TRUSTED"), ()),
            "log_level": env.get("MODELOPS_LOG_LEVEL", base.log_level),
            "access_log": _flag(env.get("MODELOPS_ACCESS_LOG"), base.access_log),
            "auth_mode": env.get(AUTH_MODE_ENV) or base.auth_mode,
            "api_keys_dir": Path(env[API_KEYS_DIR_ENV]) if env.get(API_KEYS_DIR_ENV) else None,
            "auth_resource": env.get(AUTH_RESOURCE_ENV, base.auth_resource),
            "auth_reviewer": env.get(AUTH_REVIEWER_ENV, base.auth_reviewer),
            "drain_seconds": float(env.get(DRAIN_SECONDS_ENV) or base.drain_seconds),
            "drain_timeout_seconds": float(
                env.get(DRAIN_TIMEOUT_ENV) or base.drain_timeout_seconds
            ),
        }
        values.update({key: value for key, value in overrides.items() if value is not None})
        settings = cls(**values)  # type: ignore[arg-type]
        settings.validate()
        return settings

    def validate(self) -> None:
        if self.default_method not in {"predict", "predict_proba"}:
            raise ValueError(
                f"default method must be 'predict' or 'predict_proba', not {self.default_method!r}"
            )
        if self.nan_policy not in {"allow", "reject"}:
            raise ValueError(f"nan policy must be allow or reject, not {self.nan_policy!r}")
        if self.max_batch_size < 1:
            raise ValueError("max batch size must be at least 1")
        if self.max_body_bytes < 1024:
            raise ValueError("max body bytes must be at least 1024")
        if self.auth_mode not in AUTH_MODES:
            raise ValueError(
                f"{AUTH_MODE_ENV} must be one of {', '.join(AUTH_MODES)}, not {self.auth_mode!r}"
            )
        if self.auth_mode == "apiKey" and self.api_keys_dir is None:
            raise ValueError(f"{AUTH_MODE_ENV}=apiKey needs {API_KEYS_DIR_ENV}: a folder of keys")
        if self.auth_mode == "kubernetes" and self.auth_resource.count("/") != 1:
            raise ValueError(
                f"{AUTH_MODE_ENV}=kubernetes needs {AUTH_RESOURCE_ENV}=namespace/model, "
                f"not {self.auth_resource!r}"
            )
        if self.auth_reviewer and not self.auth_reviewer.startswith(("http://", "https://")):
            raise ValueError(
                f"{AUTH_REVIEWER_ENV} must be an http(s) URL, not {self.auth_reviewer!r}"
            )
        if self.drain_seconds < 0 or self.drain_timeout_seconds < 0:
            raise ValueError("drain seconds and drain timeout must not be negative")
