"""Score this run's model and the serving version's with the evaluation hook, on the same
held-out data, in a child process of the trainer's interpreter (see ``hook``)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelops_contracts.training import EVALUATION_FAILED
from modelops_runtime import storage
from modelops_runtime.errors import ArtifactError
from modelops_runtime.training import process
from modelops_runtime.training.arguments import Hook
from modelops_runtime.training.failure import TrainingFailure


@dataclass(frozen=True)
class Scores:
    candidate: dict[str, float]
    baseline: dict[str, float]


def fetch_baseline(uri: str, downloads: Path) -> Path:
    """The serving version's artifact (a file or its folder) on local disk."""
    try:
        return storage.fetch(uri, downloads)
    except ArtifactError as err:
        raise TrainingFailure(
            EVALUATION_FAILED,
            f"cannot read the serving version's artifact {uri} to compare with it: {err} "
            f"({err.reason})",
        ) from err


def score(
    python: Path,
    hook: Hook,
    *,
    candidate: Path,
    baseline: Path,
    env: Mapping[str, str],
    trainer_argv: Sequence[str],
    folder: Path,
) -> Scores | None:
    """Both models' scores, None when the default hook is not defined, or
    EvaluationFailed with the hook's error and its last log lines."""
    out = folder / "scores.json"
    out.unlink(missing_ok=True)
    argv = [
        str(python), "-m", "modelops_runtime.training.hook", "--hook", str(hook),
        *([] if hook.explicit else ["--if-defined"]),
        "--candidate", str(candidate), "--baseline", str(baseline), "--out", str(out),
        "--", *trainer_argv,
    ]  # fmt: skip
    finished = process.run(argv, env)
    found = _read(out)
    if finished.exit_code != 0 or "error" in found:
        reason = found.get("error") or f"the evaluation of {hook} {finished.describe()}"
        raise TrainingFailure(
            EVALUATION_FAILED, str(reason), exit_code=finished.exit_code, log_tail=finished.tail
        )
    if found.get("hook") is None:
        return None
    return Scores(candidate=dict(found["candidate"]), baseline=dict(found["baseline"]))


def _read(out: Path) -> dict[str, Any]:
    try:
        data = json.loads(out.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
