"""What the operators read back (pure): whether a TrainingJob or a ModelVersion is done,
what a task pushes to XCom, the failure it raises, and the promotion gate on demand."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

from modelops_cli import trainingjobs
from modelops_cli.resources import condition
from modelops_contracts.training import TRAINED, TrainingResult
from modelops_operator.api.trainingjob import Promotion
from modelops_operator.names import PROMOTION_DECISION, PROMOTION_LABEL
from modelops_operator.trainingjob.promotion import LABELS, PENDING, Serving, decide

TRAINING_JOB, MODEL_VERSION = "TrainingJob", "ModelVersion"


@dataclass(frozen=True)
class Outcome:
    """A finished TrainingJob or ModelVersion: what goes to XCom, or why the task fails."""

    succeeded: bool
    xcom: dict[str, Any] = field(default_factory=dict)
    failure: str = ""


def training_outcome(job: dict[str, Any]) -> Outcome | None:
    """None while the run goes on. A success has its version (the operator records it once
    the run's ModelVersion exists), its metrics and the gate's decision; a failure is the
    run's reason and message, as ``modelops train logs --follow`` ends."""
    status = trainingjobs.status_of(job)
    phase = status.get("phase")
    if phase not in trainingjobs.TERMINAL_PHASES or (
        phase == "Succeeded" and not status.get("version")
    ):
        return None
    succeeded, text = trainingjobs.outcome(job)
    if not succeeded:
        return Outcome(False, failure=text)
    return Outcome(
        True,
        {
            "trainingjob": job["metadata"]["name"],
            "version": str(status["version"]),
            "metrics": dict(status.get("metrics") or {}),
            "promotion": dict(status.get("promotion") or {}),
        },
    )


def version_outcome(version: dict[str, Any]) -> Outcome | None:
    """None until Ready says True or False (as ``modelops deploy`` waits): Ready with its URL
    and recorded metrics, or the failure's reason and message."""
    ready = condition(version, "Ready")
    name = version["metadata"]["name"]
    status = version.get("status") or {}
    if ready.get("status") == "True":
        return Outcome(
            True,
            {
                "version": name,
                "url": str(status.get("url") or ""),
                "metrics": dict(status.get("metrics") or {}),
                "promotion": promotion_label(version),
            },
        )
    if ready.get("status") == "False":
        return Outcome(
            False, failure=f"{name} failed: {ready.get('reason')}: {ready.get('message')}"
        )
    return None


def outcome(kind: str, found: dict[str, Any] | None) -> Outcome | None:
    """The outcome of what a trigger or a sensor watches; a deleted object is a failure."""
    if found is None:
        return Outcome(False, failure=f"the {kind} is gone (deleted while it was watched)")
    return training_outcome(found) if kind == TRAINING_JOB else version_outcome(found)


def promotion_label(version: dict[str, Any]) -> str:
    return str(((version.get("metadata") or {}).get("labels") or {}).get(PROMOTION_LABEL) or "")


def recorded_decision(version: dict[str, Any]) -> dict[str, Any]:
    """The decision the gate recorded on a version a gated run produced."""
    raw = ((version.get("metadata") or {}).get("annotations") or {}).get(PROMOTION_DECISION)
    return dict(json.loads(raw)) if raw else {}


@dataclass(frozen=True)
class Verdict:
    """The gate, on demand: promote the version, keep things as they are, or refuse it."""

    action: str  # "promote", "nothing" or "refuse"
    decision: dict[str, Any]
    label: str = ""
    """The label to write when the gate decided just now (with ``decision`` recorded)."""


def gate(
    version: dict[str, Any],
    model: dict[str, Any],
    serving: dict[str, Any] | None,
    policy: Promotion | None,
) -> Verdict:
    """What ``ModelOpsPromoteOperator`` does with ``version``. A gated run's candidate keeps
    the decision its run made on the same held-out data: ``pending`` (it passed, waiting)
    is promoted, ``rejected`` is refused with the reason. A version held back with no
    decision (``ModelOpsCreateVersionOperator(held=True)``) is decided now by the
    operator's own gate, on the metrics each version recorded, against the one serving."""
    name = version["metadata"]["name"]
    label, recorded = promotion_label(version), recorded_decision(version)
    if label == "rejected":
        return Verdict(
            "refuse",
            recorded or {"decision": "Rejected", "version": name, "reason": "labelled rejected"},
        )
    if label != "pending":
        why = "it serves already" if label == "promoted" else "no gate holds it back"
        return Verdict(
            "nothing", recorded or {"decision": "Promoted", "version": name, "reason": why}
        )
    if recorded.get("decision") == PENDING:
        return Verdict("promote", recorded)
    if policy is None:
        raise ValueError(
            f"ModelVersion {name} waits for the gate and has no decision yet: give the "
            "operator a promotion policy (metric and goal) to decide with"
        )
    metrics = {
        str(k): float(v) for k, v in ((version.get("status") or {}).get("metrics") or {}).items()
    }
    current = None
    if serving is not None and serving["metadata"]["name"] != name:
        theirs = (serving.get("status") or {}).get("metrics") or {}
        current = Serving(
            serving["metadata"]["name"], {str(k): float(v) for k, v in theirs.items()}
        )
    pin = (model.get("spec") or {}).get("defaultVersion")
    decided = decide(
        dataclasses.replace(policy, mode="automatic"),
        name,
        TrainingResult(TRAINED, metrics=metrics),
        current,
        pin,
    )
    action = "refuse" if decided.label == LABELS["Rejected"] else "promote"
    return Verdict(action, decided.as_status(), decided.label)


def serving_version(model: dict[str, Any] | None) -> str:
    return str(((model or {}).get("status") or {}).get("servingVersion") or "")
