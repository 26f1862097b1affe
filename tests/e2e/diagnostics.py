"""What a failed cluster test prints beside its assertion: what a human would look at next.

- each of its namespaces: the modelops objects' conditions, pods, containers, their logs
  and the events;
- the operator's and the activators' logs (every install the test used): the lines that
  name one of its namespaces, then the last lines whatever they name (a crash, a lost
  watch).
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from tests.e2e.conftest import Cluster
from tests.e2e.kube import describe_namespace

KINDS = ("models", "modelversions", "trainingjobs")
SYSTEM_PODS = {
    "operator": "app.kubernetes.io/name=modelops-operator",
    "activator": "app.kubernetes.io/name=modelops-activator",
}
NAMED_LINES, LAST_LINES = 60, 25


def sections(
    cluster: Cluster, namespaces: list[str], systems: Iterable[str] = ()
) -> list[tuple[str, str]]:
    """(title, text) report sections for a failed test."""
    from tests.e2e.operator_support import OPERATOR_NAMESPACE

    found = []
    for namespace in namespaces:
        text = objects(cluster, namespace) + "\n" + describe_namespace(cluster.api, namespace)
        found.append((f"namespace {namespace}", text))
    for system in dict.fromkeys([OPERATOR_NAMESPACE, *systems]):
        for role, selector in SYSTEM_PODS.items():
            text = logs(cluster, system, selector, namespaces)
            if text:
                found.append((f"{role} logs ({system})", text))
    return found


def objects(cluster: Cluster, namespace: str) -> str:
    """Each modelops object's phase and conditions, one line each."""
    api = client.CustomObjectsApi(cluster.api)
    lines = []
    for plural in KINDS:
        try:
            listed = api.list_namespaced_custom_object(
                "modelops.dev", "v1alpha1", namespace, plural
            )
        except ApiException as err:
            lines.append(f"({plural}: {err.reason})")
            continue
        for item in listed.get("items", []):
            status = item.get("status") or {}
            conditions = [
                f"{c.get('type')}={c.get('status')}({c.get('reason', '')})"
                for c in status.get("conditions") or []
            ]
            lines.append(
                f"{plural}/{item['metadata']['name']}: phase={status.get('phase')} "
                f"{' '.join(conditions)} {json.dumps(status.get('message', ''))}"
            )
    return "\n".join(lines)


def logs(cluster: Cluster, system: str, selector: str, namespaces: list[str]) -> str:
    """Lines of these pods' logs that name one of ``namespaces``, then their last lines."""
    out: list[str] = []
    try:
        pods = cluster.core.list_namespaced_pod(system, label_selector=selector).items
    except ApiException as err:
        return f"(could not list pods in {system}: {err.reason})"
    for pod in pods:
        name = pod.metadata.name
        restarts = sum(s.restart_count for s in pod.status.container_statuses or [])
        out.append(f"--- pod {name}: phase={pod.status.phase} restarts={restarts}")
        try:
            text = cluster.core.read_namespaced_pod_log(name, system, tail_lines=3000)
        except ApiException as err:
            out.append(f"(no log: {err.reason})")
            continue
        lines = text.splitlines()
        named = [line for line in lines if any(ns in line for ns in namespaces)]
        if named:
            out.append(f"(lines naming the test's namespaces, last {NAMED_LINES})")
            out.extend(named[-NAMED_LINES:])
        out.append(f"(last {LAST_LINES} lines)")
        out.extend(lines[-LAST_LINES:])
    return "\n".join(out)
