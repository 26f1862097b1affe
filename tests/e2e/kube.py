"""Small helpers for end-to-end tests: bounded polling and failure diagnostics."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from kubernetes import client
from kubernetes.client.exceptions import ApiException

T = TypeVar("T")


def wait_for(
    check: Callable[[], T | None],
    *,
    timeout: float,
    what: str,
    interval: float = 0.5,
    diagnose: Callable[[], str] | None = None,
) -> T:
    """Poll ``check`` until it returns a truthy value; fail after ``timeout`` seconds.

    One bounded wait for one expected state: never a retry of a failed assertion.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() >= deadline:
            details = f"\n{diagnose()}" if diagnose else ""
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}{details}")
        time.sleep(interval)


def describe_namespace(api: client.ApiClient, namespace: str) -> str:
    """Pods, their container states, recent events and logs: what a human would look at."""
    core = client.CoreV1Api(api)
    lines: list[str] = []
    try:
        for pod in core.list_namespaced_pod(namespace).items:
            lines.append(
                f"pod {pod.metadata.name}: phase={pod.status.phase} ip={pod.status.pod_ip}"
            )
            for status in pod.status.container_statuses or []:
                lines.append(
                    f"  container {status.name}: ready={status.ready} state={status.state}"
                )
                try:
                    log = core.read_namespaced_pod_log(
                        pod.metadata.name, namespace, container=status.name, tail_lines=30
                    )
                    lines.extend(f"    | {line}" for line in log.splitlines())
                except ApiException:
                    pass
        for event in core.list_namespaced_event(namespace).items[-20:]:
            lines.append(
                f"event {event.involved_object.kind}/{event.involved_object.name}: "
                f"{event.reason}: {event.message}"
            )
    except ApiException as err:
        lines.append(f"(could not describe namespace {namespace}: {err.reason})")
    return "\n".join(lines)
