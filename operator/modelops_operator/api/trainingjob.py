"""``TrainingJob``: the user's training code run on the cluster, once, on a schedule, or as
a hyperparameter search; each success becomes a ModelVersion of its Model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from modelops_operator.api.common import (
    NAME_PATTERN,
    Condition,
    EnvVar,
    PromotionDecision,
    Resources,
)
from modelops_operator.api.schema import prop

METRIC_PATTERN = r"^[A-Za-z_][A-Za-z0-9_.-]*$"
MODULE_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$"
HOOK_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*$"
MAX_WORKERS = 32
URI_RULE = (
    "self.matches('^(s3|gs|https?|pvc|file)://.+')",
    "must be an s3://, gs://, http(s)://, pvc:// or file:// URI",
)


@dataclass(frozen=True)
class Schedule:
    """When the training runs again (Kubernetes' CronJob carries it)."""

    cron: str = prop(
        "Standard cron expression, e.g. '0 3 * * *' (daily at 03:00).",
        maxLength=100,
        rules=[("self.split(' ').size() == 5", "cron must have five fields")],
    )
    time_zone: str | None = prop(
        "IANA time zone of the cron expression, e.g. Europe/Paris. Default UTC.",
        default=None,
        maxLength=64,
    )
    starting_deadline_seconds: int | None = prop(
        "A run that could not start this many seconds after its time is skipped (a missed "
        "tick); unset: a missed run starts as soon as it can, once.",
        default=None,
        minimum=10,
    )
    history_limit: int = prop(
        "Finished runs (Jobs and their pods, for logs) kept, of each outcome.",
        default=3,
        minimum=1,
        maximum=100,
    )


@dataclass(frozen=True)
class Promotion:
    """The gate a new version passes before it serves: it must beat the serving version
    on the metric, on the same evaluation data."""

    metric: str = prop(
        "Metric compared, as the trainer reports it (e.g. auc).", pattern=METRIC_PATTERN
    )
    goal: Literal["maximize", "minimize"] = prop("Whether larger or smaller is better.")
    min_improvement: float = prop(
        "How much better than the serving version the candidate must be (absolute).",
        default=0.0,
        minimum=0,
    )
    mode: Literal["automatic", "manual"] = prop(
        "automatic: a candidate that passes serves at once; manual: it waits for "
        "`modelops train promote` (or a pin).",
        default="automatic",
    )


@dataclass(frozen=True)
class Parameter:
    """One hyperparameter of the search, passed to the trainer as --name=value."""

    name: str = prop("Argument name.", pattern=r"^[A-Za-z_][A-Za-z0-9_-]*$", maxLength=64)
    type: Literal["integer", "double", "categorical", "discrete"] = prop("Kind of values.")
    min_value: float | None = prop("Smallest value (integer, double).", default=None)
    max_value: float | None = prop("Largest value (integer, double).", default=None)
    scale: Literal["linear", "log"] = prop(
        "How values are spread (integer, double).", default="linear"
    )
    values: tuple[str, ...] = prop(
        "The values (categorical: strings; discrete: numbers written as strings).",
        factory=tuple,
        maxItems=100,
    )

    RULES: ClassVar[list[tuple[str, str]]] = [
        (
            "self.type in ['integer', 'double'] ? "
            "(has(self.minValue) && has(self.maxValue) && self.minValue <= self.maxValue) : true",
            "integer and double parameters need minValue <= maxValue",
        ),
        (
            "self.type in ['categorical', 'discrete'] ? self.values.size() > 0 : true",
            "categorical and discrete parameters need values",
        ),
        (
            "self.scale == 'log' ? has(self.minValue) && self.minValue > 0.0 : true",
            "a log scale needs minValue > 0",
        ),
    ]


@dataclass(frozen=True)
class Hyperparameters:
    """A search: trials run in parallel, each with other values; the best one's model
    becomes the version."""

    metric: str = prop("Metric the trials report and the search optimises.", pattern=METRIC_PATTERN)
    goal: Literal["maximize", "minimize"] = prop("Whether larger or smaller is better.")
    max_trials: int = prop("Trials in all.", minimum=1, maximum=1000)
    parallel_trials: int = prop("Trials running at once.", default=1, minimum=1, maximum=100)
    max_failed_trials: int | None = prop(
        "Failed trials tolerated before the search fails. Default: maxTrials.",
        default=None,
        minimum=0,
    )
    algorithm: Literal["grid", "random", "bayesian"] = prop(
        "How values are chosen: every combination (grid), at random, or by what the "
        "finished trials suggest (bayesian: Tree-structured Parzen Estimator).",
        default="bayesian",
    )
    seed: int = prop("Seed of the search, so a search can be repeated.", default=0, minimum=0)
    parameters: tuple[Parameter, ...] = prop(
        "The hyperparameters.",
        factory=tuple,
        maxItems=20,
        map_keys=["name"],
    )

    RULES: ClassVar[list[tuple[str, str]]] = [
        (
            "self.algorithm != 'grid' || self.parameters.all(p, p.type != 'double')",
            "a grid search needs integer, categorical or discrete parameters",
        ),
        ("self.parameters.size() > 0", "a search needs parameters"),
    ]


@dataclass(frozen=True)
class PackageIndex:
    """Where pip resolves a trainer package's dependencies: this index only (no public
    index once one is named), and the extra ones listed."""

    url: str = prop(
        "The index (PEP 503 simple API), e.g. https://pypi.internal.example/simple.",
        maxLength=2048,
        pattern=r"^https?://",
    )
    extra_urls: tuple[str, ...] = prop(
        "More indexes pip may take a dependency from.",
        factory=tuple,
        maxItems=8,
        items={"type": "string", "maxLength": 2048, "pattern": r"^https?://"},
    )


@dataclass(frozen=True)
class TrainingJobSpec:
    """Training code to run: a Python package and module installed into the runtime image
    (as the seed-era service ran a trainer package), or an image with a command."""

    model: str = prop(
        "The Model whose version the training produces.", pattern=NAME_PATTERN, maxLength=40
    )
    package: str | None = prop(
        "URI of the trainer's sdist or wheel (e.g. s3://bucket/trainer-0.1.tar.gz), "
        "installed at pod start.",
        default=None,
        maxLength=2048,
        rules=[URI_RULE],
    )
    module: str | None = prop(
        "Module run with `python -m` (e.g. trainer.train).",
        default=None,
        pattern=MODULE_PATTERN,
        maxLength=200,
    )
    image: str | None = prop(
        "An image that holds the trainer instead (with `command`).", default=None, maxLength=512
    )
    command: tuple[str, ...] = prop("The command of `image`.", factory=tuple, maxItems=64)
    args: tuple[str, ...] = prop("Arguments passed to the trainer.", factory=tuple, maxItems=256)
    env: tuple[EnvVar, ...] = prop(
        "Extra environment variables.", factory=tuple, maxItems=64, map_keys=["name"]
    )
    runtime_version: str | None = prop(
        "Runtime (image with the framework versions) to train in and serve with, a key of "
        "the operator's runtimes map; the operator's default when unset.",
        default=None,
        maxLength=63,
    )
    resources: Resources | None = prop(
        "CPU and memory of each training pod (of each worker).", default=None
    )
    workers: int = prop(
        "Pods that train one XGBoost model together over XGBoost's collective (an Indexed "
        "Job; rank 0 hosts the tracker, saves the model and reports). 1: a single pod.",
        default=1,
        minimum=1,
        maximum=MAX_WORKERS,
    )
    backoff_limit: int = prop(
        "Retries of a failed run before it counts as failed; with several workers, retries "
        "of the whole group (every worker's pod is replaced).",
        default=0,
        minimum=0,
        maximum=10,
    )
    active_deadline_seconds: int | None = prop(
        "A run still going after this many seconds is stopped and fails.", default=None, minimum=1
    )
    output: str | None = prop(
        "Store prefix the model is written under (<output>/<namespace>/<model>/<version>/); the "
        "operator's model store when unset.",
        default=None,
        maxLength=2048,
        rules=[URI_RULE],
    )
    package_index: PackageIndex | None = prop(
        "Where pip resolves the package's dependencies; the operator's (chart value "
        "training.packageIndex) when unset; pip's default (the public index) when neither.",
        default=None,
    )
    evaluation_hook: str | None = prop(
        "module:function the gate calls to score a model on the run's held-out data; "
        "default: `evaluate` in `module`, when it has one.",
        default=None,
        pattern=HOOK_PATTERN,
        maxLength=200,
    )
    schedule: Schedule | None = prop("Run on a schedule instead of once.", default=None)
    run_date: str | None = prop(
        "The time a single run is for (RFC 3339, e.g. 2025-01-15T00:00:00Z: an Airflow DAG "
        "run's logical date), given to the trainer as MODELOPS_RUN_DATE. Default: the "
        "TrainingJob's creation. A schedule's runs take their tick instead.",
        default=None,
        format="date-time",
        maxLength=64,
    )
    promotion: Promotion | None = prop(
        "Compare each new version with the serving one before it may serve. Unset: every "
        "new Ready version serves (the Model's usual rule).",
        default=None,
    )
    hyperparameters: Hyperparameters | None = prop(
        "Search hyperparameters: run trials and keep the best.", default=None
    )

    RULES: ClassVar[list[tuple[str, str]]] = [
        (
            "has(self.image) != (has(self.package) || has(self.module))",
            "give either image (with command) or package and module",
        ),
        ("has(self.package) == has(self.module)", "package and module go together"),
        ("!has(self.image) || self.command.size() > 0", "image needs a command"),
        (
            "!(has(self.schedule) && has(self.hyperparameters))",
            "a scheduled search is not supported: give schedule or hyperparameters",
        ),
        (
            "!(has(self.schedule) && has(self.runDate))",
            "runDate is for a single run, not a schedule",
        ),
    ]


@dataclass(frozen=True)
class Trial:
    """One trial of a search: its values, state and metric (the search's memory)."""

    number: int = prop("Trial number, from 0.")
    state: Literal["Running", "Succeeded", "Failed"] = prop("Where it is.")
    parameters: dict[str, str] = prop("The values it ran with.", factory=dict)
    metric: float | None = prop("The metric it reported.", default=None)
    job: str = prop("Its Job.", default="")
    artifact: str = prop("Where its model was written.", default="")
    message: str = prop("Why it failed.", default="")


@dataclass(frozen=True)
class Run:
    """One run of a scheduled TrainingJob."""

    job: str = prop("Its Job.")
    phase: Literal["Pending", "Running", "Succeeded", "Failed"] = prop("Where it is.")
    scheduled_time: str = prop("The time it ran for (RFC 3339).", default="")
    version: str = prop("The version it produced.", default="")
    reason: str = prop("Why it failed, or the promotion decision.", default="")
    message: str = prop("For people.", default="")


@dataclass(frozen=True)
class TrainingJobStatus:
    """What the operator observed of the training."""

    phase: Literal["Pending", "Running", "Succeeded", "Failed", "Scheduled"] | None = prop(
        "A summary for people; the conditions are the truth.", default=None
    )
    start_time: str | None = prop("When the (last) run started.", default=None)
    completion_time: str | None = prop("When the (last) run ended.", default=None)
    version: str | None = prop("The ModelVersion the (last) run produced.", default=None)
    metrics: dict[str, float] = prop("The metrics of that version.", factory=dict)
    reason: str | None = prop("Why the (last) run failed, in one word.", default=None)
    message: str | None = prop(
        "What happened: the exit code and the end of the log, an OOM kill, a deadline.",
        default=None,
    )
    promotion: PromotionDecision | None = prop("The gate's last decision.", default=None)
    runs: tuple[Run, ...] = prop("Recent runs of a scheduled job, newest first.", factory=tuple)
    last_schedule_time: str | None = prop("When a scheduled run last started.", default=None)
    trials: tuple[Trial, ...] = prop("The search's trials.", factory=tuple)
    best_trial: int | None = prop("Number of the best trial so far.", default=None)
    observed_generation: int | None = prop("The spec generation last reconciled.", default=None)
    conditions: tuple[Condition, ...] = prop(
        "Succeeded (the run or search ended well), and for a schedule Scheduled.",
        factory=tuple,
        map_keys=["type"],
    )
