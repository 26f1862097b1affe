"""``Model``: the stable endpoint and container of versions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from modelops_operator.api.common import (
    NAME_PATTERN,
    PREDICTOR_RULES,
    Condition,
    Predictor,
    PromotionDecision,
)
from modelops_operator.api.schema import prop


@dataclass(frozen=True)
class TrafficTarget:
    """A share of the Model's requests sent to one version."""

    version: str = prop("ModelVersion name.", pattern=NAME_PATTERN, maxLength=53)
    percent: int = prop("Share of requests, 0 to 100.", minimum=0, maximum=100)


@dataclass(frozen=True)
class Analysis:
    """Thresholds a candidate must hold against the stable version over a window."""

    window_seconds: int = prop("The window each judgement covers.", default=60, minimum=10)
    min_requests: int = prop(
        "Requests each version must have had in the window before it is judged.",
        default=100,
        minimum=1,
    )
    max_error_rate_increase: float = prop(
        "Most the candidate's share of 5xx answers may exceed the stable version's.",
        default=0.01,
        minimum=0,
        maximum=1,
    )
    max_latency_ratio: float = prop(
        "Most the candidate's p99 latency may be, as a multiple of the stable version's.",
        default=1.5,
        minimum=1,
    )
    latency_tolerance_ms: float = prop(
        "A p99 difference below this is never a failure (noise at small latencies).",
        default=10.0,
        minimum=0,
    )


@dataclass(frozen=True)
class Rollout:
    """How a canary in ``traffic`` is judged, and optionally walked to all the traffic."""

    analysis: Analysis = prop("What the candidate must hold.", factory=Analysis)
    steps: tuple[int, ...] = prop(
        "Percents the candidate walks through (e.g. [10, 50, 100]), one per window while the "
        "analysis passes; empty keeps the split of traffic.",
        factory=tuple,
        maxItems=10,
        rules=[
            ("self.all(s, s > 0 && s <= 100)", "steps are percents from 1 to 100"),
            (
                "self.isSorted() && self.all(s, self.exists_one(t, t == s))",
                "steps must increase",
            ),
        ],
    )


@dataclass(frozen=True)
class Auth:
    """Who may call predict on the Model's versions."""

    mode: Literal["none", "apiKey", "kubernetes"] = prop(
        "none: anyone who reaches the Service; apiKey: a key from the Secret, in the "
        "`Authorization: Bearer` or `X-API-Key` header; kubernetes: a Kubernetes token "
        "whose subject may `create` `models/predict` on this Model (RBAC).",
        default="none",
    )
    secret_name: str | None = prop(
        "apiKey: the Secret whose values are the accepted keys (rotate by editing it).",
        default=None,
        pattern=NAME_PATTERN,
        maxLength=253,
    )

    RULES: ClassVar[list[tuple[str, str]]] = [
        ("self.mode != 'apiKey' || has(self.secretName)", "apiKey needs secretName"),
    ]


@dataclass(frozen=True)
class Retention:
    """How many versions to keep."""

    keep_last: int | None = prop(
        "Keep the newest N versions; older ones that serve nothing are deleted. "
        "Unset keeps every version.",
        default=None,
        minimum=1,
    )


@dataclass(frozen=True)
class ModelSpec:
    """A model: its versions share one URL, served by the default version."""

    description: str = prop("What the model predicts, for people.", default="", maxLength=1024)
    default_version: str | None = prop(
        "ModelVersion that serves the Model's URL (a pin). Unset: the newest Ready version.",
        default=None,
        pattern=NAME_PATTERN,
        maxLength=53,
    )
    traffic: tuple[TrafficTarget, ...] = prop(
        "Split of requests between versions (canaries). The stable version is "
        "defaultVersion, else the one with the largest share; the others are candidates, "
        "which get their share once they have ready pods.",
        factory=tuple,
        maxItems=10,
        rules=[
            (
                "self.size() == 0 || self.map(t, t.percent).sum() == 100",
                "traffic percents must add up to 100",
            ),
            (
                "self.all(t, self.exists_one(u, u.version == t.version))",
                "each version may appear once in traffic",
            ),
        ],
    )
    predictor: Predictor | None = prop(
        "Defaults for the predictor of every version of this Model.",
        default=None,
        rules=PREDICTOR_RULES,
    )
    retention: Retention | None = prop("How many versions to keep.", default=None)
    rollout: Rollout | None = prop(
        "Judge the candidate of a traffic split and roll it back when it fails.", default=None
    )
    auth: Auth | None = prop("Who may call predict. Default: anyone.", default=None)

    RULES: ClassVar[list[tuple[str, str]]] = [
        ("!has(self.rollout) || self.traffic.size() >= 2", "a rollout needs a traffic split"),
        (
            "!has(self.rollout) || self.rollout.steps.size() == 0 || self.traffic.size() == 2",
            "rollout steps walk one candidate: give two versions in traffic",
        ),
    ]


@dataclass(frozen=True)
class RolloutStatus:
    """Where a canary stands, with the figures of the last judgement."""

    phase: Literal["Progressing", "Holding", "Succeeded", "RolledBack"] = prop("Where it is.")
    candidate: str = prop("The candidate version.", default="")
    stable: str = prop("The stable version.", default="")
    step: int | None = prop("Index of the current step.", default=None)
    reason: str = prop("The last judgement, with both versions' figures.", default="")
    candidate_error_rate: float | None = prop("5xx share of the candidate.", default=None)
    stable_error_rate: float | None = prop("5xx share of the stable version.", default=None)
    candidate_p99_ms: float | None = prop("p99 latency of the candidate (ms).", default=None)
    stable_p99_ms: float | None = prop("p99 latency of the stable version (ms).", default=None)
    since: str = prop("When the current step or phase began.", default="")


@dataclass(frozen=True)
class ModelStatus:
    """What the operator observed of the Model."""

    serving_version: str | None = prop("ModelVersion that serves the Model's URL.", default=None)
    url: str | None = prop("In-cluster predict URL of the Model.", default=None)
    versions: int | None = prop("How many ModelVersions belong to the Model.", default=None)
    ready_versions: int | None = prop("How many of them are Ready.", default=None)
    traffic: tuple[TrafficTarget, ...] = prop(
        "The split in effect (a rolled-back candidate gets 0).", factory=tuple
    )
    rollout: RolloutStatus | None = prop("Where the rollout of the candidate is.", default=None)
    promotion: PromotionDecision | None = prop(
        "The promotion gate's decision on the newest trained candidate.", default=None
    )
    observed_generation: int | None = prop("The spec generation last reconciled.", default=None)
    conditions: tuple[Condition, ...] = prop(
        "ServingVersionReady and ServiceReady make Ready; TrafficSplit informs.",
        factory=tuple,
        map_keys=["type"],
    )
