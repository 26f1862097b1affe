"""``Model``: the stable endpoint and container of versions."""

from __future__ import annotations

from dataclasses import dataclass

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
        "Split of requests between versions (canaries). Needs the router; until it exists "
        "the Model's Service serves the default version only and says so in its status.",
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


@dataclass(frozen=True)
class ModelStatus:
    """What the operator observed of the Model."""

    serving_version: str | None = prop("ModelVersion that serves the Model's URL.", default=None)
    url: str | None = prop("In-cluster predict URL of the Model.", default=None)
    versions: int | None = prop("How many ModelVersions belong to the Model.", default=None)
    ready_versions: int | None = prop("How many of them are Ready.", default=None)
    promotion: PromotionDecision | None = prop(
        "The promotion gate's decision on the newest trained candidate.", default=None
    )
    observed_generation: int | None = prop("The spec generation last reconciled.", default=None)
    conditions: tuple[Condition, ...] = prop(
        "ServingVersionReady and ServiceReady make Ready; TrafficSplit informs.",
        factory=tuple,
        map_keys=["type"],
    )
