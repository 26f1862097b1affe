"""Conditions in the standard shape, Knative-style: each resource declares its condition
set, Ready is derived from the set's parts, and conditions outside the set (``Active``)
or of a lower severity inform without deciding Ready."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

READY = "Ready"
TRUE, FALSE, UNKNOWN = "True", "False", "Unknown"

Severity = Literal["", "Warning", "Info"]


@dataclass(frozen=True)
class Observation:
    """What one check found: a condition without its bookkeeping. A condition with a
    severity (Warning, Info) is shown but never decides Ready."""

    type: str
    status: str  # "True", "False" or "Unknown"
    reason: str
    message: str = ""
    severity: Severity = ""

    @classmethod
    def true(cls, type_: str, reason: str, message: str = "") -> Observation:
        return cls(type_, TRUE, reason, message)

    @classmethod
    def false(
        cls, type_: str, reason: str, message: str = "", severity: Severity = ""
    ) -> Observation:
        return cls(type_, FALSE, reason, message, severity)

    @classmethod
    def unknown(cls, type_: str, reason: str, message: str = "") -> Observation:
        return cls(type_, UNKNOWN, reason, message)

    @classmethod
    def of(cls, condition: dict[str, Any]) -> Observation:
        """A condition already in a status, read back."""
        return cls(
            str(condition.get("type")),
            str(condition.get("status", UNKNOWN)),
            str(condition.get("reason", "")),
            str(condition.get("message", "")),
            condition.get("severity") or "",
        )


@dataclass(frozen=True)
class ConditionSet:
    """The conditions that together make a resource Ready, in the order a user should
    fix them: the first False one is Ready's reason."""

    parts: tuple[str, ...]

    def ready(self, observed: list[Observation]) -> Observation:
        """Ready from the parts: False as soon as one part is False (its reason), True
        when all are True, else Unknown (the first part still unknown says why)."""
        by_type = {o.type: o for o in observed}
        parts = [by_type.get(t) or Observation.unknown(t, "Unknown") for t in self.parts]
        parts = [p for p in parts if not p.severity]  # a Warning or Info never decides
        failed = next((p for p in parts if p.status == FALSE), None)
        if failed:
            return Observation.false(READY, failed.reason, failed.message)
        waiting = next((p for p in parts if p.status != TRUE), None)
        if waiting:
            return Observation.unknown(READY, waiting.reason, waiting.message)
        return Observation.true(READY, "Ready", "; ".join(p.message for p in parts if p.message))

    def with_ready(self, observed: list[Observation]) -> list[Observation]:
        return [*observed, self.ready(observed)]


def merge(
    current: list[dict[str, Any]], observed: list[Observation], generation: int, now: str
) -> list[dict[str, Any]]:
    """The new conditions, one per observed type in the order observed: the
    ``lastTransitionTime`` is kept unless the status changed. Types not observed are
    dropped (a condition set says what exists)."""
    by_type = {c.get("type"): c for c in current}
    result = []
    for obs in observed:
        old = by_type.get(obs.type)
        kept = old.get("lastTransitionTime") if old and old.get("status") == obs.status else None
        condition: dict[str, Any] = {
            "type": obs.type,
            "status": obs.status,
            "reason": obs.reason,
            "message": obs.message,
            "lastTransitionTime": kept or now,
            "observedGeneration": generation,
        }
        if obs.severity:
            condition["severity"] = obs.severity
        result.append(condition)
    return result


def find(conditions: list[dict[str, Any]], type_: str) -> dict[str, Any] | None:
    return next((c for c in conditions if c.get("type") == type_), None)


def is_true(conditions: list[dict[str, Any]], type_: str) -> bool:
    found = find(conditions, type_)
    return found is not None and found.get("status") == TRUE


def changes(current: dict[str, Any], wanted: dict[str, Any]) -> dict[str, Any]:
    """The top-level status fields that differ (a merge patch; empty when nothing
    changed). A field no longer wanted is set to None, which a merge patch removes."""
    patch = {key: value for key, value in wanted.items() if current.get(key) != value}
    patch |= {key: None for key in current if key not in wanted}
    return patch
