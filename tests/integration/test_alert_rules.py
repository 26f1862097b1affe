"""The alert rules the chart ships, with its default thresholds, under ``promtool test rules``
(Prometheus' own rule evaluator): for each alert, series just over its threshold fire it
once its ``for`` has passed and not before, with the labels and annotations an on-call
person reads; series just under it never fire it.

The rules are rendered by ``helm template`` from the chart's default values, and the test's
series are made from the same values, so a changed threshold is tested where it now is.
promtool is built beside the pinned Prometheus (``make prometheus``).
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import cluster_required

CHART = Path(__file__).resolve().parents[2] / "charts" / "modelops"
LABELS = {"namespace": "ads", "model": "ctr"}
MINUTE = 60


def _tool(env: str, pattern: str) -> str:
    found = os.environ.get(env) or next(iter(sorted(Path.home().glob(pattern))), "")
    if not found or not Path(found).is_file():
        message = f"{pattern} is not built (make prometheus, make cluster-binaries)"
        if cluster_required():
            pytest.fail(message)
        pytest.skip(message)
    return str(found)


def _minutes(duration: str) -> int:
    number, unit = re.fullmatch(r"(\d+)([smh])", duration).groups()  # type: ignore[union-attr]
    return int(number) * {"s": 1, "m": MINUTE, "h": 3600}[unit] // MINUTE


def series(name: str, labels: dict[str, str], values: str) -> dict[str, str]:
    inner = ",".join(f'{k}="{v}"' for k, v in labels.items())
    return {"series": f"{name}{{{inner}}}", "values": values}


def requests(version: str, per_minute: dict[str, int]) -> list[dict[str, str]]:
    """A version's predict counters, growing by these counts a minute per status code."""
    return [series("modelops_requests_total", {**LABELS, "version": version, "route": "v1_predict",
                                               "code": code}, f"0+{count}x40")
            for code, count in per_minute.items()]  # fmt: skip


def latency(version: str, objective: float, slow: bool) -> list[dict[str, str]]:
    """100 requests a minute, all in the bucket just over the objective (``slow``) or just
    under it, of buckets at half, one and two times the objective."""
    bounds = [f"{objective / 2:g}", f"{objective:g}", f"{objective * 2:g}", "+Inf"]
    first = 2 if slow else 1  # the index of the bucket that holds them all
    made = []
    for index, bound in enumerate(bounds):
        labels = {**LABELS, "version": version, "route": "v1_predict", "le": bound}
        made.append(series("modelops_request_seconds_bucket", labels,
                           "0+100x40" if index >= first else "0x40"))  # fmt: skip
    return made


def alert(name: str, at: int, fired: list[dict[str, Any]]) -> dict[str, Any]:
    return {"alertname": name, "eval_time": f"{at}m", "exp_alerts": fired}


def fired(labels: dict[str, str], summary: str, description: str) -> dict[str, Any]:
    return {"exp_labels": labels, "exp_annotations": {"summary": summary,
                                                      "description": description}}  # fmt: skip


def _description(rules: dict[str, Any], name: str, labels: dict[str, str]) -> str:
    """The rule's description, with its ``$labels`` filled in."""
    text = next(r for g in rules["groups"] for r in g["rules"] if r.get("alert") == name)
    described = str(text["annotations"]["description"])
    return re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: labels[m.group(1)], described)


def test_every_shipped_alert_fires_over_its_threshold_after_its_for_and_never_under_it(
    tmp_path: Path,
):
    helm = _tool("HELM", ".cache/modelops/helm-*/bin/helm")
    promtool = _tool("MODELOPS_PROMTOOL", ".cache/modelops/prometheus-*/promtool")
    rendered = subprocess.run(
        [helm, "template", "modelops", str(CHART), "--kube-version", "1.33.0",
         "--show-only", "templates/rules.yaml"],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout  # fmt: skip
    rules_text = yaml.safe_load(rendered)["data"]["modelops.rules.yaml"]
    (tmp_path / "rules.yaml").write_text(rules_text)
    rules = yaml.safe_load(rules_text)
    values = yaml.safe_load((CHART / "values.yaml").read_text())["monitoring"]["rules"]
    wait = {k: _minutes(v) for k, v in values["for"].items()}
    errors, client = values["errorRatio"], values["clientErrorRatio"]
    p99 = values["latencyP99Seconds"]
    assert 0 < p99 <= 0.5, "the summary below is written for a p99 under a second"

    # Over each ratio by one point, and under it by one (per 100 requests a minute).
    over_e, under_e = round(errors * 100) + 1, round(errors * 100) - 1
    over_c, under_c = round(client * 100) + 1, round(client * 100) - 1
    broken = {**LABELS, "version": "broken", "reason": "ArtifactNotFound"}
    fine = {**LABELS, "version": "fine", "reason": "Ready"}
    failed = {"namespace": "ads", "trainingjob": "ctr-daily", "reason": "TrainerFailed"}
    trained = {"namespace": "ads", "trainingjob": "ctr-weekly", "reason": "Trained"}
    input_series = [
        *requests("errors-over", {"200": 100 - over_e, "500": over_e}),
        *requests("errors-under", {"200": 100 - under_e, "500": under_e}),
        *requests("refused-over", {"200": 100 - over_c, "400": over_c}),
        *requests("refused-under", {"200": 100 - under_c, "400": under_c}),
        *latency("slow", p99, slow=True),
        *latency("fast", p99, slow=False),
        series("modelops_modelversion_ready", broken, "0x40"),
        series("modelops_modelversion_ready", fine, "1x40"),
        series("modelops_trainingjob_failed", failed, "1x40"),
        series("modelops_trainingjob_failed", trained, "0x40"),
    ]
    critical, warning = {"severity": "critical"}, {"severity": "warning"}
    over_errors = {**LABELS, "version": "errors-over", **critical}
    over_refused = {**LABELS, "version": "refused-over", **warning}
    slow = {**LABELS, "version": "slow", **warning}
    slow_p99 = p99 + p99 * 0.99  # histogram_quantile: 99% of the way through (p99, 2 p99]
    expected = {
        "ModelopsErrorRatioHigh": (over_errors, f"ads/ctr version errors-over: {over_e}% of "
                                   "predictions answered 5xx"),
        "ModelopsClientErrorRatioHigh": (over_refused, f"ads/ctr version refused-over: {over_c}% "
                                         "of predictions refused (4xx)"),
        "ModelopsLatencyP99High": (slow, f"ads/ctr version slow: p99 latency "
                                   f"{slow_p99 * 1000:.4g}ms"),
        "ModelopsVersionNotReady": ({**broken, **warning}, "ModelVersion ads/broken of ctr is not "
                                    "Ready: ArtifactNotFound"),
        "ModelopsTrainingFailed": ({**failed, **warning}, "TrainingJob ads/ctr-daily failed: "
                                   "TrainerFailed"),
    }  # fmt: skip
    waits = {"ModelopsErrorRatioHigh": wait["errorRatio"],
             "ModelopsClientErrorRatioHigh": wait["clientErrorRatio"],
             "ModelopsLatencyP99High": wait["latency"],
             "ModelopsVersionNotReady": wait["versionNotReady"],
             "ModelopsTrainingFailed": wait["trainingFailed"]}  # fmt: skip
    assert set(expected) == {
        r["alert"] for g in rules["groups"] for r in g["rules"] if "alert" in r
    }
    late = 2  # minutes past a `for`: the 5m rate windows and both rule groups have caught up
    tests = []
    for name, (labels, summary) in expected.items():
        shown = fired(labels, summary, _description(rules, name, labels))
        if waits[name] > 0:  # pending until its `for` has passed
            tests.append(alert(name, waits[name] - 1 if waits[name] > 5 else 4, []))
        tests.append(alert(name, max(waits[name] + late, 8), [shown]))
        tests.append(alert(name, 35, [shown]))  # and still, and only the one over
    suite = {
        "rule_files": ["rules.yaml"],
        "evaluation_interval": "1m",
        "tests": [{"interval": "1m", "input_series": input_series, "alert_rule_test": tests}],
    }
    (tmp_path / "tests.yaml").write_text(yaml.safe_dump(suite, sort_keys=False))
    done = subprocess.run([promtool, "test", "rules", "tests.yaml"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout + done.stderr
