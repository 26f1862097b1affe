"""What a training pod reports: the trainer entrypoint writes it as one JSON line to the
pod's termination log, the operator reads it back from the pod's status to create the
ModelVersion, decide its promotion, and say why a run failed.

Also the environment the entrypoint gives the user's code: these names are the trainer
contract (docs/training.md), set by the operator on the pod and read by the entrypoint.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime

from modelops_contracts.termination import MESSAGE_INVALID, Fields, MessageInvalid, report_in

# Reasons a run ends with.
TRAINED = "Trained"
PACKAGE_NOT_FOUND = "PackageNotFound"
"""The trainer package could not be downloaded (no such object, no access, no answer)."""
PACKAGE_INSTALL_FAILED = "PackageInstallFailed"
"""pip refused the package; the message is pip's."""
TRAINER_FAILED = "TrainerFailed"
"""The user's code exited non-zero or was killed; exit_code and log_tail say how."""
NO_MODEL_WRITTEN = "NoModelWritten"
"""The code exited 0 but left no model file the runtime can serve in the model dir."""
METRICS_INVALID = "MetricsInvalid"
"""The metrics file or the hypertune lines hold something that is not a finite number."""
EVALUATION_FAILED = "EvaluationFailed"
"""The evaluation hook could not score the new model or the serving one."""
UPLOAD_FAILED = "UploadFailed"
"""The model could not be written to the output URI."""
ENTRYPOINT_FAILED = "EntrypointFailed"
"""The entrypoint could not do its own work: a bad invocation, or an error of its own."""
FAILURE_REASONS = (
    PACKAGE_NOT_FOUND,
    PACKAGE_INSTALL_FAILED,
    TRAINER_FAILED,
    NO_MODEL_WRITTEN,
    METRICS_INVALID,
    EVALUATION_FAILED,
    UPLOAD_FAILED,
    ENTRYPOINT_FAILED,
)
# The kubelet keeps at most 4 KiB of a termination message.
TERMINATION_MESSAGE_LIMIT = 4000

# The trainer contract: environment of the user's code.
MODEL_DIR = "MODELOPS_MODEL_DIR"
"""Where the code writes its model (one file, or a folder with one model file)."""
METRICS_FILE = "MODELOPS_METRICS_FILE"
"""A JSON object of metrics, written by the code (or report_metrics())."""
HYPERTUNE_FILE = "CLOUD_ML_HP_METRIC_FILE"
"""Where cloudml-hypertune's report_hyperparameter_tuning_metric writes; read too."""
RUN_DATE = "MODELOPS_RUN_DATE"
"""The time the run is for (RFC 3339, UTC): its schedule's tick, or its start."""
MODEL_NAME = "MODELOPS_MODEL"
VERSION_NAME = "MODELOPS_VERSION"
"""The ModelVersion a successful run becomes."""
OUTPUT_URI = "MODELOPS_OUTPUT_URI"
"""The store folder the entrypoint uploads the model to."""
BASELINE_URI = "MODELOPS_BASELINE_URI"
"""The serving version's artifact, which the evaluation hook also scores."""
BASELINE_VERSION = "MODELOPS_BASELINE_VERSION"
RANK = "MODELOPS_RANK"
"""This worker's place among the run's workers, from 0 (rank 0 saves and reports)."""
WORLD_SIZE = "MODELOPS_WORLD_SIZE"
"""How many workers train the model together (1: a single pod)."""
TRACKER_HOST = "MODELOPS_TRACKER_HOST"
"""Where rank 0's XGBoost tracker listens: its pod's name under the run's headless Service."""
TRACKER_PORT = "MODELOPS_TRACKER_PORT"
"""The tracker's first port; attempt k of the group listens on this port + k."""
ATTEMPT = "MODELOPS_ATTEMPT"
"""How many times this worker's place has failed before (the group's retry number), so a
worker never joins the tracker of an attempt that is over."""
POD_IP = "MODELOPS_POD_IP"
"""The worker's own address; rank 0's tracker listens on it."""
TRACKER_BASE_PORT = 9091
GROUP_LOST_EXIT = 3
"""A worker's exit code when it stopped because a peer of its group was gone (its status
then names the peer that failed first, not this one)."""


@dataclass(frozen=True)
class TrainingResult:
    """How a run ended. On success: where the model went and what it scored; with an
    evaluation hook, also the serving version's score on the same held-out data."""

    reason: str
    message: str = ""
    artifact_uri: str = ""
    sha256: str = ""
    format: str = ""
    framework: str = ""
    metrics: dict[str, float] = field(default_factory=dict)
    baseline_version: str = ""
    """The version the hook scored beside this run's model (the one serving at the start)."""
    baseline_metrics: dict[str, float] = field(default_factory=dict)
    """The serving version, scored by the evaluation hook on this run's held-out data."""
    candidate_metrics: dict[str, float] = field(default_factory=dict)
    """This run's model, scored by the same hook on the same data."""
    exit_code: int = 0
    log_tail: str = ""

    @property
    def trained(self) -> bool:
        return self.reason == TRAINED

    def to_json(self) -> str:
        return json.dumps({k: v for k, v in asdict(self).items() if v not in ("", {}, 0)},
                          sort_keys=True)  # fmt: skip

    def termination_message(self) -> str:
        """The JSON line within what the kubelet keeps: the log tail, then the message,
        are cut first (from their start: their end says most)."""
        line = self.to_json()
        excess = len(line) - TERMINATION_MESSAGE_LIMIT
        if excess <= 0:
            return line
        tail = _cut(self.log_tail, excess)
        excess -= len(self.log_tail) - len(tail)
        message = _cut(self.message, excess) if excess > 0 else self.message
        return replace(self, log_tail=tail, message=message).to_json()[:TERMINATION_MESSAGE_LIMIT]

    @classmethod
    def from_termination(cls, message: str, exit_code: int) -> TrainingResult:
        """What a pod reported; a message that is not a result (the pod was killed before
        it wrote one) becomes a failure that quotes it, and a result with a field of the
        wrong type or a number that is not finite is refused (``TerminationMessageInvalid``,
        naming the field). Never raises: the message is the pod's to write."""
        data = report_in(message)
        if data is None:
            return cls(reason=TRAINER_FAILED, message=message.strip()[-1000:], exit_code=exit_code)
        fields = Fields(data)
        try:
            return cls(
                reason=fields.reason(),
                message=fields.text("message"),
                artifact_uri=fields.text("artifact_uri"),
                sha256=fields.text("sha256"),
                format=fields.text("format"),
                framework=fields.text("framework"),
                metrics=fields.numbers("metrics"),
                baseline_version=fields.text("baseline_version"),
                baseline_metrics=fields.numbers("baseline_metrics"),
                candidate_metrics=fields.numbers("candidate_metrics"),
                exit_code=fields.exit_code("exit_code"),
                log_tail=fields.text("log_tail"),
            )
        except MessageInvalid as err:
            return cls(
                reason=MESSAGE_INVALID,
                message=f"the pod's termination message is not a valid training result: {err}",
                exit_code=exit_code,
            )


def _cut(text: str, excess: int) -> str:
    """``text`` without its first ``excess`` characters (and room for a marker)."""
    if excess <= 0:
        return text
    keep = len(text) - excess - 3
    return "..." + text[-keep:] if keep > 0 else ""


SCHEDULE_NAME = "MODELOPS_SCHEDULE"
"""Set instead of MODELOPS_RUN_DATE on a scheduled run: the CronJob's name. Its Jobs are
named <cronjob>-<minutes since the epoch of the scheduled time>, so a pod derives its
run's time from its Job's name (MODELOPS_JOB_NAME)."""
JOB_NAME = "MODELOPS_JOB_NAME"


def scheduled_time(job_name: str, schedule_name: str) -> str | None:
    """The scheduled time (RFC 3339, UTC) of a CronJob's Job, from its name."""
    prefix = f"{schedule_name}-"
    minutes = job_name.removeprefix(prefix)
    if not job_name.startswith(prefix) or not minutes.isdigit():
        return None
    return datetime.fromtimestamp(int(minutes) * 60, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


HYPERPARAMETER_OPTION = "--hyperparameter"
"""The train command's option for one hyperparameter, ``NAME=VALUE`` (repeated): a channel
of its own, so that only these are recorded as hyperparameters, never the user's own
``--name=value`` arguments. The trainer receives each as ``--NAME=VALUE`` after those."""


def hyperparameter_args(parameters: dict[str, str]) -> list[str]:
    """Hyperparameters as a trainer receives them: ``--name=value``, sorted by name."""
    return [f"--{name}={value}" for name, value in sorted(parameters.items())]


def hyperparameter_options(parameters: dict[str, str]) -> list[str]:
    """Hyperparameters as the train command takes them (``HYPERPARAMETER_OPTION``)."""
    return [arg for name, value in sorted(parameters.items())
            for arg in (HYPERPARAMETER_OPTION, f"{name}={value}")]  # fmt: skip
