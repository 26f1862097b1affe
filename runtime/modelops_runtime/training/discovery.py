"""The model the user's code wrote: one model file in the model dir, or one folder in it
holding one model file; its format decided by the runtime's own rules (name and bytes)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from modelops_contracts.training import MODEL_DIR, NO_MODEL_WRITTEN
from modelops_runtime.artifacts import METADATA_FILE, Format, detect_format, locate
from modelops_runtime.errors import ArtifactError
from modelops_runtime.training.failure import TrainingFailure

HOW = (
    f"save one model file in ${MODEL_DIR} (a module also gets it as --job-dir), e.g. "
    f"joblib.dump(model, os.path.join(os.environ['{MODEL_DIR}'], 'model.joblib'))"
)


@dataclass(frozen=True)
class Found:
    path: Path
    format: Format


def find_model(model_dir: Path) -> Found:
    """The model file, or NoModelWritten saying what was found instead and what to do."""
    entries = sorted(p for p in model_dir.iterdir() if not p.name.startswith("."))
    files = [p for p in entries if p.is_file() and p.name != METADATA_FILE]
    folders = [p for p in entries if p.is_dir()]
    if not files and not folders:
        raise TrainingFailure(NO_MODEL_WRITTEN, f"the trainer ended well but wrote no model: {HOW}")
    if not files and len(folders) > 1:
        names = ", ".join(p.name + "/" for p in folders)
        raise TrainingFailure(
            NO_MODEL_WRITTEN,
            f"the model dir holds several folders ({names}) and no model file: {HOW}",
        )
    where = model_dir if files else folders[0]
    try:
        model_file = locate(where)
        return Found(model_file, detect_format(model_file))
    except ArtifactError as err:
        raise TrainingFailure(
            NO_MODEL_WRITTEN, f"the trainer wrote no model the runtime can serve: {err}"
        ) from err
