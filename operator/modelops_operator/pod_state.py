"""Why a pod does not run, when a user must act on it: the image, the crash loop, the
configuration, the scheduler. Anything else is a pod still starting."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

STUCK = frozenset({
    "ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull",
    "CreateContainerConfigError", "CreateContainerError", "RunContainerError",
    "CrashLoopBackOff",
})  # fmt: skip
KUBELET_RETRIES = ("failed to sync secret cache", "failed to sync configmap cache")
"""A CreateContainerConfigError the kubelet retries by itself (its watch of the Secret or
ConfigMap was late, on a busy node): a pod still starting, not one to act on."""


@dataclass(frozen=True)
class Stuck:
    reason: str
    message: str


def stuck(pod: dict[str, Any]) -> Stuck | None:
    """The first reason ``pod`` is stuck that a user can act on, init containers first."""
    status = pod.get("status") or {}
    for container in (status.get("initContainerStatuses") or []) + (
        status.get("containerStatuses") or []
    ):
        waiting = (container.get("state") or {}).get("waiting") or {}
        reason = str(waiting.get("reason") or "")
        if reason in STUCK and not any(
            passing in str(waiting.get("message") or "") for passing in KUBELET_RETRIES
        ):
            return Stuck(reason, _describe(container, waiting))
    for condition in status.get("conditions") or []:
        if condition.get("type") == "PodScheduled" and condition.get("reason") == "Unschedulable":
            return Stuck("Unschedulable", str(condition.get("message", "")))
    return None


def _describe(container: dict[str, Any], waiting: dict[str, Any]) -> str:
    message = (
        f"container {container.get('name')}: {waiting.get('message') or waiting.get('reason')}"
    )
    last = (container.get("lastState") or {}).get("terminated")
    if last:
        detail = str(last.get("message") or last.get("reason") or "").strip()[-300:]
        message += f"; last exit code {last.get('exitCode')}" + (f": {detail}" if detail else "")
    return message
