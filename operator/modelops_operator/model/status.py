"""A Model's decisions (pure): which version serves, which versions retention deletes,
and the Model's status.

The condition set: ``ServingVersionReady`` (the version chosen to serve exists and is
Ready — scaled to zero or not) and ``ServiceReady`` (the Model's Service is applied)
make ``Ready``. ``TrafficSplit`` only informs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from modelops_contracts.serving import Route
from modelops_operator.conditions import ConditionSet, Observation, merge

SERVING_VERSION_READY = "ServingVersionReady"
SERVICE_READY = "ServiceReady"
TRAFFIC_SPLIT = "TrafficSplit"
CONDITIONS = ConditionSet((SERVING_VERSION_READY, SERVICE_READY))


@dataclass(frozen=True)
class VersionSummary:
    """What a Model needs to know of one of its versions."""

    name: str
    created: str  # RFC 3339, sorts by time
    ready: bool
    eligible: bool = True
    """False for a trained candidate the promotion gate rejected or holds for a person:
    it never serves by the Model's rule (a pin still wins)."""
    decision: dict[str, Any] | None = None
    """The promotion gate's decision on it, when it was trained behind one."""
    active: bool = False
    """A pod of it is ready now."""
    resource_version: str = ""
    """As last seen: a deletion made on it fails if someone changed it since."""


def _newest_first(versions: list[VersionSummary]) -> list[VersionSummary]:
    return sorted(versions, key=lambda v: (v.created, v.name), reverse=True)


def serving_version(pin: str | None, versions: list[VersionSummary]) -> str | None:
    """The pin if set (even if not ready: a pin wins), else the newest Ready version that
    the promotion gate did not hold back."""
    if pin:
        return pin
    return next((v.name for v in _newest_first(versions) if v.ready and v.eligible), None)


def expired(versions: list[VersionSummary], keep_last: int | None, serving: set[str]) -> list[str]:
    """Versions beyond the newest ``keep_last`` that serve nothing, oldest first."""
    if not keep_last:
        return []
    older = _newest_first(versions)[keep_last:]
    return [v.name for v in reversed(older) if v.name not in serving]


def serving_observation(
    pin: str | None, serving: str | None, versions: list[VersionSummary], split: bool = False
) -> Observation:
    by_name = {v.name: v for v in versions}
    if serving is None:
        return Observation.false(
            SERVING_VERSION_READY, "NoReadyVersion", "no version of this model is Ready yet"
        )
    chosen = "Pinned" if pin == serving else "Stable" if split else "Serving"
    named = "defaultVersion" if pin == serving else "the stable version of the split"
    if serving not in by_name:
        return Observation.false(
            SERVING_VERSION_READY, f"{chosen}VersionMissing", f"{named} {serving} does not exist"
        )
    if not by_name[serving].ready:
        return Observation.false(
            SERVING_VERSION_READY, f"{chosen}VersionNotReady", f"{named} {serving} is not Ready"
        )
    how = (
        "pinned by defaultVersion" if pin == serving
        else "the stable version of the split" if split else "the newest Ready version"
    )  # fmt: skip
    return Observation.true(SERVING_VERSION_READY, "Serving", f"{serving} serves the model ({how})")


def traffic_observation(
    traffic: tuple[Any, ...], routes: list[Route], rollout: dict[str, Any] | None
) -> Observation | None:
    """How the split stands (Info: it informs, Ready does not wait on it)."""
    if not traffic:
        return None
    shares = ", ".join(f"{r.version} {r.percent}%" for r in routes)
    if rollout and rollout.get("phase") == "RolledBack":
        return Observation(TRAFFIC_SPLIT, "False", "RolledBack",
                           f"{rollout.get('candidate')} was rolled back: {rollout.get('reason')}; "
                           f"in effect: {shares}", "Warning")  # fmt: skip
    if rollout and rollout.get("phase") == "Succeeded":
        return Observation(TRAFFIC_SPLIT, "True", "RolloutSucceeded",
                           f"{rollout.get('candidate')} passed every step; in effect: {shares}",
                           "Info")  # fmt: skip
    wanted = {t.version for t in traffic if t.percent}
    missing = wanted - {r.version for r in routes}
    if missing:
        return Observation(TRAFFIC_SPLIT, "Unknown", "WaitingForPods",
                           f"{', '.join(sorted(missing))} gets its share once a pod of it is "
                           f"ready; in effect: {shares}", "Info")  # fmt: skip
    return Observation(TRAFFIC_SPLIT, "True", "Split", f"in effect: {shares}", "Info")


def model_status(
    *,
    pin: str | None,
    traffic: tuple[Any, ...],
    versions: list[VersionSummary],
    service: Observation,
    url: str | None,
    current: dict[str, Any],
    generation: int,
    now: str,
    serving: str | None = None,
    routes: list[Route] | None = None,
    rollout: dict[str, Any] | None = None,
) -> dict[str, Any]:
    serving = serving if serving is not None else serving_version(pin, versions)
    observations = [serving_observation(pin, serving, versions, bool(traffic)), service]
    split = traffic_observation(traffic, routes or [], rollout)
    shown = [*observations, CONDITIONS.ready(observations), *([split] if split else [])]
    decided = next((v.decision for v in _newest_first(versions) if v.decision), None)
    return {
        "servingVersion": serving,
        "url": url if serving else None,
        "versions": len(versions),
        "readyVersions": sum(v.ready for v in versions),
        "traffic": [{"version": r.version, "percent": r.percent} for r in routes or []],
        "rollout": rollout,
        "promotion": decided,
        "observedGeneration": generation,
        "conditions": merge(current.get("conditions") or [], shown, generation, now),
    }
