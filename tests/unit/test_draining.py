"""When a drain may end: after a quiet spell without requests, or at its limit."""

from __future__ import annotations

import pytest

from modelops_runtime.draining import DRAIN_LIMIT_FACTOR, drain_over

STARTED = 1000.0


@pytest.mark.parametrize(
    ("now", "last_request", "over"),
    [
        (STARTED + 4.9, 0.0, False),  # no request ever, not yet quiet for 5 s
        (STARTED + 5.0, 0.0, True),
        (STARTED + 5.0, STARTED - 60, True),  # a request before SIGTERM does not extend it
        (STARTED + 7.0, STARTED + 3.0, False),  # one 4 s ago: traffic still arrives
        (STARTED + 8.0, STARTED + 3.0, True),
        (STARTED + 14.9, STARTED + 14.0, False),
        (STARTED + DRAIN_LIMIT_FACTOR * 5.0, STARTED + 14.9, True),  # the limit
    ],
)
def test_a_drain_ends_after_a_quiet_spell_or_at_its_limit(now, last_request, over) -> None:
    assert drain_over(now, STARTED, last_request, 5.0) is over


def test_no_quiet_spell_means_no_drain() -> None:
    assert drain_over(STARTED, STARTED, STARTED, 0.0) is True
