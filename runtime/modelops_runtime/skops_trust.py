"""Which types a skops file may name (pure): skops' own safe list, the exact types below,
and the exact names the user adds. Never a module prefix: a prefix such as ``builtins.``
holds callables (``exec``, ``eval``) that skops would call while it builds the file's
objects, so a crafted file would run code at load."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

DEFAULT_SKOPS_TRUSTED_TYPES: tuple[str, ...] = (
    # Fitted scikit-learn and XGBoost models hold these beside skops' own safe list
    # (primitives, containers, numpy arrays and dtypes' scalar types, scikit-learn's
    # estimators and its loss, link and binning types).
    "numpy.dtype",
    "sklearn.tree._tree.Tree",
    "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
    "sklearn.neural_network._stochastic_optimizers.SGDOptimizer",
    "xgboost.core.Booster",
    "xgboost.sklearn.XGBClassifier",
    "xgboost.sklearn.XGBRegressor",
    "xgboost.sklearn.XGBRanker",
    "xgboost.sklearn.XGBRFClassifier",
    "xgboost.sklearn.XGBRFRegressor",
)
"""Not here, as in skops: HistGradientBoosting's ``TreePredictor``, whose node indices
scikit-learn trusts without bounds checks (a crafted file can crash the process when it
predicts); a user who saves one names it in ``MODELOPS_SKOPS_TRUSTED``."""


def refused_types(named: Iterable[str], trusted: Sequence[str]) -> list[str]:
    """The types a file names (those skops itself does not trust) that the policy does
    not trust either: each must be in ``trusted`` by its exact name."""
    allowed = set(trusted)
    return sorted({name for name in named if name not in allowed})


def prefixes_among(trusted: Sequence[str]) -> list[str]:
    """Entries that look like module prefixes (``mypackage.``): they trust nothing."""
    return [entry for entry in trusted if entry.endswith(".") or entry.endswith("*")]
