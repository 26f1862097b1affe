"""What the user's code sees: the folders of the work dir and the trainer contract's
environment variables (their names are ``modelops_contracts.training``'s).

The operator may set the contract's paths on the pod (an image's trainer, run before
the entrypoint, writes there too); those win over the work dir's defaults, so both
sides of a pod always agree on where the model and the metrics are.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from modelops_contracts.training import (
    BASELINE_URI,
    BASELINE_VERSION,
    HYPERTUNE_FILE,
    JOB_NAME,
    METRICS_FILE,
    MODEL_DIR,
    OUTPUT_URI,
    RANK,
    RUN_DATE,
    SCHEDULE_NAME,
    WORLD_SIZE,
    scheduled_time,
)

DEFAULT_WORK_DIR = Path("/tmp/modelops-train")


@dataclass(frozen=True)
class Workspace:
    """The entrypoint's folders under one writable work dir (a pod's root filesystem is
    read-only; the work dir is an emptyDir), and the contract's paths: the pod's when it
    sets them, else the work dir's."""

    root: Path
    model_dir: Path
    metrics_file: Path
    hypertune_file: Path
    tmp: Path
    """TMPDIR of the user's code and pip."""

    @classmethod
    def of(cls, root: Path, env: Mapping[str, str]) -> Workspace:
        def given(name: str, default: Path) -> Path:
            value = env.get(name, "").strip()
            return Path(value) if value else default

        return cls(
            root=root,
            model_dir=given(MODEL_DIR, root / "model"),
            metrics_file=given(METRICS_FILE, root / "metrics" / "metrics.json"),
            hypertune_file=given(HYPERTUNE_FILE, root / "metrics" / "hypertune" / "output.metrics"),
            tmp=given("TMPDIR", root / "tmp"),
        )

    @property
    def downloads(self) -> Path:
        return self.root / "downloads"

    @property
    def venv(self) -> Path:
        return self.root / "venv"

    @property
    def artifact(self) -> Path:
        """The folder uploaded: the model file and its metadata.json."""
        return self.root / "artifact"

    @property
    def evaluation(self) -> Path:
        return self.root / "evaluation"

    def prepare(self, keep_outputs: bool = False) -> None:
        """The folders of this run, and nothing a previous run in the same volume left (a
        model, metrics) that could pass for this run's; ``keep_outputs`` when collecting
        what an image's trainer just wrote."""
        if not keep_outputs:
            shutil.rmtree(self.model_dir, ignore_errors=True)
            self.metrics_file.unlink(missing_ok=True)
            self.hypertune_file.unlink(missing_ok=True)
        for stale in (self.artifact, self.evaluation):
            shutil.rmtree(stale, ignore_errors=True)
        for folder in (self.model_dir, self.metrics_file.parent, self.hypertune_file.parent,
                       self.downloads, self.tmp):  # fmt: skip
            folder.mkdir(parents=True, exist_ok=True)


def run_date(env: Mapping[str, str], now: datetime | None = None) -> str:
    """The time the run is for, in UTC as RFC 3339: the operator's ``MODELOPS_RUN_DATE``;
    for a scheduled run, the tick its Job's name carries; else now."""
    given = env.get(RUN_DATE, "").strip()
    if given:
        return given
    schedule = env.get(SCHEDULE_NAME, "").strip()
    tick = scheduled_time(env.get(JOB_NAME, "").strip(), schedule) if schedule else None
    if tick:
        return tick
    moment = now or datetime.now(UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def trainer_env(
    base: Mapping[str, str], workspace: Workspace, date: str, output: str
) -> dict[str, str]:
    """The environment of the user's code: ours, plus the contract's variables (the
    operator's others, like ``MODELOPS_BASELINE_URI``, pass through unchanged)."""
    return {
        RANK: "0",  # a single worker; a distributed run's pods set their own
        WORLD_SIZE: "1",
        **base,
        MODEL_DIR: str(workspace.model_dir),
        METRICS_FILE: str(workspace.metrics_file),
        HYPERTUNE_FILE: str(workspace.hypertune_file),
        RUN_DATE: date,
        OUTPUT_URI: output,
        "TMPDIR": str(workspace.tmp),
        "PYTHONUNBUFFERED": "1",  # lines reach the log as they are printed
    }


def baseline(env: Mapping[str, str]) -> tuple[str, str]:
    """The serving version's artifact URI and name, when the operator gives them."""
    return env.get(BASELINE_URI, "").strip(), env.get(BASELINE_VERSION, "").strip()
