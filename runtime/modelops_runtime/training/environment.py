"""What the user's code sees: the folders of the work dir and the trainer contract's
environment variables (their names are ``modelops_contracts.training``'s)."""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from modelops_contracts.training import (
    BASELINE_URI,
    HYPERTUNE_FILE,
    METRICS_FILE,
    MODEL_DIR,
    OUTPUT_URI,
    RUN_DATE,
)

DEFAULT_WORK_DIR = Path("/tmp/modelops-train")


@dataclass(frozen=True)
class Workspace:
    """The entrypoint's folders under one writable work dir (a pod's root filesystem is
    read-only; the work dir is an emptyDir)."""

    root: Path

    @property
    def model_dir(self) -> Path:
        return self.root / "model"

    @property
    def metrics_file(self) -> Path:
        return self.root / "metrics" / "metrics.json"

    @property
    def hypertune_file(self) -> Path:
        return self.root / "metrics" / "hypertune" / "output.metrics"

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

    @property
    def tmp(self) -> Path:
        """TMPDIR of the user's code and pip (a read-only root may have no /tmp)."""
        return self.root / "tmp"

    def prepare(self) -> None:
        """Empty folders for this run: nothing a previous run in the same volume left (a
        model, metrics) may pass for this run's."""
        for stale in (self.model_dir, self.metrics_file.parent, self.artifact, self.evaluation):
            shutil.rmtree(stale, ignore_errors=True)
        for folder in (self.model_dir, self.hypertune_file.parent, self.downloads, self.tmp):
            folder.mkdir(parents=True, exist_ok=True)


def run_date(env: Mapping[str, str], now: datetime | None = None) -> str:
    """The time the run is for: the operator's ``MODELOPS_RUN_DATE`` (a schedule's tick),
    or else now, in UTC as RFC 3339."""
    given = env.get(RUN_DATE, "").strip()
    if given:
        return given
    moment = now or datetime.now(UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def trainer_env(
    base: Mapping[str, str], workspace: Workspace, date: str, output: str
) -> dict[str, str]:
    """The environment of the user's code: ours, plus the contract's variables (the
    operator's others, like ``MODELOPS_BASELINE_URI``, pass through unchanged), and a
    TMPDIR in the work dir unless one is set."""
    return {
        "TMPDIR": str(workspace.tmp),
        **base,
        MODEL_DIR: str(workspace.model_dir),
        METRICS_FILE: str(workspace.metrics_file),
        HYPERTUNE_FILE: str(workspace.hypertune_file),
        RUN_DATE: date,
        OUTPUT_URI: output,
        "PYTHONUNBUFFERED": "1",  # lines reach the log as they are printed
    }


def baseline_uri(env: Mapping[str, str]) -> str:
    return env.get(BASELINE_URI, "").strip()
