"""Whether an artifact's recorded framework versions fit the ones installed here (pure)."""

from __future__ import annotations

from collections.abc import Mapping

from modelops_runtime.artifacts import Format

_PICKLED = {Format.JOBLIB, Format.PICKLE, Format.SKOPS}


def _major_minor(version: str) -> tuple[int, int] | None:
    parts = version.split(".")
    try:
        return int(parts[0]), int(parts[1])
    except (IndexError, ValueError):
        return None


def version_problems(
    recorded: Mapping[str, str], installed: Mapping[str, str], fmt: Format, framework: str
) -> list[str]:
    """Reasons the artifact may not behave here as where it was saved; empty when it fits.

    Pickled estimators are only safe on the scikit-learn (and, for XGBoost wrappers, the
    XGBoost) minor version they were saved with. XGBoost's own JSON/UBJ formats load in the
    same or a newer XGBoost, so only a runtime older than the artifact is a problem.
    """
    problems = []
    checks: list[tuple[str, bool]] = []
    if fmt in _PICKLED:
        checks.append(("sklearn", True))
        if framework == "xgboost":
            checks.append(("xgboost", True))
    else:
        checks.append(("xgboost", False))
    for package, exact in checks:
        saved, here = recorded.get(package), installed.get(package)
        if not saved or not here:
            continue
        saved_mm, here_mm = _major_minor(saved), _major_minor(here)
        if saved_mm is None or here_mm is None:
            continue
        if (exact and saved_mm != here_mm) or (not exact and here_mm < saved_mm):
            problems.append(
                f"artifact was saved with {package} {saved} but this runtime has {package} {here}"
            )
    return problems
