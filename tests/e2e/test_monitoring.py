"""Monitoring on the real cluster: a real Prometheus (built from its Go module; ``make
prometheus``) scrapes the pods by the annotations the operator and the chart put on them,
with the scrape job users are given (examples/monitoring/prometheus.yaml) and the chart's
rules loaded. A Model whose version a TrainingJob trained serves under load, its first
requests waking it from zero; then every query of the chart's Grafana dashboard returns
series for it, the rules are healthy, and each alert fires when the test breaks what it
watches: a version whose artifact is refused, a training run that fails, a version that
answers 500s, callers sending input the model refuses, a latency objective the model
misses.

Test-sized settings, stated: Prometheus scrapes and evaluates every second, and the
chart's rules are rendered with ``for: 0s``, a 4xx ratio threshold of 10% and a p99
objective of one microsecond (what any real model misses); the shipped defaults wait
minutes and aim at 0.5 s.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.conftest import REPO_ROOT, S3, Cluster
from tests.e2e.kube import wait_for
from tests.e2e.load import Load, address, pods_of, service_host
from tests.e2e.operator_fixtures import helm_binary
from tests.e2e.operator_support import (
    OPERATOR_NAMESPACE,
    create,
    model_manifest,
    upload,
    version_manifest,
    wait_condition,
)
from tests.e2e.prometheus import Prometheus, config, running
from tests.e2e.test_serving_scales import broken_iris
from tests.e2e.test_training import (  # noqa: F401 (trainer_wheel is a fixture)
    RUN_TIMEOUT,
    submit,
    trainer_wheel,
    training_job,
    upload_wheel,
)
from tests.models import Trained

# A run, a version to zero and back, then every series and alert: the waits add up to ~12 min.
pytestmark = [pytest.mark.usefixtures("operator", "storage_secret"), pytest.mark.timeout(900)]

CHART = REPO_ROOT / "charts" / "modelops"
TEST_RULES: dict[str, object] = {
    "monitoring.rules.for": {"errorRatio": "0s", "clientErrorRatio": "0s", "latency": "0s",
                             "versionNotReady": "0s", "trainingFailed": "0s"},
    "monitoring.rules.clientErrorRatio": 0.1,
    "monitoring.rules.latencyP99Seconds": 0.000001,
}  # fmt: skip
IDLE = {"minReplicas": 0, "maxReplicas": 1, "idleTimeoutSeconds": 10, "scaleDownDelaySeconds": 0}
FIXED = {"minReplicas": 1, "maxReplicas": 1}
GOOD_ROWS = [[0.1, 0.2, 0.3, 0.4], [1.0, -1.0, 0.5, 2.0]]
REFUSED_ROWS = [[1.0, 2.0]]  # the trained model takes four features


def rendered(template: str, values: dict[str, object] | None = None) -> dict[str, Any]:
    """One manifest of the chart, as ``helm template`` renders it."""
    sets = [arg for key, value in (values or {}).items()
            for arg in ("--set-json", f"{key}={json.dumps(value)}")]  # fmt: skip
    done = subprocess.run(
        [helm_binary(), "template", "modelops", str(CHART), "--namespace", "modelops-system",
         "--kube-version", "1.33.0", "--show-only", f"templates/{template}", *sets],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    found: dict[str, Any] = yaml.safe_load(done.stdout)
    return found


def dashboard_queries(namespace: str, model: str, version: str) -> dict[str, str]:
    """Every query of the chart's dashboard, its variables set to one model and version
    (as Grafana would substitute them), by panel and target."""
    dashboard = json.loads(rendered("dashboard.yaml")["data"]["modelops.json"])
    values = {"$namespace": namespace, "$model": model, "$version": version,
              "$__rate_interval": "30s"}  # fmt: skip
    queries = {}
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            expr = target["expr"]
            for variable, value in values.items():
                expr = expr.replace(variable, value)
            queries[f"{panel['title']} [{target['refId']}]"] = expr
    return queries


@pytest.fixture
def prometheus(cluster: Cluster, namespace: str, tmp_path: Path) -> Iterator[Prometheus]:
    rules = tmp_path / "modelops.rules.yaml"
    rules.write_text(rendered("rules.yaml", TEST_RULES)["data"]["modelops.rules.yaml"])
    settings = config(cluster.kubeconfig, [namespace, OPERATOR_NAMESPACE], rules, "1s")
    folder = tmp_path / "prometheus"
    folder.mkdir()
    with running(folder, settings) as found:
        yield found


def firing(prometheus: Prometheus, namespace: str) -> set[tuple[str, str]]:
    """(alert, the object it names) of every firing alert about ``namespace`` (the operator
    it scrapes reports on the other tests' namespaces too)."""
    found = set()
    for alert in prometheus.alerts():
        labels = alert["labels"]
        if alert["state"] == "firing" and labels.get("namespace") == namespace:
            found.add((labels["alertname"], labels.get("version") or labels.get("trainingjob", "")))
    return found


def test_the_dashboard_shows_a_served_model_and_each_alert_fires_on_what_it_watches(
    cluster: Cluster, namespace: str, s3: S3, s3_bucket: str, trainer_wheel: Path,  # noqa: F811
    iris: Trained, tmp_path: Path, prometheus: Prometheus,
) -> None:  # fmt: skip
    package = upload_wheel(s3, s3_bucket, trainer_wheel)
    create(cluster, namespace, model_manifest("tiny", predictor=IDLE))
    submit(cluster, namespace, training_job("tiny-once", package, s3_bucket))
    missing = f"s3://{s3_bucket}/packages/nothing-0.1-py3-none-any.whl"
    submit(cluster, namespace, training_job("tiny-missing", missing, s3_bucket))
    uri, _ = upload(s3, s3_bucket, "iris/v1", iris)
    create(cluster, namespace, version_manifest("tiny-refused", "tiny", uri, "0" * 64))
    flaky_uri, flaky_sha = upload(s3, s3_bucket, "flaky/v1", broken_iris(tmp_path, iris))
    create(cluster, namespace, model_manifest("flaky"))
    create(cluster, namespace, version_manifest("flaky-v1", "flaky", flaky_uri, flaky_sha,
                                                predictor=FIXED))  # fmt: skip

    # The trained version serves once Ready, then idles to zero: the load's first requests
    # wake it (a cold start through the activator).
    wait_condition(cluster, namespace, "trainingjobs", "tiny-once", "Succeeded", "True",
                   timeout=RUN_TIMEOUT)  # fmt: skip
    wait_condition(cluster, namespace, "modelversions", "tiny-once", "Ready", "True")
    wait_condition(cluster, namespace, "modelversions", "tiny-once", "Active", "False",
                   "ScaledToZero", timeout=180)  # fmt: skip
    wait_for(lambda: not pods_of(cluster, namespace, "tiny-once", terminating=True),
             timeout=120, what="tiny-once's pods to be gone")  # fmt: skip
    wait_condition(cluster, namespace, "modelversions", "flaky-v1", "Ready", "True")
    tiny = (address(cluster, namespace, "tiny"), service_host("tiny", namespace), "tiny")
    flaky = address(cluster, namespace, "flaky-v1-predictor")
    flaky_host = service_host("flaky-v1-predictor", namespace)
    queries = dashboard_queries(namespace, "tiny", "tiny-once")
    expected = {
        ("ModelopsVersionNotReady", "tiny-refused"),
        ("ModelopsTrainingFailed", "tiny-missing"),
        ("ModelopsErrorRatioHigh", "flaky-v1"),
        ("ModelopsClientErrorRatioHigh", "tiny-once"),
        ("ModelopsLatencyP99High", "tiny-once"),
    }

    def empty() -> list[str]:
        return [title for title, expr in queries.items() if not prometheus.query(expr)]

    def diagnose() -> str:
        targets = [(t["labels"].get("pod"), t["health"], t["lastError"])
                   for t in prometheus.targets()]  # fmt: skip
        return f"no series: {empty()}\nfiring: {firing(prometheus, namespace)}\ntargets: {targets}"

    with (
        Load(*tiny, GOOD_ROWS, concurrency=2) as load,
        Load(*tiny, REFUSED_ROWS, concurrency=1) as refused,
        Load(flaky, flaky_host, "flaky", iris.rows[:1], concurrency=1) as failing,
    ):
        wait_for(lambda: not empty(), timeout=180, what="every dashboard query to have series",
                 interval=2, diagnose=diagnose)  # fmt: skip
        fired = wait_for(lambda: (f := firing(prometheus, namespace)) >= expected and f,
                         timeout=120, what=f"the alerts {sorted(expected)}", interval=2,
                         diagnose=diagnose)  # fmt: skip

    assert load.failures() == [], load.failures()[:3]
    # The load's first requests waited for the wake and said how long (a pod's start, not
    # a hop's milliseconds); the ones after the wake went to the woken pod unheld.
    held = [float(v) for a in load.answers for k, v in a.headers.items()
            if k.lower() == "x-modelops-cold-start"]  # fmt: skip
    assert held, "no answer says it waited for the wake"
    assert 0.2 < max(held) < 120, held
    # Held for a pod's start: at most one request of each of the load's two clients, those
    # in flight during the wake (a few more may pass the activator in milliseconds until
    # the Service's endpoints are the pod; how many came after depends on how soon the
    # alerts fired).
    woken = [h for h in held if h > 0.2]
    assert 1 <= len(woken) <= 2 < len(load.answers), (len(load.answers), held)
    assert {a.status for a in refused.answers} == {400}
    assert {a.status for a in failing.answers} == {500}
    # Only what was broken: the version that served well raised no alert of its own.
    assert ("ModelopsErrorRatioHigh", "tiny-once") not in fired
    assert ("ModelopsVersionNotReady", "tiny-once") not in fired
    assert ("ModelopsTrainingFailed", "tiny-once") not in fired

    # The rules file loaded whole, and every rule evaluates without error.
    shipped = yaml.safe_load(rendered("rules.yaml")["data"]["modelops.rules.yaml"])
    groups = prometheus.rule_groups()
    loaded = {g["name"]: [r["name"] for r in g["rules"]] for g in groups}
    assert loaded == {g["name"]: [r.get("record") or r.get("alert") for r in g["rules"]]
                      for g in shipped["groups"]}  # fmt: skip
    unhealthy = [(r["name"], r.get("lastError")) for g in groups for r in g["rules"]
                 if r["health"] != "ok"]  # fmt: skip
    assert unhealthy == []
