"""Metrics a trainer reports, both ways the trainer contract allows.

The user's side: ``report_metrics(auc=0.91)`` (or a JSON object written to
``$MODELOPS_METRICS_FILE``). The entrypoint's side: ``read_metrics`` reads that file and the
lines cloudml-hypertune's ``report_hyperparameter_tuning_metric`` writes to
``$CLOUD_ML_HP_METRIC_FILE``. Standard library only: trainers import this module.
"""

from __future__ import annotations

import json
import math
import numbers
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from modelops_contracts.training import METRICS_FILE

# What cloudml-hypertune writes on each line besides the metric itself.
HYPERTUNE_FIELDS = frozenset({"timestamp", "trial", "global_step", "checkpoint_path"})


class MetricsError(ValueError):
    """Reported metrics that are not a name → finite number mapping; says which."""


def report_metrics(metrics: Mapping[str, float] | None = None, /, **named: float) -> None:
    """Record metrics of this run: ``report_metrics(auc=0.91, log_loss=0.42)``, or a
    mapping for names that are not Python identifiers. Calls add up; a name reported
    again keeps its last value. Outside a training pod (no ``MODELOPS_METRICS_FILE``) the
    metrics are printed to stderr instead."""
    values = checked({**(metrics or {}), **named}, "report_metrics")
    target = os.environ.get(METRICS_FILE)
    if not target:
        print(f"metrics (not recorded: {METRICS_FILE} is not set): {values}", file=sys.stderr)
        return
    path = Path(target)
    recorded = parse_metrics_json(path.read_text()) if path.exists() else {}
    recorded.update(values)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.partial")
    staging.write_text(json.dumps(recorded, sort_keys=True) + "\n")
    staging.replace(path)


def checked(values: Mapping[Any, Any], where: str) -> dict[str, float]:
    """``values`` as str → float, or a MetricsError naming every value that is not a
    finite real number (numpy's included; a bool or a numeric string is not a metric)."""
    bad = [
        f"{key}={value!r}"
        for key, value in values.items()
        if isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not math.isfinite(float(value))
    ]
    if bad:
        raise MetricsError(f"{where}: metrics must be finite numbers; got {', '.join(bad)}")
    return {str(key): float(value) for key, value in values.items()}


def parse_metrics_json(text: str) -> dict[str, float]:
    """The metrics file: one JSON object of name → number (an empty file is no metrics)."""
    if not text.strip():
        return {}
    try:
        data = json.loads(text)
    except ValueError as err:
        raise MetricsError(f"{METRICS_FILE} is not JSON: {err}") from err
    if not isinstance(data, dict):
        raise MetricsError(f"{METRICS_FILE} must hold a JSON object, not {type(data).__name__}")
    return checked(data, METRICS_FILE)


def parse_hypertune(text: str) -> dict[str, float]:
    """cloudml-hypertune's metric file: one JSON object per report, the value written as
    a string under its tag, beside timestamp, trial and global_step. The last report of
    each tag wins (the file keeps the latest reports, oldest first)."""
    found: dict[str, float] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except ValueError as err:
            raise MetricsError(f"hypertune metric line {number} is not JSON: {err}") from err
        if not isinstance(entry, dict):
            raise MetricsError(f"hypertune metric line {number} is not a JSON object")
        for tag, raw in entry.items():
            if tag in HYPERTUNE_FIELDS:
                continue
            try:
                value = float(raw)
            except (TypeError, ValueError):
                value = math.nan
            if not math.isfinite(value):
                raise MetricsError(
                    f"hypertune metric line {number}: {tag}={raw!r} is not a finite number"
                )
            found[str(tag)] = value
    return found


def read_metrics(metrics_file: Path, hypertune_file: Path) -> dict[str, float]:
    """Everything the run reported: hypertune's metrics, then the metrics file's (which
    win for a name both report)."""
    metrics: dict[str, float] = {}
    if hypertune_file.exists():
        metrics.update(parse_hypertune(hypertune_file.read_text()))
    if metrics_file.exists():
        metrics.update(parse_metrics_json(metrics_file.read_text()))
    return metrics
