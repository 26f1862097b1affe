"""A ModelVersion's status from what its Deployment and pods show (pure functions).

The condition set: ``ArtifactVerified`` (the fetch step's verdict), ``RuntimeCompatible``
(framework versions) and ``ResourcesAvailable`` (children applied, pods can run) make
``Ready``. ``Active`` (a pod serves now) stands apart: a version scaled to zero is
still Ready. What a pod once reported (the verdict, having been deployed) is kept in
the status when no pod runs to report it again.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from modelops_contracts.verdict import (
    ARTIFACT_VERIFIED,
    RUNTIME_COMPATIBLE,
    VERIFIED,
    Verdict,
)
from modelops_operator.conditions import (
    READY,
    TRUE,
    ConditionSet,
    Observation,
    find,
    merge,
)
from modelops_operator.modelversion.builders import FETCH_CONTAINER, PREDICTOR_CONTAINER
from modelops_operator.pod_state import stuck

RESOURCES_AVAILABLE = "ResourcesAvailable"
ACTIVE = "Active"
PROMOTION = "Promotion"
CONDITIONS = ConditionSet((ARTIFACT_VERIFIED, RUNTIME_COMPATIBLE, RESOURCES_AVAILABLE))


@dataclass(frozen=True)
class Observed:
    """What the operator knows of a version's children."""

    wanted: int
    """Pods the Deployment is asked for."""
    deployment: dict[str, Any] | None
    pods: list[dict[str, Any]]
    blocked: Observation | None = None
    """Why the children cannot be made at all (unknown runtime, NotOwned, refused)."""
    promotion: dict[str, Any] | None = None
    """The promotion gate's decision, for a version a TrainingJob produced behind one."""


def served_once(status: dict[str, Any]) -> bool:
    """Has the version been Ready (deployed and verified) before?"""
    found = find(status.get("conditions") or [], RESOURCES_AVAILABLE) or {}
    return found.get("status") == TRUE


def verdict(pods: list[dict[str, Any]]) -> Verdict | None:
    """The newest verdict a pod reported, if any: its fetch step's, or the predictor's
    refusal when it served the artifact without one (a light wake)."""
    newest: tuple[str, Verdict] | None = None
    for status in _fetch_statuses(pods):
        for state in (status.get("state") or {}, status.get("lastState") or {}):
            terminated = state.get("terminated")
            if not terminated or not terminated.get("message"):
                continue
            finished = str(terminated.get("finishedAt") or "")
            if newest is None or finished > newest[0]:
                found = Verdict.from_termination(
                    str(terminated["message"]), int(terminated.get("exitCode") or 0)
                )
                newest = (finished, found)
    return newest[1] if newest else None


def _fetch_statuses(pods: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for pod in pods:
        found = pod.get("status") or {}
        for status in found.get("initContainerStatuses") or []:
            if status.get("name") == FETCH_CONTAINER:
                yield status
        for status in found.get("containerStatuses") or []:
            if status.get("name") == PREDICTOR_CONTAINER:
                yield status


def artifact_observations(
    found: Verdict | None, current: list[dict[str, Any]], blocked: bool
) -> list[Observation]:
    """ArtifactVerified and RuntimeCompatible from the fetch step's verdict; without a new
    verdict, what the status already says (the artifact is immutable)."""
    if found is None:
        kept = [find(current, t) for t in (ARTIFACT_VERIFIED, RUNTIME_COMPATIBLE)]
        if all(kept):
            return [Observation.of(c) for c in kept if c]
        why = "no pod can start yet" if blocked else "waiting for a pod to fetch the artifact"
        return [
            Observation.unknown(ARTIFACT_VERIFIED, "Verifying", why),
            Observation.unknown(RUNTIME_COMPATIBLE, "Verifying", "waiting for the artifact"),
        ]
    if not found.verified:
        if found.condition == RUNTIME_COMPATIBLE:
            return [
                Observation.true(ARTIFACT_VERIFIED, VERIFIED, "the artifact loads"),
                Observation.false(RUNTIME_COMPATIBLE, found.reason, found.message),
            ]
        return [
            Observation.false(ARTIFACT_VERIFIED, found.reason, found.message),
            Observation.unknown(RUNTIME_COMPATIBLE, "ArtifactNotVerified", "no artifact to judge"),
        ]
    verified = Observation.true(
        ARTIFACT_VERIFIED, VERIFIED, f"{found.format} file, sha256 {found.sha256}"
    )
    if found.version_problems:
        allowed = "; ".join(found.version_problems) + " (allowed by the spec)"
        return [
            verified,
            Observation.false(RUNTIME_COMPATIBLE, "VersionMismatchAllowed", allowed, "Warning"),
        ]
    return [verified, Observation.true(RUNTIME_COMPATIBLE, "Compatible", _versions(found))]


def _versions(found: Verdict) -> str:
    if not found.recorded_versions:
        return "the artifact records no framework versions; it loads in this runtime"
    return "recorded versions match the runtime: " + ", ".join(
        f"{k} {v}" for k, v in sorted(found.recorded_versions.items())
    )


def pod_problem(pods: list[dict[str, Any]]) -> Observation | None:
    """The first reason a pod is stuck that a user can act on (image, crash loop, scheduling)."""
    found = next((problem for pod in pods if (problem := stuck(pod))), None)
    if found is None:
        return None
    return Observation.false(RESOURCES_AVAILABLE, found.reason, found.message)


def _ready_pods(observed: Observed) -> int:
    return int(((observed.deployment or {}).get("status") or {}).get("readyReplicas") or 0)


def resources_observation(observed: Observed, current: list[dict[str, Any]]) -> Observation:
    """Are the children made, and can the pods run?"""
    if observed.blocked:
        return observed.blocked
    if observed.deployment is None:
        return Observation.unknown(RESOURCES_AVAILABLE, "Creating", "creating the predictor")
    ready = _ready_pods(observed)
    if ready:
        return Observation.true(RESOURCES_AVAILABLE, "Deployed", "a predictor pod was ready")
    problem = pod_problem(observed.pods)
    if problem:
        return problem
    deployment_status = observed.deployment.get("status") or {}
    for condition in deployment_status.get("conditions") or []:
        if condition.get("reason") == "ProgressDeadlineExceeded":
            return Observation.false(
                RESOURCES_AVAILABLE, "ProgressDeadlineExceeded", str(condition.get("message", ""))
            )
        if condition.get("type") == "ReplicaFailure" and condition.get("status") == TRUE:
            # No pod could be made at all: a quota, a LimitRange, an admission webhook.
            return Observation.false(
                RESOURCES_AVAILABLE,
                str(condition.get("reason") or "ReplicaFailure"),
                str(condition.get("message", "")),
            )
    kept = find(current, RESOURCES_AVAILABLE)
    if kept and kept.get("status") == TRUE:
        return Observation.of(kept)  # scaled down or restarting after having served
    return Observation.unknown(
        RESOURCES_AVAILABLE, "Deploying", "waiting for a predictor pod to be ready"
    )


def active_observation(observed: Observed) -> Observation:
    """Active: does a pod serve this version now? (not part of Ready)"""
    ready = _ready_pods(observed)
    if ready:
        return Observation.true(ACTIVE, "Serving", f"{ready}/{observed.wanted} pods ready")
    if observed.wanted == 0:
        # A normal, servable state (Info), not a failure: the next request wakes it.
        return Observation.false(
            ACTIVE, "ScaledToZero", "no pod runs (minReplicas 0): the next request wakes it",
            severity="Info",
        )  # fmt: skip
    return Observation.unknown(ACTIVE, "Activating", "waiting for a predictor pod to be ready")


def promotion_observation(decision: dict[str, Any]) -> Observation:
    """What the gate decided, shown (Info: it never decides Ready)."""
    outcome = str(decision.get("decision", ""))
    status = {"Promoted": TRUE, "Pinned": TRUE, "Rejected": "False"}.get(outcome, "Unknown")
    return Observation(PROMOTION, status, outcome, str(decision.get("reason", "")), "Info")


def phase(ready: Observation, active: Observation) -> str:
    if ready.status == "False":
        return "Failed"
    if ready.status != TRUE:
        return "Pending"
    return "ScaledToZero" if active.status == "False" else "Ready"


def version_status(
    observed: Observed, current: dict[str, Any], generation: int, now: str, **facts: Any
) -> dict[str, Any]:
    """The whole status: conditions, phase, replicas, what the verification recorded, and
    the given ``facts`` (url, image)."""
    conditions = current.get("conditions") or []
    found = verdict(observed.pods)
    observations = [
        *artifact_observations(found, conditions, observed.blocked is not None),
        resources_observation(observed, conditions),
    ]
    ready = CONDITIONS.ready(observations)
    active = active_observation(observed)
    informed = [promotion_observation(observed.promotion)] if observed.promotion else []
    deployment_status = (observed.deployment or {}).get("status") or {}
    status: dict[str, Any] = {
        "phase": phase(ready, active),
        **facts,
        "replicas": int(deployment_status.get("replicas") or 0),
        "readyReplicas": int(deployment_status.get("readyReplicas") or 0),
        "desiredReplicas": observed.wanted,
        "observedGeneration": generation,
        "conditions": merge(conditions, [*observations, ready, active, *informed], generation, now),
    }
    recorded = _recorded(found) if found and found.verified else _kept_record(current)
    return status | recorded


_RECORD = ("framework", "format", "sha256", "frameworkVersions", "runtimeVersions", "metrics")


def _recorded(found: Verdict) -> dict[str, Any]:
    return {
        "framework": found.framework,
        "format": found.format,
        "sha256": found.sha256,
        "frameworkVersions": found.recorded_versions,
        "runtimeVersions": found.runtime_versions,
        "metrics": found.metrics,
    }


def _kept_record(current: dict[str, Any]) -> dict[str, Any]:
    return {key: current[key] for key in _RECORD if key in current}


def ready_condition(status: dict[str, Any]) -> dict[str, Any]:
    return find(status.get("conditions") or [], READY) or {}
