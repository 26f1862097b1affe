"""TrainingJobs as the CLI writes and shows them: the spec from the typed API, the table
of ``train list``, the text of ``train describe`` and the outcome of a run."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from modelops_contracts.training import TrainingResult
from modelops_operator.api.schema import camel
from modelops_operator.api.trainingjob import TrainingJobSpec

TERMINAL_PHASES = ("Succeeded", "Failed")
_UPLOADABLE_STORE = re.compile(r"^(s3|gs|pvc|file)://.+")


def check_store(store: str) -> str:
    """A store the package can be uploaded to and the cluster can read from."""
    from modelops_cli.errors import CommandError

    if not _UPLOADABLE_STORE.match(store):
        raise CommandError(
            f"--store {store}: give an s3://, gs:// or pvc:// URI the cluster reads "
            "(file:// only for a cluster on this machine)"
        )
    return store.rstrip("/")


def body(value: Any) -> Any:
    """A typed API value as its JSON body: camelCase keys, fields left at their default
    (or unset) left out, so the API server fills its own defaults."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out: dict[str, Any] = {}
        for field in dataclasses.fields(value):
            item = getattr(value, field.name)
            default = (
                field.default
                if field.default is not dataclasses.MISSING
                else field.default_factory()
                if field.default_factory is not dataclasses.MISSING
                else dataclasses.MISSING
            )
            if item is None or item == default:
                continue
            out[camel(field.name)] = body(item)
        return out
    if isinstance(value, tuple | list):
        return [body(item) for item in value]
    if isinstance(value, dict):
        return {str(key): body(item) for key, item in value.items()}
    return value


def spec_body(spec: TrainingJobSpec) -> dict[str, Any]:
    found: dict[str, Any] = body(spec)
    return found


def status_of(job: dict[str, Any]) -> dict[str, Any]:
    return dict(job.get("status") or {})


def rows(jobs: list[dict[str, Any]]) -> list[list[str]]:
    table = [["NAME", "MODEL", "PHASE", "VERSION", "SCHEDULE", "REASON", "CREATED"]]
    for job in jobs:
        spec, status = job.get("spec") or {}, status_of(job)
        table.append([
            job["metadata"]["name"], str(spec.get("model", "")), str(status.get("phase") or ""),
            str(status.get("version") or ""), str((spec.get("schedule") or {}).get("cron", "")),
            str(status.get("reason") or ""), str(job["metadata"].get("creationTimestamp", "")),
        ])  # fmt: skip
    return table


def format_table(table: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in table
    )


def metrics_text(metrics: dict[str, Any]) -> str:
    return ", ".join(f"{name}={_number(value)}" for name, value in sorted(metrics.items()))


def _number(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def describe(job: dict[str, Any]) -> str:
    """``train describe``: what the job runs and what became of it, for people."""
    meta, spec, status = job["metadata"], job.get("spec") or {}, status_of(job)
    code = (
        f"{spec.get('module')} from {spec.get('package')}"
        if spec.get("package")
        else f"{spec.get('image')}: {' '.join(spec.get('command') or [])}"
    )
    lines = [
        f"TrainingJob {meta['name']} (namespace {meta.get('namespace', '')})",
        f"  model:      {spec.get('model', '')}",
        f"  code:       {code}",
    ]
    if spec.get("args"):
        lines.append(f"  args:       {' '.join(spec['args'])}")
    if spec.get("schedule"):
        lines.append(f"  schedule:   {spec['schedule'].get('cron')}")
    if spec.get("promotion"):
        promotion = spec["promotion"]
        lines.append(
            f"  promotion:  {promotion.get('goal')} {promotion.get('metric')} "
            f"(by at least {promotion.get('minImprovement', 0)})"
        )
    lines.append(f"  phase:      {status.get('phase') or 'not started (is the operator running?)'}")
    labels = {"startTime": "started", "completionTime": "completed", "version": "version",
              "reason": "reason", "message": "message"}  # fmt: skip
    for key, label in labels.items():
        if status.get(key):
            lines.append(f"  {label + ':':<11} {status[key]}")
    if status.get("metrics"):
        lines.append(f"  metrics:    {metrics_text(status['metrics'])}")
    decision = status.get("promotion") or {}
    if decision:
        lines.append(f"  promotion:  {promotion_text(decision)}")
    for run in status.get("runs") or []:
        lines.append(
            f"  run {run.get('job')}: {run.get('phase')} {run.get('version') or ''} "
            f"{run.get('reason') or ''} {run.get('message') or ''}".rstrip()
        )
    for trial in status.get("trials") or []:
        lines.append(
            f"  trial {trial.get('number')}: {trial.get('state')} "
            f"{trial.get('parameters') or {}} metric={trial.get('metric')}"
        )
    for cond in status.get("conditions") or []:
        lines.append(
            f"  {cond.get('type')}={cond.get('status')} {cond.get('reason', '')}: "
            f"{cond.get('message', '')}"
        )
    return "\n".join(lines)


def promotion_text(decision: dict[str, Any]) -> str:
    text = f"{decision.get('decision')}"
    if decision.get("metric"):
        text += (
            f" ({decision['metric']}: candidate {decision.get('version', '')} "
            f"{_number(decision.get('candidateValue'))} vs serving "
            f"{decision.get('servingVersion', '')} {_number(decision.get('servingValue'))})"
        )
    if decision.get("reason"):
        text += f": {decision['reason']}"
    return text


def outcome(job: dict[str, Any]) -> tuple[bool, str]:
    """Whether the run succeeded, and what to print: the version and its metrics, or the
    reason and message."""
    name, status = job["metadata"]["name"], status_of(job)
    if status.get("phase") == "Succeeded":
        text = f"TrainingJob {name} succeeded: version {status.get('version') or '?'}"
        if status.get("metrics"):
            text += f" ({metrics_text(status['metrics'])})"
        if status.get("promotion"):
            text += f"; promotion: {promotion_text(status['promotion'])}"
        return True, text
    return False, (
        f"TrainingJob {name} failed: {status.get('reason') or 'no reason given'}: "
        f"{status.get('message') or ''}".rstrip(": ")
    )


def pod_outcome(name: str, result: TrainingResult) -> tuple[bool, str]:
    """The outcome as the run's pod reported it, when the TrainingJob has none yet."""
    if result.trained:
        text = f"TrainingJob {name}: its pod trained and uploaded {result.artifact_uri}"
        if result.metrics:
            text += f" ({metrics_text(dict(result.metrics))})"
        return True, text + " (the operator has not recorded the version yet)"
    return False, f"TrainingJob {name}: its pod failed: {result.reason}: {result.message}"
