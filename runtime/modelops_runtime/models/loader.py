"""Loading an identified artifact into a served model, by its format (never by trial)."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from modelops_runtime.artifacts import Artifact, Format, installed_framework_versions
from modelops_runtime.errors import ArtifactError
from modelops_runtime.models.base import Model
from modelops_runtime.models.compatibility import framework_version_problems
from modelops_runtime.models.sklearn import SklearnModel
from modelops_runtime.models.xgboost_booster import BoosterModel
from modelops_runtime.skops_trust import prefixes_among, refused_types


@dataclass(frozen=True)
class Loaded:
    model: Model
    framework_version_problems: list[str] = field(default_factory=list)


def load(artifact: Artifact, skops_trusted: Sequence[str]) -> Loaded:
    """Load the artifact; version problems are returned, for the caller's policy to judge."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        obj = load_object(artifact, skops_trusted)
    model = _wrap(obj, artifact)
    problems = framework_version_problems(
        artifact.metadata.framework_versions,
        installed_framework_versions(),
        artifact.format,
        model.framework,
    )
    problems += [
        str(w.message) for w in caught if type(w.message).__name__ == "InconsistentVersionWarning"
    ]
    return Loaded(model=model, framework_version_problems=problems)


def load_object(artifact: Artifact, skops_trusted: Sequence[str]) -> Any:
    """The object saved in the artifact, as its framework loads it (an estimator or
    pipeline, an XGBoost Booster), without the served model's wrapper."""
    return _LOADERS[artifact.format](artifact, skops_trusted)


def _load_pickle(artifact: Artifact, _trusted: Sequence[str]) -> Any:
    import joblib

    try:
        return joblib.load(artifact.path)
    except (ModuleNotFoundError, AttributeError) as err:
        raise ArtifactError(
            f"{artifact.path.name} needs code that is not in this runtime: {err}; "
            "install the package that defines it in the runtime image",
            reason="MissingCode",
        ) from err
    except Exception as err:
        raise ArtifactError(
            f"{artifact.path.name} could not be unpickled: {type(err).__name__}: {err}",
            reason="ArtifactCorrupt",
        ) from err


def _load_skops(artifact: Artifact, trusted: Sequence[str]) -> Any:
    import skops.io as sio

    try:
        # Reads the file's schema only: nothing in it is built before the check.
        untrusted = sio.get_untrusted_types(file=artifact.path)
        refused = refused_types(untrusted, trusted)
        if refused:
            prefixes = prefixes_among(trusted)
            note = (f" ({', '.join(prefixes)}: a prefix trusts nothing, name each type)"
                    if prefixes else "")  # fmt: skip
            raise ArtifactError(
                f"{artifact.path.name} holds types outside the trusted policy: {refused}; "
                f"add their exact names to MODELOPS_SKOPS_TRUSTED to load it{note}",
                reason="UntrustedTypes",
            )
        return sio.load(artifact.path, trusted=untrusted)
    except ArtifactError:
        raise
    except Exception as err:
        raise ArtifactError(
            f"{artifact.path.name} is not a readable skops file: {type(err).__name__}: {err}",
            reason="ArtifactCorrupt",
        ) from err


def _load_booster(artifact: Artifact, _trusted: Sequence[str]) -> Any:
    try:
        import xgboost
    except ImportError as err:
        raise ArtifactError(
            "XGBoost models need the xgboost package in this runtime", reason="MissingCode"
        ) from err
    try:
        return xgboost.Booster(model_file=str(artifact.path))
    except xgboost.core.XGBoostError as err:
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else "unreadable"
        raise ArtifactError(
            f"{artifact.path.name} is not a loadable XGBoost model: {first_line}",
            reason="ArtifactCorrupt",
        ) from err


_LOADERS = {
    Format.JOBLIB: _load_pickle,
    Format.PICKLE: _load_pickle,
    Format.SKOPS: _load_skops,
    Format.XGBOOST_JSON: _load_booster,
    Format.XGBOOST_UBJ: _load_booster,
}


def _wrap(obj: Any, artifact: Artifact) -> Model:
    if type(obj).__name__ == "Booster" and type(obj).__module__.startswith("xgboost"):
        return BoosterModel(obj)
    if hasattr(obj, "predict"):
        return SklearnModel(obj)
    raise ArtifactError(
        f"{artifact.path.name} holds a {type(obj).__name__}, which has no predict method",
        reason="NotAModel",
    )
