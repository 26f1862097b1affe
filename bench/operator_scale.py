"""How the operator copes with many objects: N ModelVersions applied at once.

Starts the operator as a process against the current kubeconfig, in a namespace of its
own whose ResourceQuota admits no pod (so 2 cores need not run N predictors: each
version ends with its Deployment and Service made and ``ResourcesAvailable=False
FailedCreate`` — a steady state the operator must then leave alone). Creates N
ModelVersions with 16 client threads and waits until every one reached it.

Prints the time to apply and to steady state, the operator's peak RSS and CPU seconds,
its CPU use while idle, and — when the local cluster's API server audit log is there —
the write requests the operator made during the idle window (kopf's peering keepalive
is not used: the process runs standalone).

    KUBECONFIG=... python bench/operator_scale.py --count 1000

It is not a test and asserts nothing; it deletes what it created before it stops.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from kubernetes import client, config

GROUP, VERSION, PLURAL = "modelops.dev", "v1alpha1", "modelversions"
AUDIT_LOG = Path(os.environ.get("MODELOPS_CLUSTER_STATE", "/var/lib/modelops-cluster")) / (
    "logs/audit.log"
)
WRITES = {"create", "update", "patch", "delete", "deletecollection"}
OPERATOR_AGENTS = ("kopf/", "modelops")
INSTANCE = "bench"


def rss_and_cpu(pid: int) -> tuple[float, float]:
    """Resident MiB and user+system CPU seconds of a process."""
    status = Path(f"/proc/{pid}/status").read_text()
    rss = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return rss / 1024, (int(fields[11]) + int(fields[12])) / ticks


def version(name: str) -> dict[str, object]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "ModelVersion",
        "metadata": {"name": name},
        "spec": {"model": "bench", "artifact": {"uri": f"s3://bench/{name}/model.joblib"}},
    }


def steady(api: client.CustomObjectsApi, ns: str, count: int) -> int:
    """Versions whose pods were refused by the quota (their steady state here)."""
    items = api.list_namespaced_custom_object(GROUP, VERSION, ns, PLURAL)["items"]
    return sum(
        1
        for i in items
        for c in (i.get("status") or {}).get("conditions") or []
        if c["type"] == "ResourcesAvailable" and c.get("reason") == "FailedCreate"
    )


def operator_writes(offset: int, namespace: str) -> Counter[str]:
    """Write requests by the operator in ``namespace`` in the audit log since ``offset``."""
    found: Counter[str] = Counter()
    with AUDIT_LOG.open("rb") as log:
        log.seek(offset)
        for line in log:
            event = json.loads(line)
            ref = event.get("objectRef") or {}
            if (
                event.get("stage") == "ResponseComplete"
                and event.get("verb") in WRITES
                and str(event.get("userAgent", "")).startswith(OPERATOR_AGENTS)
                and ref.get("namespace") == namespace
            ):
                found[f"{event['verb']} {ref.get('resource')}/{ref.get('subresource', '')}"] += 1
    return found


def make_namespace(core: client.CoreV1Api, ns: str) -> None:
    # Labelled for an instance of its own: an install already in the cluster (the demo's,
    # the default instance) leaves it to the operator started here.
    labels = {"modelops.dev/instance": INSTANCE}
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=ns, labels=labels)))
    quota = client.V1ResourceQuota(
        metadata=client.V1ObjectMeta(name="no-pods"),
        spec=client.V1ResourceQuotaSpec(hard={"pods": "0"}),
    )
    core.create_namespaced_resource_quota(ns, quota)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--namespace", default=f"bench-operator-{os.getpid()}")
    parser.add_argument("--idle-seconds", type=float, default=60)
    parser.add_argument("--resync", default="600", help="MODELOPS_RESYNC_SECONDS of the operator")
    args = parser.parse_args()
    config.load_kube_config()
    api, core, ns = client.CustomObjectsApi(), client.CoreV1Api(), args.namespace
    make_namespace(core, ns)
    env = {**os.environ, "MODELOPS_PEERING": "", "MODELOPS_WATCH_NAMESPACES": ns,
           "MODELOPS_INSTANCE": INSTANCE,
           "MODELOPS_RESYNC_SECONDS": args.resync, "MODELOPS_LIVENESS_PORT": "18099",
           "PYTHONWARNINGS": "ignore"}  # fmt: skip
    log = open(f"/tmp/modelops-bench-operator-{os.getpid()}.log", "w")  # noqa: SIM115
    operator = subprocess.Popen(
        [sys.executable, "-m", "modelops_operator"], env=env, stdout=log, stderr=log
    )
    peak = 0.0
    try:
        time.sleep(3)
        _, cpu_start = rss_and_cpu(operator.pid)
        started = time.monotonic()
        names = [f"bench-{i:05d}" for i in range(args.count)]
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(lambda n: api.create_namespaced_custom_object(
                GROUP, VERSION, ns, PLURAL, version(n)), names))  # fmt: skip
        applied = time.monotonic() - started
        while (reached := steady(api, ns, args.count)) < args.count:
            peak = max(peak, rss_and_cpu(operator.pid)[0])
            print(f"  {time.monotonic() - started:6.1f}s: {reached}/{args.count} steady",
                  flush=True)  # fmt: skip
            time.sleep(2)
        took = time.monotonic() - started
        time.sleep(10)  # the last events of the children settle
        rss, cpu_busy = rss_and_cpu(operator.pid)
        offset = AUDIT_LOG.stat().st_size if AUDIT_LOG.exists() else None
        time.sleep(args.idle_seconds)
        rss_idle, cpu_after = rss_and_cpu(operator.pid)
        writes = operator_writes(offset, ns) if offset is not None else None
        result = {
            "count": args.count,
            "apply_seconds": round(applied, 1),
            "steady_seconds": round(took, 1),
            "operator_peak_rss_mib": round(max(peak, rss, rss_idle), 1),
            "operator_cpu_seconds_to_steady": round(cpu_busy - cpu_start, 1),
            "operator_idle_cpu_percent": round(100 * (cpu_after - cpu_busy) / args.idle_seconds, 2),
            "idle_seconds": args.idle_seconds,
            "operator_writes_while_idle": None if writes is None else sum(writes.values()),
            "writes_by_kind": None if writes is None else dict(writes),
            "resync_seconds": float(args.resync),
        }
        print(json.dumps(result))
    finally:
        # The operator removes its finalizers as the versions go; then it may stop.
        core.delete_namespace(ns)  # the Deployments and Services go with their owners
        deadline = time.monotonic() + 600
        while (
            time.monotonic() < deadline
            and api.list_namespaced_custom_object(GROUP, VERSION, ns, PLURAL)["items"]
        ):
            time.sleep(2)
        operator.terminate()
        operator.wait(timeout=60)
        log.close()


if __name__ == "__main__":
    main()
