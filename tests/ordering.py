"""The slowest tests first, so that parallel workers end together (registered by conftest.py).

pytest-xdist hands tests out in collection order, a round of them to each worker and then
one to whichever finishes; a long cluster test collected last would run alone at the end.
Each run records how long every test took (setup, call and teardown) in
``$MODELOPS_CACHE/test-durations.json``, outside the repository, and the next run orders
by it, longest first. A test never timed yet is placed by its tier (cluster tests before
process tests before unit tests). Only the order changes: every test still runs.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from pathlib import Path

import pytest

UNKNOWN = {"e2e": 60.0, "integration": 5.0}
"""Seconds assumed for a test of a tier with no recorded time yet (others: 0.1)."""
_took: defaultdict[str, float] = defaultdict(float)


def durations_file() -> Path:
    cache = Path(os.environ.get("MODELOPS_CACHE", Path.home() / ".cache" / "modelops"))
    return cache / "test-durations.json"


def _recorded() -> dict[str, float]:
    try:
        found = json.loads(durations_file().read_text())
    except (OSError, ValueError):
        return {}
    return {str(k): float(v) for k, v in found.items()} if isinstance(found, dict) else {}


def _guess(nodeid: str) -> float:
    tier = nodeid.split("/")[1] if nodeid.startswith("tests/") else ""
    return UNKNOWN.get(tier, 0.1)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    recorded = _recorded()
    # sort() is stable: equal times keep the collection order, the same in every worker.
    items.sort(key=lambda item: -recorded.get(item.nodeid, _guess(item.nodeid)))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _took[report.nodeid] += report.duration


def pytest_sessionfinish(session: pytest.Session) -> None:
    """The process that saw every report (xdist's controller, or the only one) keeps them."""
    if hasattr(session.config, "workerinput") or not _took:
        return
    merged = {**_recorded(), **{k: round(v, 2) for k, v in _took.items()}}
    path = durations_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(f".{os.getpid()}.tmp")
    temporary.write_text(json.dumps(merged, indent=0, sort_keys=True))
    temporary.replace(path)
