"""``make bench BENCH=serving``: serving on the local cluster, measured end to end.

This machine is the cluster's node, so its ClusterIPs and pod IPs are reached from here;
every request goes to one of the cluster's own addresses. The chart's default install
(``make demo``: release ``modelops`` in ``modelops-system``) serves the unlabelled namespace
the run makes, ``bench-serving-<time>``, with the demo's storage Secret copied into it and
a bucket of the same name for the models trained here. Both go at the end, also on failure.

1. **direct**: one version at one pod, the same wrk load (one-row predictions of a small
   scikit-learn pipeline, concurrency 8) on the Model's Service (ClusterIP, kube-proxy to
   the pod) and on the pod's own address, in interleaved rounds: the throughput ratio and
   the added median latency of the Service hop.
2. **cold**: a scikit-learn pipeline, an XGBClassifier (both saved with joblib) and the
   same model's Booster (``save_model``, .ubj) at ``minReplicas: 0``. Each wake
   starts when every version of the part is at zero (``Active=False ScaledToZero``) with no
   pod left: one request to the Model's Service, timed from sending to its 200; the last
   wake of each model is a burst of concurrent requests that must all answer 200. Where
   the time went comes from the objects' timestamps (whole seconds) and from a watch of
   the pods (when this process saw each step).
3. **scale**: a version at ``minReplicas: 1, maxReplicas: 4, targetConcurrency: 4`` under
   wrk at concurrency 16 until 4 pods are ready, then no load until it is back at 1 pod.

Every wait is bounded (``--budget``, and a bound of its own each). A whole run takes about
40 minutes, most of it the cold part (a woken version keeps its pod for 30 s before it may
go back to zero); ``--quick`` is a smoke run of a few minutes. ``--write-docs`` puts the
report into docs/benchmarks.md's ``## Serving on the cluster`` section.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import http.client
import json
import math
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import loadgen
import numpy as np
import servers
from kubernetes import client, config, watch
from kubernetes.client.exceptions import ApiException
from predictor import machine, write_docs
from workloads import Workload, train_booster, train_pipeline, train_xgboost

from modelops_contracts.serving import ACTIVATION_ANNOTATION, WOKE_HEADER
from modelops_operator import names

RESULTS = servers.REPO / "bench/results"
SECTION = "## Serving on the cluster"
GROUP, API_VERSION = "modelops.dev", "v1alpha1"
SYSTEM = "modelops-system"  # the chart's default install (make demo)
SECRET, SECRET_FROM = "modelops-storage", "modelops-demo"
PARTS = ("direct", "cold", "scale")

THROUGHPUT_TARGET = 0.95
ADDED_P50_TARGET_MS = 0.2
COLD_P50_TARGET_S = 3.0
COLD_P95_TARGET_S = 5.0

FIXED = {"minReplicas": 1, "maxReplicas": 1}
COLD = {"minReplicas": 0, "maxReplicas": 1, "idleTimeoutSeconds": 10, "scaleDownDelaySeconds": 0}
SCALE = {"minReplicas": 1, "maxReplicas": 4, "targetConcurrency": 4, "scaleDownDelaySeconds": 0}
SCALE_LOAD = 16
READY_TIMEOUT = 240.0
ASLEEP_TIMEOUT = 180.0  # idle timeout, the autoscaler's tick, the predictor's drain
ANSWER_TIMEOUT = 90.0  # above the activator's hold of 60 s: its own 504 is an answer

STEPS = {  # a wake's steps, in order: key → what it is
    "asked": "the activator asks for a wake (annotation)",
    "created": "pod created (operator, Deployment, ReplicaSet)",
    "scheduled": "pod scheduled",
    "sandbox": "pod sandbox and network ready",
    "fetch_started": "artifact fetch (init container) started",
    "fetch_done": "artifact fetch done",
    "started": "predictor container started",
    "answered": "first 200 (the activator's probe found the pod ready)",
    "ready": "pod Ready (the kubelet's readiness probe)",
}

T = TypeVar("T")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--parts", default=",".join(PARTS), help="comma-separated: " + ", ".join(PARTS)
    )
    parser.add_argument("--rounds", type=int, help="direct: interleaved rounds (default 5)")
    parser.add_argument("--duration", type=float, help="direct: seconds per cell (default 5)")
    parser.add_argument("--warmup", type=float, help="direct: warm-up seconds per cell (default 1)")
    parser.add_argument("--concurrency", type=int, default=8, help="direct: wrk connections")
    parser.add_argument("--wakes", type=int, help="cold: timed wakes per model (default 20)")
    parser.add_argument("--burst", type=int, default=50, help="cold: requests of the burst wake")
    parser.add_argument(
        "--scale-timeout",
        type=float,
        default=180.0,
        help="scale: most seconds for each of the way up and the way down",
    )
    parser.add_argument(
        "--wrk-cpu",
        default=f"0-{(os.cpu_count() or 1) - 1}",
        help="CPUs wrk runs on (default: all; the pods are not pinned)",
    )
    parser.add_argument(
        "--budget",
        type=float,
        default=90.0,
        help="minutes after which every wait gives up (default 90)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="2 rounds of 2 s and 2 wakes: a smoke run"
    )
    parser.add_argument(
        "--from-results",
        type=Path,
        metavar="RESULTS_JSON",
        help="measure nothing: render a saved run's results.json (with --write-docs, into docs)",
    )
    parser.add_argument("--write-docs", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args(argv)
    quick = args.quick
    args.rounds = args.rounds or (2 if quick else 5)
    args.duration = args.duration or (2.0 if quick else 5.0)
    args.warmup = args.warmup or 1.0
    args.wakes = args.wakes or (2 if quick else 20)
    args.parts = [p for p in args.parts.split(",") if p]
    if unknown := set(args.parts) - set(PARTS):
        parser.error(f"unknown parts {sorted(unknown)}")
    if args.write_docs and set(args.parts) != set(PARTS):
        parser.error("--write-docs needs every part (the section reports all three)")
    return args


# --- the cluster ------------------------------------------------------------------------------


def make(target: str) -> str:
    done = subprocess.run(["make", "-s", "--no-print-directory", "-C", str(servers.REPO), target],
                          capture_output=True, text=True, check=True, timeout=60)  # fmt: skip
    return done.stdout.strip()


def api_client() -> client.ApiClient:
    path = os.environ.get("MODELOPS_KUBECONFIG") or make("kubeconfig")
    api: client.ApiClient = config.new_client_from_config(config_file=path)  # type: ignore[no-untyped-call]
    return api


def s3_client() -> Any:
    import boto3
    from botocore.config import Config

    env = dict(line.split("=", 1) for line in make("s3-env").splitlines() if "=" in line)
    return boto3.client(
        "s3",
        endpoint_url=env["AWS_ENDPOINT_URL"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name=env.get("AWS_DEFAULT_REGION", "us-east-1"),
        config=Config(s3={"addressing_style": "path"}, connect_timeout=5, read_timeout=30),
    )


@dataclass
class Bench:
    """One run: where it works (namespace, bucket), its clients, and its deadline."""

    api: client.ApiClient
    s3: Any
    namespace: str
    folder: Path
    deadline: float  # time.monotonic() after which every wait gives up

    # The client's models are typed loosely (every field optional): read them as Any.
    @property
    def core(self) -> Any:
        return client.CoreV1Api(self.api)

    @property
    def custom(self) -> Any:
        return client.CustomObjectsApi(self.api)

    @property
    def apps(self) -> Any:
        return client.AppsV1Api(self.api)

    def wait(
        self, check: Callable[[], T | None], timeout: float, what: str, every: float = 0.25
    ) -> T:
        """Poll ``check`` until it returns something other than None or False."""
        end = min(time.monotonic() + timeout, self.deadline)
        while True:
            found = check()
            if found is not None and found is not False:
                return found
            if time.monotonic() > end:
                raise TimeoutError(f"gave up after {timeout:.0f}s waiting for {what}")
            time.sleep(every)

    def get(self, plural: str, name: str) -> dict[str, Any]:
        found: dict[str, Any] = self.custom.get_namespaced_custom_object(
            GROUP, API_VERSION, self.namespace, plural, name
        )
        return found

    def create(self, kind: str, name: str, spec: dict[str, Any]) -> None:
        plural = {"Model": "models", "ModelVersion": "modelversions"}[kind]
        manifest = {"apiVersion": f"{GROUP}/{API_VERSION}", "kind": kind,
                    "metadata": {"name": name}, "spec": spec}  # fmt: skip
        self.custom.create_namespaced_custom_object(
            GROUP, API_VERSION, self.namespace, plural, manifest
        )

    def pods(self, version: str, terminating: bool = True) -> list[Any]:
        found = self.core.list_namespaced_pod(
            self.namespace, label_selector=f"{names.VERSION_LABEL}={version}"
        ).items
        return [p for p in found if terminating or not p.metadata.deletion_timestamp]

    def ready_pods(self, version: str) -> list[Any]:
        return [p for p in self.pods(version, terminating=False) if is_ready(p)]

    def endpoints(self, service: str) -> list[str]:
        """The addresses the Service's Endpoints list (the operator writes them)."""
        try:
            found = self.core.read_namespaced_endpoints(service, self.namespace)
        except ApiException as err:
            if err.status == 404:
                return []
            raise
        return sorted(a.ip for s in found.subsets or [] for a in s.addresses or [])

    def service_ip(self, service: str) -> str:
        return str(self.core.read_namespaced_service(service, self.namespace).spec.cluster_ip)


def is_ready(pod: Any) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or [])


def condition(obj: dict[str, Any], type_: str) -> dict[str, Any]:
    found = (obj.get("status") or {}).get("conditions") or []
    return next((c for c in found if c["type"] == type_), {})


def check_install(bench: Bench) -> dict[str, str]:
    """The chart's default install is up; the images its pods run."""
    apps, core = bench.apps, bench.core
    images = {}
    for name in ("modelops-operator", "modelops-activator"):
        try:
            deployment = apps.read_namespaced_deployment(name, SYSTEM)
        except ApiException as err:
            raise SystemExit(f"no {SYSTEM}/{name}: install the chart first (make demo)") from err
        if not deployment.status.available_replicas:
            raise SystemExit(f"{SYSTEM}/{name} has no available pod")
        pods = core.list_namespaced_pod(SYSTEM, label_selector=f"app.kubernetes.io/name={name}")
        ids = {
            s.image_id.split(":")[-1][:12]
            for p in pods.items
            for s in p.status.container_statuses or []
        }
        images[name] = ", ".join(sorted(ids))
    return images


def activator_ips(bench: Bench) -> set[str]:
    pods = bench.core.list_namespaced_pod(
        SYSTEM, label_selector="app.kubernetes.io/name=modelops-activator"
    )
    return {p.status.pod_ip for p in pods.items if p.status.pod_ip}


def make_namespace(bench: Bench) -> None:
    """The run's namespace (no instance label: the default install serves it), with the
    demo's storage Secret, and the bucket of the same name."""
    core = bench.core
    try:
        secret = core.read_namespaced_secret(SECRET, SECRET_FROM)
    except ApiException as err:
        raise SystemExit(f"no Secret {SECRET_FROM}/{SECRET} to copy (make demo makes it)") from err
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=bench.namespace)))
    core.create_namespaced_secret(
        bench.namespace,
        client.V1Secret(
            metadata=client.V1ObjectMeta(name=SECRET), type=secret.type, data=secret.data
        ),
    )
    bench.s3.create_bucket(Bucket=bench.namespace)


def clean_up(bench: Bench) -> None:
    """Delete the namespace (the operator lets its versions go) and the bucket; bounded."""
    with contextlib.suppress(ApiException):
        bench.core.delete_namespace(bench.namespace)
    end = time.monotonic() + 180
    while time.monotonic() < end:
        try:
            bench.core.read_namespace(bench.namespace)
        except ApiException as err:
            if err.status == 404:
                break
        time.sleep(1)
    else:
        print(f"namespace {bench.namespace} is still there after 180 s", file=sys.stderr)
    with contextlib.suppress(Exception):
        listed = bench.s3.list_objects_v2(Bucket=bench.namespace).get("Contents", [])
        for item in listed:
            bench.s3.delete_object(Bucket=bench.namespace, Key=item["Key"])
        bench.s3.delete_bucket(Bucket=bench.namespace)


# --- models -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """A Model with one version, and how to ask it for one row's prediction."""

    model: str
    version: str
    saved_as: str  # the artifact's format, as the report names the model
    host: str  # the Host a client inside the cluster sends (<svc>.<ns>.svc.cluster.local)
    body: bytes
    expected: list[Any]

    @property
    def path(self) -> str:
        return f"/v1/models/{self.model}:predict"


def deploy(bench: Bench, workload: Workload, model: str, predictor: dict[str, Any]) -> Target:
    """Upload the model and its metadata.json, apply a Model and its one version, and wait
    until the version is Ready and the Model serves it."""
    from modelops_runtime.artifacts import write_metadata
    from modelops_runtime.storage import sha256_of

    prefix = f"{model}/v1"
    key = f"{prefix}/{workload.ours_artifact.name}"
    bench.s3.upload_file(str(workload.ours_artifact), bench.namespace, key)
    with tempfile.TemporaryDirectory() as tmp:
        metadata = write_metadata(Path(tmp), workload.framework)
        bench.s3.upload_file(str(metadata), bench.namespace, f"{prefix}/metadata.json")
    version = f"{model}-v1"
    sha256 = sha256_of(workload.ours_artifact)
    artifact = {"uri": f"s3://{bench.namespace}/{prefix}/", "sha256": sha256}
    bench.create("Model", model, {})
    bench.create("ModelVersion", version,
                 {"model": model, "artifact": artifact, "predictor": predictor})  # fmt: skip

    def ready() -> bool:
        return condition(bench.get("modelversions", version), "Ready").get("status") == "True"

    def serving() -> bool:
        status = bench.get("models", model).get("status") or {}
        return bool(status.get("servingVersion") == version)

    bench.wait(ready, READY_TIMEOUT, f"{version} Ready", every=1.0)
    bench.wait(serving, 60, f"Model {model} serving {version}", every=0.5)
    return Target(
        model, version, workload.ours_format,
        host=f"{names.model_service(model)}.{bench.namespace}.svc.cluster.local",
        body=json.dumps({"instances": workload.batch(1).tolist()}).encode(),
        expected=workload.expected(1).tolist(),
    )  # fmt: skip


def undeploy(bench: Bench, target: Target) -> None:
    """Delete the Model and its version and wait for their pods to go (the next part
    measures on a quiet node)."""
    for plural, name in (("modelversions", target.version), ("models", target.model)):
        with contextlib.suppress(ApiException):
            bench.custom.delete_namespaced_custom_object(
                GROUP, API_VERSION, bench.namespace, plural, name
            )
    bench.wait(lambda: not bench.pods(target.version), 120, f"{target.version}'s pods gone", 1.0)


def same_predictions(got: Any, target: Target) -> bool:
    """The served predictions are the local ones: labels exactly, probabilities to float32's
    precision (a Booster answers float32, written as its shortest decimal)."""
    try:
        served, local = np.asarray(got, dtype=float), np.asarray(target.expected, dtype=float)
    except (TypeError, ValueError):
        return False
    return served.shape == local.shape and bool(np.allclose(served, local, rtol=1e-6))


@dataclass(frozen=True)
class Answer:
    status: int  # 0: no HTTP answer
    body: str
    held_s: float | None  # X-Modelops-Cold-Start: seconds the activator held it
    done: float  # time.time() when the answer was read


def send(ip: str, port: int, target: Target) -> Answer:
    """One request, a new connection, no retry: what it got is what counts."""
    conn = http.client.HTTPConnection(ip, port, timeout=ANSWER_TIMEOUT)
    try:
        conn.request(
            "POST",
            target.path,
            target.body,
            {"Host": target.host, "Content-Type": "application/json"},
        )
        response = conn.getresponse()
        body = response.read().decode("utf-8", "replace")
        held = response.getheader(WOKE_HEADER)
        status = response.status
        if status == 200 and not same_predictions(json.loads(body).get("predictions"), target):
            status, body = -1, f"wrong predictions (want {target.expected}): {body[:200]}"
        return Answer(status, body, float(held) if held else None, time.time())
    except (OSError, http.client.HTTPException) as err:
        return Answer(0, f"{type(err).__name__}: {err}", None, time.time())
    finally:
        conn.close()


def answering(ip: str, port: int, target: Target) -> float:
    """Wait (bounded) for a 200 from an address: kube-proxy follows a Service's Endpoints
    a moment after the API server has them. How long it took."""
    start, first = time.monotonic(), None
    while (answer := send(ip, port, target)).status != 200:
        first = first or answer
        if time.monotonic() - start > 60:
            raise TimeoutError(
                f"{ip}:{port} answered {answer.status} for 60 s: {answer.body[:200]}"
            )
        time.sleep(0.1)
    took = time.monotonic() - start
    if first:
        print(f"{ip}:{port} answered 200 after {took:.2f} s (before: {first.status} "
              f"{first.body[:120]})", flush=True)  # fmt: skip
    return took


# --- 1. direct --------------------------------------------------------------------------------


def direct_part(
    args: argparse.Namespace, bench: Bench, wrk: str, workload: Workload
) -> dict[str, Any]:
    target = deploy(bench, workload, "pipeline", FIXED)
    pod = bench.wait(lambda: next(iter(bench.ready_pods(target.version)), None), 120, "a ready pod")
    pod_ip = str(pod.status.pod_ip)
    service = names.model_service(target.model)
    bench.wait(lambda: bench.endpoints(service) == [pod_ip], 60, f"Service {service} → the pod")
    paths = {
        "service": (bench.service_ip(service), names.SERVICE_PORT),
        "pod": (pod_ip, names.HTTP_PORT),
    }
    routed = {path: answering(ip, port, target) for path, (ip, port) in paths.items()}
    body = bench.folder / "direct-body.json"
    body.write_bytes(target.body)
    host = ("-H", f"Host: {target.host}")
    cells: list[dict[str, Any]] = []
    for number in range(1, args.rounds + 1):
        order = list(paths) if number % 2 else list(reversed(paths))  # either may go first
        for path in order:
            ip, port = paths[path]
            url = f"http://{ip}:{port}{target.path}"
            loadgen.run(wrk, url, body, args.concurrency, args.warmup, host, args.wrk_cpu)
            result = loadgen.run(wrk, url, body, args.concurrency, args.duration, host,
                                 args.wrk_cpu)  # fmt: skip
            cells.append({"round": number, "path": path, "rps": result.rps, **asdict(result)})
            print(f"direct round {number} {path:<7} {result.rps:8,.0f} req/s  "
                  f"p50 {result.p50_ms:6.2f} ms  p99 {result.p99_ms:6.2f} ms  "
                  f"errors {result.errors}", flush=True)  # fmt: skip
    still = bench.endpoints(service) == [pod_ip]
    restarts = sum(
        s.restart_count
        for p in bench.pods(target.version)
        for s in p.status.container_statuses or []
    )
    undeploy(bench, target)
    return {"cells": cells, "serve_mode_throughout": still, "restarts": restarts,
            "first_200_s": routed}  # fmt: skip


# --- 2. cold ----------------------------------------------------------------------------------


def reached(pod: Any) -> set[str]:
    """The steps of STEPS a pod object shows it has reached."""
    steps = {"created"}
    if pod.spec.node_name:
        steps.add("scheduled")
    if pod.status.pod_ip:
        steps.add("sandbox")
    for status in pod.status.init_container_statuses or []:
        if status.state.running or status.state.terminated:
            steps.add("fetch_started")
        if status.state.terminated:
            steps.add("fetch_done")
    if any(s.state.running for s in pod.status.container_statuses or []):
        steps.add("started")
    if is_ready(pod):
        steps.add("ready")
    return steps


def stamped(pod: Any) -> dict[str, float]:
    """The steps' times from the pod's own timestamps (whole seconds, truncated)."""
    times = {"created": pod.metadata.creation_timestamp.timestamp()}
    by_type = {
        "PodScheduled": "scheduled",
        "PodReadyToStartContainers": "sandbox",
        "Ready": "ready",
    }
    for cond in pod.status.conditions or []:
        if cond.type in by_type and cond.status == "True" and cond.last_transition_time:
            times[by_type[cond.type]] = cond.last_transition_time.timestamp()
    for status in pod.status.init_container_statuses or []:
        if status.state.terminated:
            times["fetch_started"] = status.state.terminated.started_at.timestamp()
            times["fetch_done"] = status.state.terminated.finished_at.timestamp()
    for status in pod.status.container_statuses or []:
        if status.state.running and status.state.running.started_at:
            times["started"] = status.state.running.started_at.timestamp()
    return times


class PodWatch:
    """When this process first saw each step of each pod of the namespace, by the host's
    clock (the cluster's too: this machine is its node), to the millisecond."""

    def __init__(self, api: client.ApiClient, namespace: str) -> None:
        self._core: Any = client.CoreV1Api(api)
        self._namespace = namespace
        self._seen: dict[str, dict[str, float]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            stream = watch.Watch()  # type: ignore[no-untyped-call]
            try:
                for event in stream.stream(  # type: ignore[no-untyped-call]
                    self._core.list_namespaced_pod, self._namespace, timeout_seconds=10
                ):
                    now = time.time()
                    pod = event["object"]
                    with self._lock:
                        seen = self._seen.setdefault(pod.metadata.name, {})
                        for step in reached(pod):
                            seen.setdefault(step, now)
                    if self._stop.is_set():
                        stream.stop()  # type: ignore[no-untyped-call]
            except Exception:  # a broken stream: list and watch again
                self._stop.wait(0.5)

    def seen(self, pod: str) -> dict[str, float]:
        with self._lock:
            return dict(self._seen.get(pod, {}))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=15)


@dataclass
class Wake:
    model: str
    number: int
    requests: int
    ok: int  # answered 200 with the right predictions
    first_s: float | None  # sent → first 200
    last_s: float | None  # sent → last 200
    held_s: float | None  # what the first 200's X-Modelops-Cold-Start said
    failure: str  # the first other answer
    endpoints: str  # what the Model's Service pointed at when the request was sent
    stamped: dict[str, float] = field(default_factory=dict)  # step → s after sending
    seen: dict[str, float] = field(default_factory=dict)


def asleep(bench: Bench, version: str) -> bool:
    active = condition(bench.get("modelversions", version), "Active")
    return (
        active.get("status") == "False"
        and active.get("reason") == "ScaledToZero"
        and not bench.pods(version)
    )


def wake(
    bench: Bench, watcher: PodWatch, target: Target, number: int, burst: int, activators: set[str]
) -> Wake:
    service = names.model_service(target.model)
    ip, pointed = bench.service_ip(service), bench.endpoints(service)
    endpoints = (
        "activator" if pointed and set(pointed) <= activators else ",".join(pointed) or "none"
    )
    sent = time.time()
    with ThreadPoolExecutor(burst) as pool:
        answers = list(pool.map(lambda _: send(ip, names.SERVICE_PORT, target), range(burst)))
    ok = sorted((a for a in answers if a.status == 200), key=lambda a: a.done)
    failed = next((a for a in answers if a.status != 200), None)
    result = Wake(
        model=target.model,
        number=number,
        requests=burst,
        ok=len(ok),
        first_s=ok[0].done - sent if ok else None,
        last_s=ok[-1].done - sent if ok else None,
        held_s=ok[0].held_s if ok else None,
        failure=f"{failed.status}: {failed.body[:300]}" if failed else "",
        endpoints=endpoints,
    )
    result.stamped, result.seen = timings(bench, watcher, target.version, sent)
    for both in (result.stamped, result.seen):
        if result.first_s is not None:
            both["answered"] = round(result.first_s, 3)
    return result


def timings(
    bench: Bench, watcher: PodWatch, version: str, sent: float
) -> tuple[dict[str, float], dict[str, float]]:
    """Seconds from ``sent`` to each step of a wake: by the objects' own timestamps, and as
    the watch saw them (the pod's Ready is waited for, bounded: the kubelet reports it
    after the activator's own probe may have found the pod ready)."""
    pods = bench.pods(version)
    if not pods:
        return {}, {}
    name = max(pods, key=lambda p: p.metadata.creation_timestamp).metadata.name

    def ready_pod() -> Any:
        return next(
            (p for p in bench.pods(version) if p.metadata.name == name and is_ready(p)), None
        )

    try:
        pod = bench.wait(ready_pod, 30, f"pod {name} Ready")
    except TimeoutError:
        pod = next((p for p in bench.pods(version) if p.metadata.name == name), pods[0])
    times, seen = stamped(pod), watcher.seen(name)
    annotations = bench.get("modelversions", version)["metadata"].get("annotations") or {}
    with contextlib.suppress(ValueError):
        raw = str(annotations.get(ACTIVATION_ANNOTATION, ""))
        asked = datetime.datetime.fromisoformat(raw.replace("Z", "+00:00")).timestamp()
        if asked > sent - 1:  # this wake's, not an earlier one's; to the microsecond
            times["asked"] = seen["asked"] = asked
    return (
        {k: round(v - sent, 3) for k, v in times.items()},
        {k: round(v - sent, 3) for k, v in seen.items()},
    )


def cold_part(args: argparse.Namespace, bench: Bench, workloads: list[Workload]) -> dict[str, Any]:
    targets = [deploy(bench, w, f"{w.name}-cold", COLD) for w in workloads]
    activators = activator_ips(bench)
    watcher = PodWatch(api_client(), bench.namespace)  # a client of its own
    wakes: list[Wake] = []
    try:
        for number in range(1, args.wakes + 2):  # the last one is the burst
            for target in targets:
                started = time.monotonic()
                bench.wait(
                    lambda: all(asleep(bench, t.version) for t in targets),
                    ASLEEP_TIMEOUT,
                    "every version at zero with no pod",
                    every=0.5,
                )
                burst = args.burst if number == args.wakes + 1 else 1
                done = wake(bench, watcher, target, number, burst, activators)
                wakes.append(done)
                print(describe(done, time.monotonic() - started), flush=True)
    finally:
        watcher.stop()
    for target in targets:
        undeploy(bench, target)
    return {"wakes": [asdict(w) for w in wakes], "models": {t.model: t.saved_as for t in targets}}


def describe(w: Wake, waited: float) -> str:
    kind = f"burst of {w.requests}" if w.requests > 1 else "wake"
    head = f"cold {w.model:<14} {kind} {w.number:>2} (after {waited:4.1f} s asleep-wait): "
    if w.ok < w.requests:
        head += f"{w.ok}/{w.requests} answered 200; first other answer {w.failure} "
    if w.first_s is None:
        return head + f"(Service → {w.endpoints})"
    steps = " ".join(f"{k} {w.seen[k]:+.2f}" for k in STEPS if k in w.seen)
    return head + f"first 200 after {w.first_s:.2f} s (held {w.held_s or 0:.2f} s) | {steps}"


# --- 3. scale ---------------------------------------------------------------------------------


Moment = tuple[float, int, int, int]  # (s since the phase began, desired, ready, pods)


def follow(
    bench: Bench, version: str, until: Callable[[int, int, int], bool], timeout: float, label: str
) -> tuple[float | None, list[Moment]]:
    """Watch the version's Deployment and pods until ``until(desired, ready, pods)``; the
    seconds it took (None: not within ``timeout``) and every change seen on the way."""
    deployment = names.predictor(version)
    start, timeline = time.time(), list[Moment]()
    end = time.monotonic() + min(timeout, bench.deadline - time.monotonic())
    while time.monotonic() < end:
        desired = int(
            bench.apps.read_namespaced_deployment(deployment, bench.namespace).spec.replicas or 0
        )
        state = (desired, len(bench.ready_pods(version)), len(bench.pods(version)))
        if not timeline or timeline[-1][1:] != state:
            timeline.append((round(time.time() - start, 2), *state))
            print(
                f"scale {label} +{timeline[-1][0]:6.1f} s: desired {state[0]}, ready {state[1]}, "
                f"pods {state[2]}",
                flush=True,
            )
        if until(*state):
            return time.time() - start, timeline
        time.sleep(0.25)
    return None, timeline


def scale_part(
    args: argparse.Namespace, bench: Bench, wrk: str, workload: Workload
) -> dict[str, Any]:
    target = deploy(bench, workload, "pipeline-scale", SCALE)
    service = names.model_service(target.model)
    pod = bench.wait(lambda: next(iter(bench.ready_pods(target.version)), None), 120, "a ready pod")
    bench.wait(lambda: bench.endpoints(service) == [pod.status.pod_ip], 60, f"{service} → the pod")
    ip = bench.service_ip(service)
    answering(ip, names.SERVICE_PORT, target)
    body = bench.folder / "scale-body.json"
    body.write_bytes(target.body)
    url = f"http://{ip}:{names.SERVICE_PORT}{target.path}"
    host = ("-H", f"Host: {target.host}")
    process = loadgen.start(wrk, url, body, SCALE_LOAD, args.scale_timeout, host, args.wrk_cpu)
    try:
        up, rising = follow(
            bench, target.version, lambda _, ready, __: ready >= 4, args.scale_timeout, "under load"
        )
    finally:
        load = loadgen.stop(process)
    down, falling = follow(
        bench,
        target.version,
        lambda desired, _, pods: desired == 1 and pods == 1,
        args.scale_timeout,
        "after the load",
    )
    undeploy(bench, target)
    return {
        "load": asdict(load) if load else None,
        "desired_4_s": next((t for t, desired, _, _ in rising if desired >= 4), None),
        "ready_4_s": up,
        "desired_1_s": next((t for t, desired, _, _ in falling if desired == 1), None),
        "one_pod_s": down,
        "rising": rising,
        "falling": falling,
    }


# --- the report -------------------------------------------------------------------------------


@dataclass
class Verdicts:
    rows: list[tuple[str, bool, str]] = field(default_factory=list)

    def add(self, target: str, ok: bool, measured: str) -> None:
        self.rows.append((target, ok, measured))

    def markdown(self) -> list[str]:
        return ["| target | verdict | measured |", "|---|---|---|"] + [
            f"| {target} | {'PASS' if ok else 'MISS'} | {measured} |"
            for target, ok, measured in self.rows
        ]


def nearest_rank(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def row(*cells: object) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def direct_report(found: dict[str, Any], verdicts: Verdicts) -> list[str]:
    cells = found["cells"]
    lines = [
        "### The Service hop",
        "",
        row("round", "via the Service req/s", "to the pod req/s", "ratio",
            "via the Service p50 ms", "to the pod p50 ms", "added p50 ms", "errors"),
        "|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]  # fmt: skip
    ratios, added = [], []
    for number in sorted({c["round"] for c in cells}):
        s = next(c for c in cells if c["round"] == number and c["path"] == "service")
        p = next(c for c in cells if c["round"] == number and c["path"] == "pod")
        ratios.append(s["rps"] / p["rps"] if p["rps"] else 0.0)
        added.append(s["p50_ms"] - p["p50_ms"])
        lines.append(row(number, f"{s['rps']:,.0f}", f"{p['rps']:,.0f}", f"{ratios[-1]:.3f}",
                         f"{s['p50_ms']:.2f}", f"{p['p50_ms']:.2f}", f"{added[-1]:+.2f}",
                         s["errors"] + p["errors"]))  # fmt: skip
    ratio, extra = statistics.median(ratios), statistics.median(added)
    lines.append(row("median", "", "", f"**{ratio:.3f}**", "", "", f"**{extra:+.2f}**", ""))
    late = found["first_200_s"]["service"]
    if late > 0.5:
        lines += ["", f"The Service answered its first 200 {late:.1f} s after its Endpoints "
                  "listed the pod (kube-proxy had no route to it until then)."]  # fmt: skip
    if not found["serve_mode_throughout"] or found["restarts"]:
        lines += ["", "The Service did not stay on the pod throughout (serve mode: "
                  f"{found['serve_mode_throughout']}), or the pod restarted "
                  f"({found['restarts']} restarts)."]  # fmt: skip
    verdicts.add(f"throughput via the Model's Service ≥ {THROUGHPUT_TARGET:.2f} of the pod's",
                 ratio >= THROUGHPUT_TARGET, f"{ratio:.3f}")  # fmt: skip
    verdicts.add(f"added p50 via the Service ≤ {ADDED_P50_TARGET_MS:g} ms",
                 extra <= ADDED_P50_TARGET_MS, f"{extra:+.2f} ms")  # fmt: skip
    return lines


def cold_report(found: dict[str, Any], verdicts: Verdicts) -> list[str]:
    wakes = [Wake(**w) for w in found["wakes"]]
    models = list(found["models"])
    timed = {m: [w for w in wakes if w.model == m and w.requests == 1] for m in models}
    lines = [
        "### Cold starts",
        "",
        "Each wake begins with every version of the part at zero and no pod left; one request "
        "to the Model's Service is timed from sending to its 200.",
        "",
        row("model", "wakes", "answered 200", "p50 s", "p95 s", "max s",
            "held by the activator, p50 s", "the Service pointed at"),
        "|---|--:|--:|--:|--:|--:|--:|---|",
    ]  # fmt: skip
    for model in models:
        took = [w.first_s for w in timed[model] if w.ok and w.first_s is not None]
        held = [w.held_s for w in timed[model] if w.held_s is not None]
        p50 = statistics.median(took) if took else None
        p95 = nearest_rank(took, 0.95) if took else None
        lines.append(row(f"{model} ({found['models'][model]})", len(timed[model]), len(took),
                         seconds(p50), seconds(p95), seconds(max(took, default=None)),
                         seconds(statistics.median(held) if held else None),
                         ", ".join(sorted({w.endpoints for w in timed[model]}))))  # fmt: skip
        n = len(timed[model])
        verdicts.add(f"{model}: every wake answered 200", len(took) == n, f"{len(took)}/{n}")
        verdicts.add(f"{model}: cold start p50 ≤ {COLD_P50_TARGET_S:g} s",
                     p50 is not None and p50 <= COLD_P50_TARGET_S, f"{seconds(p50)} s")  # fmt: skip
        verdicts.add(f"{model}: cold start p95 ≤ {COLD_P95_TARGET_S:g} s",
                     p95 is not None and p95 <= COLD_P95_TARGET_S, f"{seconds(p95)} s")  # fmt: skip
    lines += ["", row("burst wake", "requests", "answered 200", "first 200 s", "last 200 s",
                      "first other answer"), "|---|--:|--:|--:|--:|---|"]  # fmt: skip
    for w in (w for w in wakes if w.requests > 1):
        lines.append(row(w.model, w.requests, w.ok, seconds(w.first_s), seconds(w.last_s),
                         w.failure.replace("|", "/")[:120] or "-"))  # fmt: skip
        verdicts.add(f"{w.model}: a burst of {w.requests} on a wake all answered 200",
                     w.ok == w.requests, f"{w.ok}/{w.requests}")  # fmt: skip
    lines += [
        "",
        "Where a wake's time goes: median seconds after the request was sent, over the timed "
        "wakes, from the objects' own timestamps (whole seconds, truncated, so up to 1 s early) "
        "and as a watch of the pods saw each step (to the millisecond); the wake annotation "
        "and the answer are exact in both.",
        "",
        row("step", *(f"{m}: {source}" for m in models for source in ("timestamps", "watch"))),
        "|---|" + "--:|--:|" * len(models),
    ]
    for key, label in STEPS.items():
        medians = []
        for model in models:
            for source in ("stamped", "seen"):
                values = [
                    getattr(w, source)[key] for w in timed[model] if key in getattr(w, source)
                ]
                medians.append(f"{statistics.median(values):+.2f}" if values else "-")
        lines.append(row(label, *medians))
    return lines


def scale_report(found: dict[str, Any], verdicts: Verdicts, timeout: float) -> list[str]:
    load = found["load"] or {}
    rps = load["requests"] / load["seconds"] if load.get("seconds") else 0.0
    lines = [
        "### An autoscale step",
        "",
        f"`{json.dumps(SCALE)}`; wrk at concurrency {SCALE_LOAD} on the Model's Service (its "
        "keep-alive connections stay on the pods they first reached) until 4 pods were ready, "
        "then no load.",
        "",
        row("load → 4 desired s", "load → 4 ready s", "load stopped → 1 desired s",
            "load stopped → 1 pod s", "load req/s", "load errors"),
        "|--:|--:|--:|--:|--:|--:|",
        row(seconds(found["desired_4_s"]), seconds(found["ready_4_s"]),
            seconds(found["desired_1_s"]), seconds(found["one_pod_s"]), f"{rps:,.0f}",
            load.get("errors", "-")),
    ]  # fmt: skip
    verdicts.add(f"4 pods ready under load (within {timeout:g} s)",
                 found["ready_4_s"] is not None, f"{seconds(found['ready_4_s'])} s")  # fmt: skip
    verdicts.add(f"back to 1 pod after the load (within {timeout:g} s)",
                 found["one_pod_s"] is not None, f"{seconds(found['one_pod_s'])} s")  # fmt: skip
    return lines


def report(results: dict[str, Any]) -> str:
    info, method = results["machine"], results["method"]
    images = "; ".join(f"{name} image {ids}" for name, ids in results["images"].items())
    lines = [
        f"{info['cpu']}, {info['cores']} cores, {info['memory']}, Python {info['python']}, "
        f"{info['date']}, commit {info['commit']}; {images}. The local cluster (this machine is "
        f"its node) and the chart's default install; wrk and the other clients run on the host "
        f"(CPUs {method['wrk_cpu']}) and send to the cluster's own addresses.",
        "",
    ]
    if "direct" in method["parts"]:
        lines[0] += (
            f" The Service hop: one-row predictions of a scikit-learn pipeline, concurrency "
            f"{method['concurrency']}, {method['rounds']} interleaved rounds of "
            f"{method['duration']:g} s per path (after {method['warmup']:g} s of warm-up)."
        )
    verdicts = Verdicts()
    for part in method["parts"]:
        found = results.get(part)
        if found is None:
            continue
        if "error" in found:
            lines += [f"### {part}", "", f"Stopped: {found['error']}", ""]
            verdicts.add(f"{part}: ran to its end", False, found["error"][:80])
            continue
        if part == "direct":
            lines += direct_report(found, verdicts)
        elif part == "cold":
            lines += cold_report(found, verdicts)
        else:
            lines += scale_report(found, verdicts, method["scale_timeout"])
        lines.append("")
    return "\n".join([*lines, "### Targets", "", *verdicts.markdown()]) + "\n"


# --- the run ----------------------------------------------------------------------------------


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Run the parts in a namespace and bucket of their own, deleted at the end."""
    wrk = loadgen.ensure_wrk()
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    folder = RESULTS / f"serving-{stamp}"
    folder.mkdir(parents=True, exist_ok=True)
    print(f"results in {folder}", flush=True)
    deadline = time.monotonic() + args.budget * 60
    bench = Bench(api_client(), s3_client(), f"bench-serving-{stamp}", folder, deadline)
    kept = ("parts", "rounds", "duration", "warmup", "concurrency", "wakes", "burst",
            "scale_timeout", "wrk_cpu")  # fmt: skip
    method = {k: getattr(args, k) for k in kept}
    results: dict[str, Any] = {"machine": machine(), "method": method,
                               "images": check_install(bench)}  # fmt: skip
    pipeline = train_pipeline(folder / "models/pipeline")
    xgb = train_xgboost(folder / "models/xgb")
    booster = train_booster(folder / "models/booster")
    print(f"namespace and bucket {bench.namespace}", flush=True)
    try:
        make_namespace(bench)
        for part in args.parts:
            try:
                if part == "direct":
                    results[part] = direct_part(args, bench, wrk, pipeline)
                elif part == "cold":
                    results[part] = cold_part(args, bench, [pipeline, xgb, booster])
                else:
                    results[part] = scale_part(args, bench, wrk, pipeline)
            except (TimeoutError, ApiException) as err:
                results[part] = {"error": f"{type(err).__name__}: {err}".splitlines()[0]}
                print(f"{part} stopped: {results[part]['error']}", flush=True)
    finally:
        (folder / "results.json").write_text(json.dumps(results, indent=2))
        print(f"deleting namespace and bucket {bench.namespace}", flush=True)
        clean_up(bench)
    return results


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so the clean-up still runs
    saved = args.from_results
    results = json.loads(saved.read_text()) if saved else measure(args)
    text = report(results)
    print()
    print(text)
    if args.write_docs:
        if set(results["method"]["parts"]) != set(PARTS):
            raise SystemExit("--write-docs needs a run of every part (the section reports all)")
        write_docs(f"{SECTION}\n\nMeasured by `make bench BENCH=serving`; reproduce with "
                   f"`make bench BENCH=serving BENCH_ARGS=--write-docs`.\n\n{text}",
                   section=SECTION)  # fmt: skip
        print("wrote docs/benchmarks.md")
    return 1 if any("error" in results.get(part, {}) for part in PARTS) else 0


if __name__ == "__main__":
    sys.exit(main())
