"""A Model's decisions (pure): which version serves, which versions retention deletes, and
the Model's status."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from modelops_operator.conditions import READY, Observation, merge


@dataclass(frozen=True)
class VersionSummary:
    """What a Model needs to know of one of its versions."""

    name: str
    created: str  # RFC 3339, sorts by time
    ready: bool


def _newest_first(versions: list[VersionSummary]) -> list[VersionSummary]:
    return sorted(versions, key=lambda v: (v.created, v.name), reverse=True)


def serving_version(pin: str | None, versions: list[VersionSummary]) -> str | None:
    """The pin if set (even if not ready: a pin wins), else the newest Ready version."""
    if pin:
        return pin
    return next((v.name for v in _newest_first(versions) if v.ready), None)


def expired(versions: list[VersionSummary], keep_last: int | None, serving: set[str]) -> list[str]:
    """Versions beyond the newest ``keep_last`` that serve nothing, oldest first."""
    if not keep_last:
        return []
    older = _newest_first(versions)[keep_last:]
    return [v.name for v in reversed(older) if v.name not in serving]


def ready_observation(
    pin: str | None, serving: str | None, versions: list[VersionSummary]
) -> Observation:
    by_name = {v.name: v for v in versions}
    if serving is None:
        return Observation.false(READY, "NoReadyVersion", "no version of this model is Ready yet")
    if serving not in by_name:
        return Observation.false(
            READY, "PinnedVersionMissing", f"defaultVersion {pin} does not exist"
        )
    if not by_name[serving].ready:
        return Observation.false(
            READY, "PinnedVersionNotReady", f"defaultVersion {pin} is not Ready"
        )
    how = "pinned by defaultVersion" if pin else "the newest Ready version"
    return Observation.true(READY, "Serving", f"{serving} serves the model ({how})")


def traffic_observation(traffic: tuple[Any, ...]) -> Observation | None:
    if not traffic:
        return None
    return Observation.false(
        "TrafficSplit",
        "RouterRequired",
        "traffic splits need the modelops router, which is not installed; "
        "the serving version takes all requests",
    )


def model_status(
    *,
    pin: str | None,
    traffic: tuple[Any, ...],
    versions: list[VersionSummary],
    url: str | None,
    current: dict[str, Any],
    generation: int,
    now: str,
) -> dict[str, Any]:
    serving = serving_version(pin, versions)
    observations = [ready_observation(pin, serving, versions)]
    split = traffic_observation(traffic)
    if split:
        observations.append(split)
    conditions = merge(current.get("conditions") or [], observations, generation, now)
    if not split:
        conditions = [c for c in conditions if c.get("type") != "TrafficSplit"]
    return {
        "servingVersion": serving,
        "url": url if serving else None,
        "versions": len(versions),
        "readyVersions": sum(v.ready for v in versions),
        "observedGeneration": generation,
        "conditions": conditions,
    }
