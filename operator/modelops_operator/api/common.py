"""Types shared by the resources: predictor settings, resources, env, conditions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from modelops_contracts.serving import RESERVED_ENV
from modelops_operator.api.schema import QUANTITY, prop

NAME_PATTERN = r"^[a-z]([-a-z0-9]*[a-z0-9])?$"


@dataclass(frozen=True)
class Resources:
    """CPU and memory for each predictor pod, as in a container's resources."""

    requests: dict[str, str] = prop(
        "Minimum resources, e.g. {cpu: 100m, memory: 256Mi}.",
        factory=dict,
        schema={"type": "object", "additionalProperties": QUANTITY},
    )
    limits: dict[str, str] = prop(
        "Maximum resources, e.g. {memory: 1Gi}.",
        factory=dict,
        schema={"type": "object", "additionalProperties": QUANTITY},
    )


@dataclass(frozen=True)
class EnvVar:
    """An environment variable of the predictor container."""

    name: str = prop("Variable name.", pattern=r"^[-._a-zA-Z][-._a-zA-Z0-9]*$", maxLength=256)
    value: str = prop("Variable value.", default="")


@dataclass(frozen=True)
class Predictor:
    """How the predictor of a version runs. On a Model these are defaults for its versions;
    a field set on the ModelVersion wins."""

    min_replicas: int | None = prop(
        "Fewest pods. 0 lets the version scale to zero when idle; the next request wakes "
        "it. Default 1.",
        default=None,
        minimum=0,
        maximum=100,
    )
    max_replicas: int | None = prop(
        "Most pods the autoscaler may run; equal to minReplicas, the size is fixed. "
        "Default: minReplicas, or 1 when minReplicas is 0.",
        default=None,
        minimum=1,
        maximum=100,
    )
    target_concurrency: int | None = prop(
        "In-flight requests per pod the autoscaler aims for. Default 8.",
        default=None,
        minimum=1,
        maximum=1000,
    )
    idle_timeout_seconds: int | None = prop(
        "With minReplicas 0: seconds without a request before the version scales to "
        "zero. Default 300.",
        default=None,
        minimum=10,
    )
    scale_down_delay_seconds: int | None = prop(
        "How long a lower demand must last before pods are removed. Default 30.",
        default=None,
        minimum=0,
        maximum=3600,
    )
    method: Literal["predict", "predict_proba"] | None = prop(
        "Method used when a request names none. Default predict.", default=None
    )
    max_batch_size: int | None = prop(
        "Most rows merged into one model call.", default=None, minimum=1
    )
    resources: Resources | None = prop("CPU and memory of each pod.", default=None)
    env: tuple[EnvVar, ...] = prop(
        "Extra environment variables (e.g. MODELOPS_NAN_POLICY); not the ones the operator "
        f"reserves ({', '.join(RESERVED_ENV)}).",
        factory=tuple,
        maxItems=64,
        map_keys=["name"],
        rules=[
            (
                f"self.all(e, !(e.name in {list(RESERVED_ENV)!r}))",
                f"env must not set a variable the operator reserves: {', '.join(RESERVED_ENV)}",
            )
        ],
    )


PREDICTOR_RULES = [
    (
        "!has(self.minReplicas) || !has(self.maxReplicas) || self.minReplicas <= self.maxReplicas",
        "minReplicas must not exceed maxReplicas",
    )
]


@dataclass(frozen=True)
class Condition:
    """A standard Kubernetes condition."""

    type: str = prop("Condition type, e.g. Ready.")
    status: Literal["True", "False", "Unknown"] = prop("True, False or Unknown.")
    reason: str = prop("One CamelCase word a program can act on.", default="")
    message: str = prop("What happened and what to do, for people.", default="")
    last_transition_time: str = prop("When status last changed (RFC 3339).", default="")
    observed_generation: int = prop("The spec generation this condition judged.", default=0)
    severity: Literal["", "Warning", "Info"] = prop(
        "Empty for a condition that decides Ready; Warning or Info for one that only informs.",
        default="",
    )


@dataclass(frozen=True)
class PromotionDecision:
    """What the gate decided for a candidate, with both numbers."""

    decision: Literal["Promoted", "Rejected", "Pending", "Pinned"] = prop("The outcome.")
    reason: str = prop("Why, for people.", default="")
    version: str = prop("The candidate version.", default="")
    serving_version: str = prop("The version it was compared with.", default="")
    metric: str = prop("The metric compared.", default="")
    candidate_value: float | None = prop("The candidate's value.", default=None)
    serving_value: float | None = prop("The serving version's value.", default=None)
    basis: Literal["", "same-data", "recorded"] = prop(
        "same-data: both scored on the run's held-out data by the evaluation hook; "
        "recorded: the metrics each version recorded when it was trained.",
        default="",
    )
