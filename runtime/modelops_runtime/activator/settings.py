"""The activator's settings, read once from the environment (prefix ``MODELOPS_ACTIVATOR_``)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path


@dataclass(frozen=True)
class ActivatorSettings:
    host: str = "0.0.0.0"  # a pod listens on its own address
    port: int = 8080
    """Where requests to the Services arrive."""
    admin_port: int = 9090
    """/metrics, /modelops/stats, /healthz and /readyz: apart from proxied paths."""
    hold_seconds: float = 60.0
    """How long a request waits for a ready pod of its version before a 504."""
    max_held: int = 1000
    """Requests one version may hold at once; more get a 503 with Retry-After."""
    timeout_seconds: float = 300.0
    """How long a pod may take to answer a request once it was sent."""
    connect_timeout_seconds: float = 2.0
    probe_interval_seconds: float = 0.05
    """How often a new pod's readiness is probed while requests wait for it."""
    max_body_bytes: int = 64 * 1024 * 1024
    namespaces: tuple[str, ...] = ()
    """Watch only these namespaces (empty: all)."""
    static: Path | None = None
    """A JSON file of routes and pods instead of the API server (benchmarks, local runs)."""
    drain_seconds: float = 5.0
    """After SIGTERM: how long /readyz fails while requests are still proxied."""
    log_level: str = "info"

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, **overrides: object
    ) -> ActivatorSettings:
        env = os.environ if env is None else env
        values: dict[str, object] = {}
        for spec in fields(cls):
            raw = env.get(f"MODELOPS_ACTIVATOR_{spec.name.upper()}")
            if raw is None or raw == "":
                continue
            default = getattr(cls(), spec.name)
            if spec.name == "namespaces":
                values[spec.name] = tuple(n.strip() for n in raw.split(",") if n.strip())
            elif spec.name == "static":
                values[spec.name] = Path(raw)
            elif isinstance(default, bool):
                values[spec.name] = raw.lower() in {"1", "true", "yes", "on"}
            elif isinstance(default, int):
                values[spec.name] = int(raw)
            elif isinstance(default, float):
                values[spec.name] = float(raw)
            else:
                values[spec.name] = raw
        values.update({k: v for k, v in overrides.items() if v is not None})
        settings = cls(**values)  # type: ignore[arg-type]
        if settings.hold_seconds <= 0 or settings.timeout_seconds <= 0:
            raise ValueError("hold and timeout seconds must be positive")
        if settings.max_held < 1:
            raise ValueError("max held must be at least 1")
        return settings
