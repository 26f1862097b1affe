"""Whether an artifact's recorded framework versions fit the ones installed here (pure)."""

from __future__ import annotations

from collections.abc import Mapping

from modelops_runtime.artifacts import Format

_PICKLED = {Format.JOBLIB, Format.PICKLE, Format.SKOPS}


def _major_minor(version: str) -> tuple[int, int] | None:
    """``(1, 5)`` for ``"1.5.2"``; None for a version string that does not start so."""
    parts = version.split(".")
    try:
        return int(parts[0]), int(parts[1])
    except (IndexError, ValueError):
        return None


def framework_version_problems(
    recorded: Mapping[str, str],
    installed: Mapping[str, str],
    artifact_format: Format,
    framework: str,
) -> list[str]:
    """Reasons the artifact may not behave here as where it was saved; empty when it fits.

    Pickled estimators are only safe on the scikit-learn (and, for XGBoost wrappers, the
    XGBoost) minor version they were saved with. XGBoost's own JSON/UBJ formats load in the
    same or a newer XGBoost, so only a runtime older than the artifact is a problem.
    """
    problems = []
    checks: list[tuple[str, bool]] = []
    if artifact_format in _PICKLED:
        checks.append(("sklearn", True))
        if framework == "xgboost":
            checks.append(("xgboost", True))
    else:
        checks.append(("xgboost", False))
    for package, exact in checks:
        saved, here = recorded.get(package), installed.get(package)
        if not saved or not here:
            continue
        saved_release, here_release = _major_minor(saved), _major_minor(here)
        if saved_release is None or here_release is None:
            continue
        if (exact and saved_release != here_release) or (
            not exact and here_release < saved_release
        ):
            problems.append(
                f"artifact was saved with {package} {saved} but this runtime has {package} {here}"
            )
    return problems
