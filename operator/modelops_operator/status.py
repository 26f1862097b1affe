"""A ModelVersion's status from what its Deployment and pods show (pure functions)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from modelops_operator.builders.predictor import FETCH_CONTAINER
from modelops_operator.conditions import (
    ARTIFACT_VERIFIED,
    READY,
    RUNTIME_COMPATIBLE,
    Observation,
    merge,
)

# Container waiting reasons a user must act on; anything else is still starting.
STUCK = {
    "ErrImagePull",
    "ImagePullBackOff",
    "InvalidImageName",
    "ErrImageNeverPull",
    "CreateContainerConfigError",
    "CreateContainerError",
    "RunContainerError",
    "CrashLoopBackOff",
}


@dataclass(frozen=True)
class Observed:
    """What the operator knows of a version's children."""

    wanted: int
    deployment: dict[str, Any] | None
    pods: list[dict[str, Any]]
    blocked: Observation | None = None
    """A reason the children cannot be made at all (unknown runtime, NotOwned)."""


def verdict(pods: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The newest termination message of a pod's fetch (verification) step."""
    newest: tuple[str, dict[str, Any]] | None = None
    for status in _init_statuses(pods):
        for state in (status.get("state") or {}, status.get("lastState") or {}):
            terminated = state.get("terminated")
            if not terminated or not terminated.get("message"):
                continue
            finished = str(terminated.get("finishedAt") or "")
            if newest is None or finished > newest[0]:
                newest = (finished, _parse(terminated))
    return newest[1] if newest else None


def _init_statuses(pods: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for pod in pods:
        for status in (pod.get("status") or {}).get("initContainerStatuses") or []:
            if status.get("name") == FETCH_CONTAINER:
                yield status


def _parse(terminated: dict[str, Any]) -> dict[str, Any]:
    message = str(terminated.get("message"))
    try:
        found = json.loads(message)
    except ValueError:
        found = None
    if isinstance(found, dict) and "reason" in found:
        return found
    return {
        "reason": "VerificationFailed" if terminated.get("exitCode") else "Verified",
        "message": message.strip()[-500:],
        "condition": ARTIFACT_VERIFIED,
    }


def artifact_observations(found: dict[str, Any] | None) -> list[Observation]:
    """ArtifactVerified and RuntimeCompatible from the fetch step's verdict."""
    if found is None:
        return [
            Observation.unknown(ARTIFACT_VERIFIED, "Verifying", "the artifact is being fetched"),
            Observation.unknown(RUNTIME_COMPATIBLE, "Verifying", "waiting for the artifact"),
        ]
    reason, message = str(found.get("reason")), str(found.get("message", ""))
    if reason != "Verified":
        if found.get("condition") == RUNTIME_COMPATIBLE:
            return [
                Observation.true(ARTIFACT_VERIFIED, "Verified", "the artifact loads"),
                Observation.false(RUNTIME_COMPATIBLE, reason, message),
            ]
        return [
            Observation.false(ARTIFACT_VERIFIED, reason, message),
            Observation.unknown(RUNTIME_COMPATIBLE, "ArtifactNotVerified", "no artifact to judge"),
        ]
    verified = Observation.true(
        ARTIFACT_VERIFIED, "Verified", f"{found.get('format')} file, sha256 {found.get('sha256')}"
    )
    problems = [str(p) for p in found.get("version_problems") or []]
    if problems:
        return [
            verified,
            Observation.false(
                RUNTIME_COMPATIBLE,
                "VersionMismatchAllowed",
                "; ".join(problems) + " (allowed by the spec)",
            ),
        ]
    return [verified, Observation.true(RUNTIME_COMPATIBLE, "Compatible", _versions_message(found))]


def _versions_message(found: dict[str, Any]) -> str:
    recorded = found.get("recorded_versions") or {}
    if not recorded:
        return "the artifact records no framework versions; it loads in this runtime"
    return "recorded versions match the runtime: " + ", ".join(
        f"{k} {v}" for k, v in sorted(recorded.items())
    )


def pod_problem(pods: list[dict[str, Any]]) -> Observation | None:
    """The first reason a pod is stuck that a user can act on (image, crash loop, scheduling)."""
    for pod in pods:
        status = pod.get("status") or {}
        for container in (status.get("initContainerStatuses") or []) + (
            status.get("containerStatuses") or []
        ):
            waiting = (container.get("state") or {}).get("waiting") or {}
            if waiting.get("reason") in STUCK:
                return Observation.false(
                    READY, str(waiting["reason"]), _stuck_message(container, waiting)
                )
        for condition in status.get("conditions") or []:
            if (
                condition.get("type") == "PodScheduled"
                and condition.get("reason") == "Unschedulable"
            ):
                return Observation.false(READY, "Unschedulable", str(condition.get("message", "")))
    return None


def _stuck_message(container: dict[str, Any], waiting: dict[str, Any]) -> str:
    message = (
        f"container {container.get('name')}: {waiting.get('message') or waiting.get('reason')}"
    )
    last = (container.get("lastState") or {}).get("terminated")
    if last:
        detail = str(last.get("message") or last.get("reason") or "").strip()[-300:]
        message += f"; last exit code {last.get('exitCode')}" + (f": {detail}" if detail else "")
    return message


def ready_observation(observed: Observed, artifact: list[Observation]) -> Observation:
    """Ready: does at least one pod serve this version, and if not, why."""
    if observed.blocked:
        return observed.blocked
    failed = next(
        (o for o in artifact if o.status == "False" and o.reason != "VersionMismatchAllowed"), None
    )
    if failed:
        return Observation.false(READY, failed.reason, failed.message)
    if observed.wanted == 0:
        return Observation.false(
            READY, "ScaledToZero", "minReplicas is 0: no pod serves this version"
        )
    status = (observed.deployment or {}).get("status") or {}
    ready = int(status.get("readyReplicas") or 0)
    if observed.deployment is None:
        return Observation.unknown(READY, "Creating", "creating the predictor")
    if ready > 0:
        return Observation.true(READY, "Serving", f"{ready}/{observed.wanted} pods ready")
    problem = pod_problem(observed.pods)
    if problem:
        return problem
    for condition in status.get("conditions") or []:
        if condition.get("reason") == "ProgressDeadlineExceeded":
            return Observation.false(
                READY, "ProgressDeadlineExceeded", str(condition.get("message", ""))
            )
    return Observation.unknown(READY, "Deploying", "waiting for a predictor pod to be ready")


def phase(observed: Observed, ready: Observation) -> str:
    if ready.status == "True":
        return "Ready"
    if ready.reason == "ScaledToZero":
        return "ScaledToZero"
    return "Failed" if ready.status == "False" else "Pending"


def version_status(
    observed: Observed, current: dict[str, Any], generation: int, now: str, **facts: Any
) -> dict[str, Any]:
    """The whole status: conditions, phase, replicas, what the verification recorded, and
    the given ``facts`` (url, image)."""
    found = verdict(observed.pods)
    artifact = artifact_observations(found)
    ready = ready_observation(observed, artifact)
    deployment_status = (observed.deployment or {}).get("status") or {}
    status: dict[str, Any] = {
        "phase": phase(observed, ready),
        **facts,
        "replicas": int(deployment_status.get("replicas") or 0),
        "readyReplicas": int(deployment_status.get("readyReplicas") or 0),
        "observedGeneration": generation,
        "conditions": merge(current.get("conditions") or [], [*artifact, ready], generation, now),
    }
    if found and found.get("reason") == "Verified":
        status |= {
            "framework": found.get("framework"),
            "format": found.get("format"),
            "sha256": found.get("sha256"),
            "frameworkVersions": found.get("recorded_versions") or {},
            "runtimeVersions": found.get("runtime_versions") or {},
            "metrics": found.get("metrics") or {},
        }
    return status


def changes(current: dict[str, Any], wanted: dict[str, Any]) -> dict[str, Any]:
    """The top-level status fields that differ (a merge patch; empty when nothing changed)."""
    return {key: value for key, value in wanted.items() if current.get(key) != value}
