"""Which versions a Model's requests go to, and in what shares (pure).

Without ``traffic``, the serving version takes everything. With it, the stable version is
``defaultVersion`` when it is in the split, else the version with the largest share; the
others are candidates. A candidate gets its share only once it has a ready pod (until
then the stable version keeps it), a rolled-back candidate gets none, and with rollout
steps a candidate's share is its current step's.
"""

from __future__ import annotations

from dataclasses import dataclass

from modelops_contracts.serving import Route
from modelops_operator.api.model import ModelSpec


@dataclass(frozen=True)
class Split:
    stable: str
    candidates: tuple[str, ...]


def split_of(spec: ModelSpec) -> Split | None:
    if not spec.traffic:
        return None
    names = [t.version for t in spec.traffic]
    if spec.default_version in names:
        stable = spec.default_version
    else:
        stable = max(spec.traffic, key=lambda t: t.percent).version
    return Split(str(stable), tuple(n for n in names if n != stable))


def routes(
    spec: ModelSpec,
    serving: str | None,
    active: set[str],
    rolled_back: bool = False,
    step_percent: int | None = None,
) -> list[Route]:
    """The shares in effect. ``active``: versions with a ready pod."""
    split = split_of(spec)
    if split is None:
        return [Route(serving, 100)] if serving else []
    shares = {t.version: t.percent for t in spec.traffic}
    if step_percent is not None and len(split.candidates) == 1:
        shares = {split.stable: 100 - step_percent, split.candidates[0]: step_percent}
    found = []
    moved = 0
    for candidate in split.candidates:
        if rolled_back or candidate not in active:
            moved += shares[candidate]
        elif shares[candidate]:
            found.append(Route(candidate, shares[candidate]))
    stable_share = shares[split.stable] + moved
    return [Route(split.stable, stable_share), *found] if stable_share else found
