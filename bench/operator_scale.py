"""How the operator copes with many objects: N ModelVersions (minReplicas 0) applied at once.

Starts the operator as a process against the current kubeconfig, creates N ModelVersions
with 16 client threads, and waits until every one reached its steady state (Deployment and
Service created, status ScaledToZero). Prints the time to apply, the time to steady state,
the operator's peak RSS and CPU seconds, and its CPU use while idle (the resync timers).

    KUBECONFIG=... python bench/operator_scale.py --count 1000 [--namespace bench]

Any kube-apiserver works: with minReplicas 0 no pod is ever started. It is not a test and
asserts nothing; it deletes what it created before it stops the operator.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from kubernetes import client, config

GROUP, VERSION, PLURAL = "modelops.dev", "v1alpha1", "modelversions"


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
        "spec": {
            "model": "bench",
            "artifact": {"uri": f"s3://bench/{name}/model.joblib"},
            "predictor": {"minReplicas": 0},
        },
    }


def steady(api: client.CustomObjectsApi, apps: client.AppsV1Api, ns: str, count: int) -> int:
    items = api.list_namespaced_custom_object(GROUP, VERSION, ns, PLURAL)["items"]
    done = sum(1 for i in items if (i.get("status") or {}).get("phase") == "ScaledToZero")
    deployments = len(
        apps.list_namespaced_deployment(ns, label_selector="modelops.dev/model=bench").items
    )
    return min(done, deployments) if len(items) == count else 0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--namespace", default="default")
    parser.add_argument("--resync", default="3", help="MODELOPS_RESYNC_SECONDS of the operator")
    parser.add_argument("--idle-seconds", type=float, default=30)
    args = parser.parse_args()
    config.load_kube_config()
    api, apps, ns = client.CustomObjectsApi(), client.AppsV1Api(), args.namespace
    env = {**os.environ, "MODELOPS_PEERING": "", "MODELOPS_WATCH_NAMESPACES": ns,
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
            list(
                pool.map(
                    lambda n: api.create_namespaced_custom_object(
                        GROUP, VERSION, ns, PLURAL, version(n)
                    ),
                    names,
                )
            )
        applied = time.monotonic() - started
        while (reached := steady(api, apps, ns, args.count)) < args.count:
            peak = max(peak, rss_and_cpu(operator.pid)[0])
            print(
                f"  {time.monotonic() - started:6.1f}s: {reached}/{args.count} steady", flush=True
            )
            time.sleep(2)
        took = time.monotonic() - started
        rss, cpu_busy = rss_and_cpu(operator.pid)
        time.sleep(args.idle_seconds)
        rss_idle, cpu_after = rss_and_cpu(operator.pid)
        result = {
            "count": args.count,
            "apply_seconds": round(applied, 1),
            "steady_seconds": round(took, 1),
            "operator_peak_rss_mib": round(max(peak, rss, rss_idle), 1),
            "operator_cpu_seconds_to_steady": round(cpu_busy - cpu_start, 1),
            "operator_idle_cpu_percent": round(100 * (cpu_after - cpu_busy) / args.idle_seconds, 1),
            "resync_seconds": float(args.resync),
        }
        print(json.dumps(result))
    finally:
        names = [
            i["metadata"]["name"]
            for i in api.list_namespaced_custom_object(GROUP, VERSION, ns, PLURAL)["items"]
        ]
        with ThreadPoolExecutor(16) as pool:
            list(
                pool.map(
                    lambda n: api.delete_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, n),
                    names,
                )
            )
        deadline = time.monotonic() + 300
        while (
            api.list_namespaced_custom_object(GROUP, VERSION, ns, PLURAL)["items"]
            and time.monotonic() < deadline
        ):
            time.sleep(2)
        operator.terminate()
        operator.wait(timeout=60)
        log.close()
        # An API server without a garbage collector (no controller-manager) keeps them.
        for deployment in apps.list_namespaced_deployment(
            ns, label_selector="modelops.dev/model=bench"
        ).items:
            apps.delete_namespaced_deployment(deployment.metadata.name, ns)
        core = client.CoreV1Api()
        for service in core.list_namespaced_service(
            ns, label_selector="modelops.dev/model=bench"
        ).items:
            core.delete_namespaced_service(service.metadata.name, ns)


if __name__ == "__main__":
    main()
