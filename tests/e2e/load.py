"""Steady load on a Service of the test's own cluster, the way an in-cluster client sends
it: to the Service's address, with the Host its DNS name gives, one new connection per
request and no retry, so that every failure counts."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from tests.e2e.conftest import Cluster
from tests.e2e.kube import wait_for


@dataclass(frozen=True)
class Answer:
    status: int  # 0: no HTTP answer at all
    version: str  # model_version of a V2 answer
    headers: dict[str, str]
    body: str
    sent: float  # time.monotonic() when it was sent


def address(cluster: Cluster, namespace: str, service: str) -> str:
    """The Service's cluster IP, once the Service and its endpoints exist."""

    def found() -> str | None:
        try:
            ip = cluster.core.read_namespaced_service(service, namespace).spec.cluster_ip
            slices = client.DiscoveryV1Api(cluster.api).list_namespaced_endpoint_slice(
                namespace, label_selector=f"kubernetes.io/service-name={service}"
            )
        except ApiException as err:
            if err.status == 404:
                return None
            raise
        addresses = [a for s in slices.items for e in s.endpoints or [] for a in e.addresses]
        return str(ip) if addresses and _connects(str(ip)) else None

    return wait_for(found, timeout=60, what=f"Service {service} with endpoints")


def _connects(ip: str) -> bool:
    """Has kube-proxy programmed the Service's endpoints? Until it has, it rejects
    connections to a Service it knows without endpoints ("no route to host")."""
    try:
        socket.create_connection((ip, 80), timeout=5).close()
    except OSError:
        return False
    return True


def infer_body(rows: list[list[float]]) -> bytes:
    tensor = {"name": "input-0", "datatype": "FP64", "shape": [len(rows), len(rows[0])],
              "data": [x for row in rows for x in row]}  # fmt: skip
    return json.dumps({"inputs": [tensor]}).encode()


def send(
    ip: str, host: str, model: str, rows: list[list[float]],
    headers: dict[str, str] | None = None, timeout: float = 90.0,
) -> Answer:  # fmt: skip
    """One V2 infer request; a connection or protocol failure is an Answer with status 0."""
    sent = time.monotonic()
    conn = http.client.HTTPConnection(ip, 80, timeout=timeout)
    try:
        sent_headers = {"Host": host, "Content-Type": "application/json", **(headers or {})}
        conn.request("POST", f"/v2/models/{model}/infer", infer_body(rows), sent_headers)
        response = conn.getresponse()
        body = response.read().decode("utf-8", "replace")
        version = ""
        if response.status == 200:
            version = str(json.loads(body).get("model_version", ""))
        return Answer(response.status, version, dict(response.getheaders()), body, sent)
    except (OSError, http.client.HTTPException) as err:
        return Answer(0, "", {}, f"{type(err).__name__}: {err}", sent)
    finally:
        conn.close()


@dataclass
class Load:
    """``concurrency`` clients sending one request after another until stopped."""

    ip: str
    host: str
    model: str
    rows: list[list[float]]
    concurrency: int = 8
    headers: dict[str, str] = field(default_factory=dict)
    answers: list[Answer] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __enter__(self) -> Load:
        for _ in range(self.concurrency):
            thread = threading.Thread(target=self._client, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=120)

    def _client(self) -> None:
        while not self._stop.is_set():
            answer = send(self.ip, self.host, self.model, self.rows, self.headers)
            with self._lock:
                self.answers.append(answer)

    def since(self, moment: float) -> list[Answer]:
        with self._lock:
            return [a for a in self.answers if a.sent >= moment]

    def failures(self) -> list[Answer]:
        with self._lock:
            return [a for a in self.answers if a.status != 200]

    def versions(self) -> Counter[str]:
        with self._lock:
            return Counter(a.version for a in self.answers)


def service_host(service: str, namespace: str) -> str:
    return f"{service}.{namespace}.svc.cluster.local"


def pods_of(
    cluster: Cluster, namespace: str, version: str, terminating: bool = False
) -> list[client.V1Pod]:
    """The version's pods; those being deleted (still draining) too if ``terminating``."""
    found = cluster.core.list_namespaced_pod(
        namespace, label_selector=f"modelops.dev/version={version}"
    )
    return [p for p in found.items if terminating or not p.metadata.deletion_timestamp]


def under_way(load: Load, answers: int = 100) -> None:
    """The load has had this many answers (any: a failure counts, and is asserted later)."""
    wait_for(lambda: len(load.answers) >= answers, timeout=60, what="the load under way")


def answered_by(load: Load, version: str, since: float, answers: int = 150) -> None:
    """This many answers from ``version`` to requests sent after ``since``: the change
    before it has settled under the load."""
    wait_for(lambda: sum(a.version == version for a in load.since(since)) >= answers,
             timeout=60, what=f"{answers} answers from {version}")  # fmt: skip
