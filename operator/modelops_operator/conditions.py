"""Conditions in the standard shape, and how a new observation updates a list of them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

ARTIFACT_VERIFIED = "ArtifactVerified"
RUNTIME_COMPATIBLE = "RuntimeCompatible"
READY = "Ready"


@dataclass(frozen=True)
class Observation:
    """What one check found: a condition without its bookkeeping."""

    type: str
    status: str  # "True", "False" or "Unknown"
    reason: str
    message: str = ""

    @classmethod
    def true(cls, type_: str, reason: str, message: str = "") -> Observation:
        return cls(type_, "True", reason, message)

    @classmethod
    def false(cls, type_: str, reason: str, message: str = "") -> Observation:
        return cls(type_, "False", reason, message)

    @classmethod
    def unknown(cls, type_: str, reason: str, message: str = "") -> Observation:
        return cls(type_, "Unknown", reason, message)


def merge(
    current: list[dict[str, Any]], observed: list[Observation], generation: int, now: str
) -> list[dict[str, Any]]:
    """The new conditions: ``observed`` replaces the same types, keeping
    ``lastTransitionTime`` unless the status changed; other types are kept as they were."""
    by_type = {c.get("type"): c for c in current}
    result = []
    for obs in observed:
        old = by_type.pop(obs.type, None)
        changed = old is None or old.get("status") != obs.status
        result.append(
            {
                "type": obs.type,
                "status": obs.status,
                "reason": obs.reason,
                "message": obs.message,
                "lastTransitionTime": now if changed else old.get("lastTransitionTime", now),  # type: ignore[union-attr]
                "observedGeneration": generation,
            }
        )
    return result + list(by_type.values())


def find(conditions: list[dict[str, Any]], type_: str) -> dict[str, Any] | None:
    return next((c for c in conditions if c.get("type") == type_), None)


def is_true(conditions: list[dict[str, Any]], type_: str) -> bool:
    found = find(conditions, type_)
    return found is not None and found.get("status") == "True"
