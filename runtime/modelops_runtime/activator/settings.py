"""The activator's settings, read once from the environment (prefix ``MODELOPS_ACTIVATOR_``)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path

from modelops_contracts.serving import WAKE_LEASE_SECONDS


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
    wake_renew_seconds: float = WAKE_LEASE_SECONDS / 3
    """How often a wake is asked for again while requests still wait for the version (the
    operator keeps a woken version up for ``WAKE_LEASE_SECONDS`` after each ask)."""
    probe_interval_seconds: float = 0.05
    """How often a new pod's readiness is probed while requests wait for it."""
    max_head_bytes: int = 16 * 1024
    """A request line and headers over this many bytes are a 431 (nginx's 4 x 8 KiB: 32 KiB;
    Go's net/http: 1 MiB; what clients of a prediction send is a few hundred bytes)."""
    read_timeout_seconds: float = 30.0
    """A request whose head and body are not all read this long after its first byte is a
    408 (the time its connection waits for us to read on does not count)."""
    max_body_bytes: int = 64 * 1024 * 1024
    """A body over this many bytes is a 413."""
    max_read_ahead_bytes: int = 1024 * 1024
    """Bytes of pipelined requests read on one connection ahead of the one being answered
    (at most 8 requests); then reading stops until that one is answered."""
    max_answer_bytes: int = 64 * 1024 * 1024
    """A pod's answer (head and body) over this many bytes is a 502."""
    max_buffered_bytes: int = 128 * 1024 * 1024
    """Bodies held at once, all connections together (requests read, pods' answers not yet
    taken by their clients). Past it a body over 64 KiB is a 503 with Retry-After; smaller
    ones are always taken, so a few large ones cannot starve ordinary requests."""
    max_connections: int = 10_000
    """Client connections on the proxied port at once; one more is answered 503
    ``TooManyConnections`` with Retry-After and closed (the admin port is never refused)."""
    namespaces: tuple[str, ...] = ()
    """Watch only these namespaces (empty: all)."""
    static: Path | None = None
    """A JSON file of routes and pods instead of the API server (benchmarks, local runs)."""
    drain_seconds: float = 5.0
    """After SIGTERM /readyz fails while requests are still proxied, until none came for
    this long (at most three times this long)."""
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
        if not 0 < settings.wake_renew_seconds < WAKE_LEASE_SECONDS:
            raise ValueError(
                f"wake renew seconds must be above 0 and below the lease ({WAKE_LEASE_SECONDS:g})"
            )
        if settings.max_connections < 1:
            raise ValueError("max connections must be at least 1")
        if settings.max_held < 1:
            raise ValueError("max held must be at least 1")
        if settings.read_timeout_seconds <= 0:
            raise ValueError("read timeout seconds must be positive")
        for name in ("max_head_bytes", "max_body_bytes", "max_answer_bytes"):
            if getattr(settings, name) < 1024:
                raise ValueError(f"{name} must be at least 1024, not {getattr(settings, name)}")
        if settings.max_read_ahead_bytes < 0 or settings.max_buffered_bytes < 0:
            raise ValueError("max read-ahead and buffered bytes cannot be negative")
        return settings
