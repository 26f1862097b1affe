"""A real Prometheus (``make prometheus`` builds it) run as a process on this machine,
scraping the test cluster's pods the way docs/monitoring.md tells users to: the scrape
job of examples/monitoring/prometheus.yaml, discovering pods through the API server with
the test cluster's kubeconfig (this machine reaches pod IPs directly)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.e2e.conftest import REPO_ROOT, _unavailable
from tests.e2e.kube import wait_for
from tests.ports import free_port

EXAMPLE_CONFIG = REPO_ROOT / "examples" / "monitoring" / "prometheus.yaml"
LIFETIME_SECONDS = 1200
"""The process ends by itself after this, should the test's teardown never run."""


def prometheus_binary() -> Path:
    named = os.environ.get("MODELOPS_PROMETHEUS")
    cached = sorted(Path.home().glob(".cache/modelops/prometheus-*/prometheus"))
    found = [Path(named)] if named else cached
    if not found or not found[-1].is_file():
        _unavailable("no Prometheus binary (make prometheus)")
    return found[-1]


def config(kubeconfig: Path, namespaces: list[str], rules: Path, interval: str) -> dict[str, Any]:
    """The example's configuration, scraping and evaluating every ``interval``, its pod
    discovery through ``kubeconfig`` limited to ``namespaces``, loading ``rules``."""
    found: dict[str, Any] = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    found["global"] = {"scrape_interval": interval, "evaluation_interval": interval}
    found["rule_files"] = [str(rules)]
    for job in found["scrape_configs"]:
        for discovery in job["kubernetes_sd_configs"]:
            discovery["kubeconfig_file"] = str(kubeconfig)
            discovery["namespaces"] = {"names": namespaces}
    return found


@dataclass(frozen=True)
class Prometheus:
    url: str

    def _get(self, path: str, **params: str) -> Any:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        with urllib.request.urlopen(f"{self.url}{path}{query}", timeout=30) as answer:
            body = json.loads(answer.read())
        if body.get("status") != "success":
            raise AssertionError(f"{path} {params}: {body}")
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        """The series an instant query returns now."""
        data = self._get("/api/v1/query", query=expr)
        return list(data["result"])

    def rule_groups(self) -> list[dict[str, Any]]:
        return list(self._get("/api/v1/rules")["groups"])

    def alerts(self) -> list[dict[str, Any]]:
        return list(self._get("/api/v1/alerts")["alerts"])

    def targets(self) -> list[dict[str, Any]]:
        return list(self._get("/api/v1/targets")["activeTargets"])


@contextmanager
def running(folder: Path, settings: dict[str, Any]) -> Iterator[Prometheus]:
    """Prometheus on a loopback port with its data in ``folder``, for at most
    ``LIFETIME_SECONDS``; stopped (by its process id) when the block ends."""
    (folder / "prometheus.yaml").write_text(yaml.safe_dump(settings))
    port = free_port()
    log = (folder / "prometheus.log").open("w")
    process = subprocess.Popen(
        ["timeout", "--signal=TERM", "--kill-after=10", str(LIFETIME_SECONDS),
         str(prometheus_binary()), f"--config.file={folder / 'prometheus.yaml'}",
         f"--storage.tsdb.path={folder / 'data'}", f"--web.listen-address=127.0.0.1:{port}",
         "--storage.tsdb.retention.time=1h"],
        stdout=log, stderr=subprocess.STDOUT, cwd=folder, start_new_session=True,
    )  # fmt: skip
    prometheus = Prometheus(f"http://127.0.0.1:{port}")
    try:
        wait_for(lambda: process.poll() is not None or _ready(prometheus), timeout=60,
                 what="Prometheus to be ready")  # fmt: skip
        if process.poll() is not None:
            raise AssertionError(f"Prometheus exited:\n{(folder / 'prometheus.log').read_text()}")
        yield prometheus
    finally:
        process.send_signal(signal.SIGTERM)  # timeout passes it on to Prometheus
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:  # its own process group: timeout and Prometheus
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        log.close()


def _ready(prometheus: Prometheus) -> bool:
    try:
        with urllib.request.urlopen(f"{prometheus.url}/-/ready", timeout=5) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False
