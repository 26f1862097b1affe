"""What a training Job and its pods show, as the outcome of one run (pure functions).

A failed run always says why in a word and a sentence: the trainer's own report (a
package that is missing or does not install, the code's exit code and last log lines,
no model written), or what Kubernetes saw (killed for memory, the deadline, an image
that cannot be pulled, a pod that cannot be scheduled)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any

from modelops_contracts.termination import MESSAGE_INVALID
from modelops_contracts.training import GROUP_LOST_EXIT, TrainingResult
from modelops_operator import names
from modelops_operator.pod_state import stuck
from modelops_operator.trainingjob.builders import (
    COLLECT_CONTAINER,
    COMPLETION_INDEX,
    INDEX_FAILURES,
    PARAMETERS_ANNOTATION,
    TRAINER_CONTAINER,
)

SCHEDULED_ANNOTATION = "batch.kubernetes.io/cronjob-scheduled-timestamp"


@dataclass(frozen=True)
class RunOutcome:
    """One run (a Job): where it is, and on its end, its result or why it failed."""

    job: str
    phase: str  # Pending, Running, Succeeded, Failed
    scheduled_time: str = ""
    start_time: str = ""
    completion_time: str = ""
    result: TrainingResult | None = None
    reason: str = ""
    message: str = ""
    parameters: dict[str, str] = field(default_factory=dict)
    produced: str = ""
    """The version this run made, once made (the Job's annotation)."""

    @property
    def finished(self) -> bool:
        return self.phase in ("Succeeded", "Failed")


def outcome(job: dict[str, Any], pods: list[dict[str, Any]]) -> RunOutcome:
    """The outcome of ``job`` from its status and its pods' (newest attempt first)."""
    meta = job.get("metadata") or {}
    status = job.get("status") or {}
    annotations = meta.get("annotations") or {}
    run = RunOutcome(
        job=str(meta.get("name", "")),
        phase="Pending",
        scheduled_time=str(annotations.get(SCHEDULED_ANNOTATION, "")),
        start_time=str(status.get("startTime") or ""),
        completion_time=str(status.get("completionTime") or ""),
        parameters=_parameters(annotations.get(PARAMETERS_ANNOTATION)),
        produced=str(annotations.get(names.PRODUCED_VERSION, "")),
    )
    attempts = sorted(pods, key=_started, reverse=True)
    finished = _finished(status)
    workers = int((job.get("spec") or {}).get("completions") or 1)
    if finished == "Complete":
        # Rank 0 publishes the model; the other workers only report that they finished.
        chief = [p for p in attempts if _rank(p) in (None, 0)]
        results = [r for p in chief if (r := _result(p))]
        result = next((r for r in results if r.trained), None)
        if result is None:
            invalid = next((r for r in results if r.reason == MESSAGE_INVALID), None)
            if invalid is not None:  # what it reported is not a result: say why
                return replace(run, phase="Failed", result=invalid, reason=invalid.reason,
                               message=invalid.message)  # fmt: skip
            why = "the run completed but its pod reported no result"
            return replace(run, phase="Failed", reason="NoResult", message=why)
        return replace(run, phase="Succeeded", result=result, reason=result.reason)
    if finished:
        if workers > 1:  # the worker that failed first in the last attempt, not its peers
            attempts = sorted(attempts, key=_failed_first)
            if _awaiting_the_cause(attempts):
                return replace(run, phase="Running")
        reason, message = _failure(finished, status, attempts, workers)
        result = next((r for p in attempts if (r := _result(p))), None)
        return replace(run, phase="Failed", result=result, reason=reason, message=message)
    found = next((s for p in attempts if (s := stuck(p))), None)
    if found:
        return replace(run, reason=found.reason, message=found.message)
    running = any((p.get("status") or {}).get("phase") == "Running" for p in attempts)
    return replace(run, phase="Running" if running else "Pending")


def _finished(status: dict[str, Any]) -> str:
    """Complete, the Failed condition's reason, or "" while the Job runs."""
    for condition in status.get("conditions") or []:
        if condition.get("status") != "True":
            continue
        if condition.get("type") == "Complete":
            return "Complete"
        if condition.get("type") == "Failed":
            return str(condition.get("reason") or "Failed")
    return ""


def _failure(
    job_reason: str, status: dict[str, Any], attempts: list[dict[str, Any]], workers: int = 1
) -> tuple[str, str]:
    if job_reason == "DeadlineExceeded":
        return "DeadlineExceeded", "the run was stopped at its activeDeadlineSeconds"
    for pod in attempts:
        terminated = _terminated(pod)
        if terminated is None:
            continue
        rank = _rank(pod)
        worker = f"worker {rank} of {workers}: " if workers > 1 and rank is not None else ""
        if terminated.get("reason") == "OOMKilled":
            return "OOMKilled", (
                f"{worker}container {terminated['container']} was killed for using more "
                "memory than its limit (resources.limits.memory)"
            )
        result = _result(pod)
        if result and not result.trained:
            message = worker + result.message
            if result.log_tail:
                message += f"\nlast log lines:\n{result.log_tail}"
            return result.reason, message.strip()
        return "TrainerFailed", (
            f"{worker}container {terminated['container']} exited with code "
            f"{terminated.get('exitCode')}"
        )
    failed = int(status.get("failed") or 0)
    return job_reason, f"the Job failed ({job_reason}) after {failed} failed attempt(s)"


def _containers(pod: dict[str, Any]) -> list[dict[str, Any]]:
    """The trainer's containers, in the order they run (an image's trainer first)."""
    status = pod.get("status") or {}
    every = (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or [])
    return [c for c in every if c.get("name") in (TRAINER_CONTAINER, COLLECT_CONTAINER)]


def _terminated(pod: dict[str, Any]) -> dict[str, Any] | None:
    """The container that ended the pod: the one that failed, else the last one."""
    ended = [
        {**c["state"]["terminated"], "container": c["name"]}
        for c in _containers(pod)
        if (c.get("state") or {}).get("terminated")
    ]
    failed = [t for t in ended if t.get("exitCode")]
    return (failed or ended)[-1] if ended else None


def _result(pod: dict[str, Any]) -> TrainingResult | None:
    """What the pod reported in its last termination message: the trainer entrypoint's
    result, or the end of the log of an image's trainer that failed."""
    for container in reversed(_containers(pod)):
        terminated = (container.get("state") or {}).get("terminated") or {}
        if terminated.get("message"):
            code = int(terminated.get("exitCode") or 0)
            return TrainingResult.from_termination(str(terminated["message"]), code)
    return None


def _rank(pod: dict[str, Any]) -> int | None:
    """The worker's rank: its Indexed Job completion index (None: a single-pod run)."""
    raw = str(((pod.get("metadata") or {}).get("annotations") or {}).get(COMPLETION_INDEX, ""))
    return int(raw) if raw.isdigit() else None


def _failed_first(pod: dict[str, Any]) -> tuple[int, int, str, int]:
    """Sort key: the newest attempt first, and in it the pod whose trainer ended first
    (the one that broke the collective; its peers fail after it); a worker that stopped
    because a peer was gone (``GROUP_LOST_EXIT``) after every other failure; in the same
    second, a worker killed (for memory, by a signal) before one that saw its peer go."""
    attempt = _attempt(pod)
    terminated = _terminated(pod)
    failed = terminated is not None and bool(terminated.get("exitCode") or terminated.get(
        "reason") == "OOMKilled")  # fmt: skip
    ended = str((terminated or {}).get("finishedAt") or "") if failed else ""
    result = _result(pod) if failed else None
    killed = (terminated or {}).get("reason") == "OOMKilled" or (
        result is not None and (result.exit_code < 0 or result.exit_code >= 128))  # fmt: skip
    lost_peer = result is not None and result.exit_code == GROUP_LOST_EXIT
    return -attempt, int(lost_peer), ended or "~", 0 if killed else 1  # going/succeeded: last


def _awaiting_the_cause(attempts: list[dict[str, Any]]) -> bool:
    """The failed group's first report is only a worker that saw a peer go, while a worker
    of the same attempt has not ended yet: that worker is the cause, and its own report
    (killed, out of memory, its error) reaches the API server a moment later than its
    peers' (each kubelet sync is its own). Judged once every worker has ended or is gone;
    a gone pod (deleted by the Job controller) is no longer listed, so this waits at most
    for its grace period."""
    ended = [p for p in attempts if _terminated(p) is not None]
    if not ended:
        return False
    first = _result(ended[0])
    if first is None or first.exit_code != GROUP_LOST_EXIT:
        return False
    newest = _attempt(ended[0])
    return any(
        _attempt(p) == newest
        and _terminated(p) is None
        and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
        for p in attempts
    )


def _attempt(pod: dict[str, Any]) -> int:
    """Which attempt of its index a worker is (earlier failures of that index)."""
    raw = str(((pod.get("metadata") or {}).get("annotations") or {}).get(INDEX_FAILURES, ""))
    return int(raw) if raw.isdigit() else 0


def _started(pod: dict[str, Any]) -> str:
    meta, status = pod.get("metadata") or {}, pod.get("status") or {}
    return str(status.get("startTime") or meta.get("creationTimestamp") or "")


def _parameters(raw: Any) -> dict[str, str]:
    try:
        found = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in found.items()} if isinstance(found, dict) else {}
