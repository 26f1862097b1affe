"""The chart sets every limit of the activator from its values (``activator.limits``), and
its defaults are the activator's own: rendered by ``helm template`` and read back with the
activator's settings reader."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import yaml

from modelops_runtime.activator.settings import ActivatorSettings
from tests.integration.test_alert_rules import CHART, _tool

LIMITS = {
    "maxHeadBytes": "max_head_bytes",
    "readTimeoutSeconds": "read_timeout_seconds",
    "maxBodyBytes": "max_body_bytes",
    "maxReadAheadBytes": "max_read_ahead_bytes",
    "maxAnswerBytes": "max_answer_bytes",
    "maxBufferedBytes": "max_buffered_bytes",
    "maxConnections": "max_connections",
}


def activator_env(*sets: str) -> dict[str, str]:
    helm = _tool("HELM", ".cache/modelops/helm-*/bin/helm")
    flags = [flag for s in sets for flag in ("--set", s)]
    rendered = subprocess.run(
        [helm, "template", "modelops", str(CHART), "--namespace", "modelops-system",
         "--kube-version", "1.33.0", "--show-only", "templates/activator.yaml", *flags],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    documents: list[dict[str, Any]] = [d for d in yaml.safe_load_all(rendered) if d]
    deployment = next(d for d in documents if d["kind"] == "Deployment")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return {e["name"]: e["value"] for e in container.get("env", [])}


def test_the_chart_sets_each_limit_and_its_defaults_are_the_activators() -> None:
    env = activator_env()
    wanted = {f"MODELOPS_ACTIVATOR_{name.upper()}" for name in LIMITS.values()}
    assert wanted <= env.keys()
    assert ActivatorSettings.from_env(env) == ActivatorSettings()


def test_a_limit_set_in_the_values_reaches_the_activator() -> None:
    values = yaml.safe_load((Path(CHART) / "values.yaml").read_text())["activator"]["limits"]
    assert set(values) == set(LIMITS)
    env = activator_env(
        "activator.limits.maxHeadBytes=8192",
        "activator.limits.readTimeoutSeconds=10",
        "activator.limits.maxBufferedBytes=268435456",
    )
    settings = ActivatorSettings.from_env(env)
    assert (settings.max_head_bytes, settings.read_timeout_seconds) == (8192, 10.0)
    assert settings.max_buffered_bytes == 256 * 1024 * 1024
