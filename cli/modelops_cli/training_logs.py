"""The logs of a TrainingJob's runs: the pods of its Jobs, which carry the label
``modelops.dev/trainingjob=<name>``, read (or followed) through the operator's API module.

Following shows each pod's log as it is written, in the order the pods started (a retry
or the next scheduled run comes after the one before), until the TrainingJob ends.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import IO, Any

from modelops_cli import resources
from modelops_cli.errors import CommandError
from modelops_contracts.training import TrainingResult
from modelops_operator import kube
from modelops_operator.api import GROUP, TRAINING_JOB

TRAINING_JOB_LABEL = f"{GROUP}/trainingjob"
TRAINER_CONTAINER = "trainer"
STARTED = ("Running", "Succeeded", "Failed")
# After its last pod ended, how long the TrainingJob may take to record the outcome
# before the pod's own report is shown instead.
RECORD_GRACE = 60.0


def get_job(namespace: str, name: str) -> dict[str, Any]:
    found: dict[str, Any] | None = resources.call(
        f"reading TrainingJob {name}", kube.get, resources.ref(TRAINING_JOB, namespace, name)
    )
    if found is None:
        raise CommandError(f"no TrainingJob {name} in namespace {namespace}")
    return found


def pods_of(namespace: str, name: str) -> list[dict[str, Any]]:
    """The job's pods, oldest first."""
    listed = resources.call(
        f"listing the pods of TrainingJob {name}",
        kube.request,
        "GET",
        kube.Ref("v1", "Pod", namespace).path(),
        None,
        "application/json",
        {"labelSelector": f"{TRAINING_JOB_LABEL}={name}"},
    )
    pods = list(listed.get("items") or [])
    return sorted(pods, key=lambda p: (p["metadata"].get("creationTimestamp", ""), pod_name(p)))


def pod_name(pod: dict[str, Any]) -> str:
    return str(pod["metadata"]["name"])


def container_of(pod: dict[str, Any]) -> str | None:
    """The container whose log to show: the only one, else the trainer."""
    names = [c["name"] for c in (pod.get("spec") or {}).get("containers") or []]
    if len(names) <= 1:
        return None
    return TRAINER_CONTAINER if TRAINER_CONTAINER in names else names[0]


def started(pod: dict[str, Any]) -> bool:
    """Whether the pod has a log to show (its container ran or runs)."""
    status = pod.get("status") or {}
    if status.get("phase") in STARTED:
        return True
    states = [c.get("state") or {} for c in status.get("containerStatuses") or []]
    return any("running" in s or "terminated" in s for s in states)


def waiting_reason(pod: dict[str, Any]) -> str:
    """Why a pod has not started, when Kubernetes says (ErrImagePull, Unschedulable...)."""
    status = pod.get("status") or {}
    for container in status.get("containerStatuses") or []:
        waiting = (container.get("state") or {}).get("waiting") or {}
        if waiting.get("reason") and waiting["reason"] != "ContainerCreating":
            return f"{waiting['reason']}: {waiting.get('message', '')}".rstrip(": ")
    for cond in status.get("conditions") or []:
        if cond.get("status") == "False" and cond.get("reason"):
            return f"{cond['reason']}: {cond.get('message', '')}".rstrip(": ")
    return ""


def termination(pod: dict[str, Any]) -> TrainingResult | None:
    """What the pod's trainer container reported, once it ended."""
    wanted = container_of(pod)
    for container in (pod.get("status") or {}).get("containerStatuses") or []:
        if wanted and container.get("name") != wanted:
            continue
        ended = (container.get("state") or {}).get("terminated")
        if ended:
            return TrainingResult.from_termination(
                str(ended.get("message") or ""), int(ended.get("exitCode") or 0)
            )
    return None


def write_log(namespace: str, pod: dict[str, Any], follow: bool, out: IO[bytes], job: str) -> None:
    query = {"follow": "true"} if follow else {}
    if container := container_of(pod):
        query["container"] = container
    path = kube.Ref("v1", "Pod", namespace, pod_name(pod)).path() + "/log"
    try:
        for chunk in kube.stream(path, query):
            out.write(chunk)
            out.flush()
    except kube.KubeError as err:
        if err.status == 404:  # the pod went away (a deleted run, a cleaned-up history)
            return
        raise CommandError(
            f"reading the log of pod {pod_name(pod)} of TrainingJob {job}: {err}"
        ) from err
    except OSError as err:
        raise CommandError(
            f"reading the log of TrainingJob {job}: cannot reach the Kubernetes API: {err}"
        ) from err


def show_logs(namespace: str, name: str, out: IO[bytes] | None = None) -> int:
    """Every pod's log as it is now; how many pods there were."""
    out = out or sys.stdout.buffer
    get_job(namespace, name)
    pods = [p for p in pods_of(namespace, name) if started(p)]
    for pod in pods:
        if len(pods) > 1:
            _header(out, pod)
        write_log(namespace, pod, False, out, name)
    return len(pods)


def follow(
    namespace: str,
    name: str,
    timeout: float | None = None,
    out: IO[bytes] | None = None,
    say: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True),
) -> tuple[bool, str]:
    """Stream the runs' logs until the TrainingJob ends (or ``timeout`` seconds pass);
    the outcome (success, text to print). After each run's pod, what it reported; when the
    TrainingJob records no outcome well after its last pod ended (no operator running?),
    the pod's report is the outcome. A scheduled job is followed run after run."""
    from modelops_cli.trainingjobs import TERMINAL_PHASES, outcome, pod_outcome

    out = out or sys.stdout.buffer
    deadline = None if timeout is None else time.monotonic() + timeout
    shown: set[str] = set()
    said: set[str] = set()
    reported: TrainingResult | None = None
    ended_at = time.monotonic()
    while True:
        job = get_job(namespace, name)
        pods = pods_of(namespace, name)
        if (job.get("status") or {}).get("phase") in TERMINAL_PHASES:
            for pod in pods:  # a run that ended before it was seen
                if pod_name(pod) not in shown and started(pod):
                    _header(out, pod)
                    write_log(namespace, pod, False, out, name)
            return outcome(job)
        waiting = [p for p in pods if pod_name(p) not in shown]
        if waiting and started(waiting[0]):
            pod = waiting[0]  # pods are shown in the order they were created
            _header(out, pod)
            write_log(namespace, pod, True, out, name)
            shown.add(pod_name(pod))
            reported = _reported(namespace, pod, name)
            if reported is not None:
                say(f"pod {pod_name(pod)}: {reported.reason}: {reported.message}")
            ended_at = time.monotonic()
            continue
        _say_once(say, said, _waiting_line(name, waiting[0] if waiting else None))
        scheduled = bool((job.get("spec") or {}).get("schedule"))
        quiet = time.monotonic() - ended_at > RECORD_GRACE
        if reported is not None and not waiting and not scheduled and quiet:
            return pod_outcome(name, reported)
        if deadline is not None and time.monotonic() > deadline:
            phase = (job.get("status") or {}).get("phase") or "no phase yet"
            raise CommandError(f"TrainingJob {name} has not ended after {timeout:.0f}s ({phase})")
        time.sleep(1.0)


def _waiting_line(name: str, pod: dict[str, Any] | None) -> str:
    if pod is None:
        return f"waiting for a pod of TrainingJob {name}..."
    reason = waiting_reason(pod)
    return f"pod {pod_name(pod)} is waiting: {reason}" if reason else ""


def _say_once(say: Callable[[str], None], said: set[str], line: str) -> None:
    if line and line not in said:
        said.add(line)
        say(line)


def _reported(namespace: str, pod: dict[str, Any], job: str) -> TrainingResult | None:
    """What the pod's trainer reported (the kubelet records it a moment after the log
    ends)."""
    for _ in range(10):
        result = termination(_refreshed(namespace, pod, job))
        if result is not None:
            return result
        time.sleep(0.5)
    return None


def _refreshed(namespace: str, pod: dict[str, Any], job: str) -> dict[str, Any]:
    found: dict[str, Any] | None = resources.call(
        f"reading pod {pod_name(pod)} of TrainingJob {job}",
        kube.get,
        kube.Ref("v1", "Pod", namespace, pod_name(pod)),
    )
    return found or pod


def _header(out: IO[bytes], pod: dict[str, Any]) -> None:
    out.write(f"==> pod {pod_name(pod)} <==\n".encode())
    out.flush()
