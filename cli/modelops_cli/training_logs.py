"""The logs of a TrainingJob's runs: the pods of its Jobs (labelled with the TrainingJob's
name, ``modelops.dev/trainingjob``), read or followed through the operator's API module.

A run's pod shows its containers in the order they run: an image's trainer (an init
container) and then the entrypoint that collects its model, or the entrypoint alone,
which runs a package's code itself. Following shows each pod's log as it is written, in
the order the pods were made (a retry, the next scheduled run), until the TrainingJob ends.
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
from modelops_operator.api import TRAINING_JOB
from modelops_operator.names import TRAINING_JOB_LABEL
from modelops_operator.trainingjob.builders import COLLECT_CONTAINER, TRAINER_CONTAINER

ENDED = ("Succeeded", "Failed")
# After its last pod ended, how long the TrainingJob may take to record the outcome
# before the pod's own report is shown instead.
RECORD_GRACE = 60.0
Say = Callable[[str], None]


def get_job(namespace: str, name: str) -> dict[str, Any]:
    found: dict[str, Any] | None = resources.call(
        f"reading TrainingJob {name}", kube.get, resources.ref(TRAINING_JOB, namespace, name)
    )
    if found is None:
        existing = resources.names_of(TRAINING_JOB, namespace)
        raise CommandError(resources.not_found(TRAINING_JOB, namespace, name, existing))
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


def log_containers(pod: dict[str, Any]) -> list[str]:
    """The containers whose logs are the run's, in the order they run."""
    spec = pod.get("spec") or {}
    init = [c["name"] for c in spec.get("initContainers") or [] if c["name"] == TRAINER_CONTAINER]
    main = [c["name"] for c in spec.get("containers") or []]
    ours = [n for n in main if n in (TRAINER_CONTAINER, COLLECT_CONTAINER)]
    return init + (ours or main[:1])


def _statuses(pod: dict[str, Any]) -> list[dict[str, Any]]:
    status = pod.get("status") or {}
    return list(status.get("initContainerStatuses") or []) + list(
        status.get("containerStatuses") or []
    )


def state_of(pod: dict[str, Any], container: str) -> dict[str, Any]:
    for found in _statuses(pod):
        if found.get("name") == container:
            return dict(found.get("state") or {})
    return {}


def has_log(pod: dict[str, Any], container: str) -> bool:
    """Whether the container ran or runs (a waiting one has no log yet)."""
    state = state_of(pod, container)
    return "running" in state or "terminated" in state


def started(pod: dict[str, Any]) -> bool:
    return any(has_log(pod, c) for c in log_containers(pod))


def ended(pod: dict[str, Any]) -> bool:
    return (pod.get("status") or {}).get("phase") in ENDED


def waiting_reason(pod: dict[str, Any]) -> str:
    """Why a pod has not started, when Kubernetes says (ErrImagePull, Unschedulable...)."""
    for container in _statuses(pod):
        waiting = (container.get("state") or {}).get("waiting") or {}
        if waiting.get("reason") not in (None, "ContainerCreating", "PodInitializing"):
            return f"{waiting['reason']}: {waiting.get('message', '')}".rstrip(": ")
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond.get("status") == "False" and cond.get("reason"):
            return f"{cond['reason']}: {cond.get('message', '')}".rstrip(": ")
    return ""


def termination(pod: dict[str, Any]) -> TrainingResult | None:
    """What the run's pod reported once it ended: the last of its containers that left a
    termination message (the entrypoint's result, or an image trainer's last log lines)."""
    for container in reversed(log_containers(pod)):
        ended_ = state_of(pod, container).get("terminated")
        if ended_ and (ended_.get("message") or ended_.get("exitCode")):
            return TrainingResult.from_termination(
                str(ended_.get("message") or ""), int(ended_.get("exitCode") or 0)
            )
    return None


def write_log(
    namespace: str, pod: dict[str, Any], container: str, out: IO[bytes], job: str, *, follow: bool
) -> None:
    query = {"container": container, **({"follow": "true"} if follow else {})}
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
    """Every pod's log as it is now; how many pods had one."""
    out = out or sys.stdout.buffer
    get_job(namespace, name)
    pods = [p for p in pods_of(namespace, name) if started(p)]
    for pod in pods:
        shown = [c for c in log_containers(pod) if has_log(pod, c)]
        for container in shown:
            if len(pods) > 1 or len(shown) > 1:
                _header(out, pod, container if len(shown) > 1 else "")
            write_log(namespace, pod, container, out, name, follow=False)
    return len(pods)


def follow(
    namespace: str,
    name: str,
    timeout: float | None = None,
    out: IO[bytes] | None = None,
    say: Say = lambda line: print(line, file=sys.stderr, flush=True),
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
                    _follow_pod(namespace, pod, name, out, say)
            return outcome(job)
        waiting = [p for p in pods if pod_name(p) not in shown]
        if waiting and started(waiting[0]):
            pod = waiting[0]  # pods are shown in the order they were made
            reported = _follow_pod(namespace, pod, name, out, say)
            shown.add(pod_name(pod))
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


def _follow_pod(
    namespace: str, pod: dict[str, Any], job: str, out: IO[bytes], say: Say
) -> TrainingResult | None:
    """Each of the pod's containers' logs as they are written; what the pod reported."""
    containers = log_containers(pod)
    _header(out, pod)
    for number, container in enumerate(containers):
        pod = _until_started(namespace, pod, container, job)
        if not has_log(pod, container):
            continue  # the pod ended before this container ran (its trainer failed)
        if number:
            _header(out, pod, container)
        write_log(namespace, pod, container, out, job, follow=True)
    return _reported(namespace, pod, job)


def _until_started(namespace: str, pod: dict[str, Any], container: str, job: str) -> dict[str, Any]:
    """The pod once ``container`` ran or runs, or the pod ended without it."""
    while not has_log(pod, container) and not ended(pod):
        time.sleep(0.5)
        pod = _refreshed(namespace, pod, job)
    return pod


def _waiting_line(name: str, pod: dict[str, Any] | None) -> str:
    if pod is None:
        return f"waiting for a pod of TrainingJob {name}..."
    reason = waiting_reason(pod)
    return f"pod {pod_name(pod)} is waiting: {reason}" if reason else ""


def _say_once(say: Say, said: set[str], line: str) -> None:
    if line and line not in said:
        said.add(line)
        say(line)


def _reported(namespace: str, pod: dict[str, Any], job: str) -> TrainingResult | None:
    """What the pod reported (the kubelet records it a moment after the log ends)."""
    for _ in range(10):
        pod = _refreshed(namespace, pod, job)
        if ended(pod) and (result := termination(pod)) is not None:
            return result
        time.sleep(0.5)
    return termination(pod)


def _refreshed(namespace: str, pod: dict[str, Any], job: str) -> dict[str, Any]:
    found: dict[str, Any] | None = resources.call(
        f"reading pod {pod_name(pod)} of TrainingJob {job}",
        kube.get,
        kube.Ref("v1", "Pod", namespace, pod_name(pod)),
    )
    if found is None:  # deleted (a cancelled run): it will not run any further
        return {**pod, "status": {**(pod.get("status") or {}), "phase": "Failed"}}
    return found


def _header(out: IO[bytes], pod: dict[str, Any], container: str = "") -> None:
    where = f"pod {pod_name(pod)}" + (f", container {container}" if container else "")
    out.write(f"==> {where} <==\n".encode())
    out.flush()
