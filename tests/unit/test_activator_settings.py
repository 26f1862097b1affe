"""The activator's settings: read once from ``MODELOPS_ACTIVATOR_*``, the limits on what a
client may make it hold among them, with the defaults a shared deployment wants."""

from __future__ import annotations

import pytest

from modelops_runtime.activator.settings import ActivatorSettings

MiB = 1024 * 1024


def test_the_limits_default_to_what_a_shared_activator_wants() -> None:
    settings = ActivatorSettings.from_env({})
    assert settings.max_head_bytes == 16 * 1024
    assert settings.read_timeout_seconds == 30.0
    assert settings.max_body_bytes == 64 * MiB
    assert settings.max_read_ahead_bytes == 1 * MiB
    assert settings.max_answer_bytes == 64 * MiB
    assert settings.max_buffered_bytes == 128 * MiB


def test_each_limit_is_read_from_its_variable() -> None:
    settings = ActivatorSettings.from_env(
        {
            "MODELOPS_ACTIVATOR_MAX_HEAD_BYTES": "8192",
            "MODELOPS_ACTIVATOR_READ_TIMEOUT_SECONDS": "2.5",
            "MODELOPS_ACTIVATOR_MAX_BODY_BYTES": "1048576",
            "MODELOPS_ACTIVATOR_MAX_READ_AHEAD_BYTES": "0",
            "MODELOPS_ACTIVATOR_MAX_ANSWER_BYTES": "2097152",
            "MODELOPS_ACTIVATOR_MAX_BUFFERED_BYTES": "33554432",
        }
    )
    assert (
        settings.max_head_bytes,
        settings.read_timeout_seconds,
        settings.max_body_bytes,
        settings.max_read_ahead_bytes,
        settings.max_answer_bytes,
        settings.max_buffered_bytes,
    ) == (8192, 2.5, MiB, 0, 2 * MiB, 32 * MiB)


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("READ_TIMEOUT_SECONDS", "0", "read timeout seconds must be positive"),
        ("MAX_HEAD_BYTES", "100", "max_head_bytes must be at least 1024, not 100"),
        ("MAX_BODY_BYTES", "0", "max_body_bytes must be at least 1024, not 0"),
        ("MAX_ANSWER_BYTES", "10", "max_answer_bytes must be at least 1024, not 10"),
        ("MAX_BUFFERED_BYTES", "-1", "max read-ahead and buffered bytes cannot be negative"),
        ("WAKE_RENEW_SECONDS", "30", r"wake renew seconds must be above 0 and below the lease"),
    ],
)
def test_a_limit_that_would_refuse_every_request_is_refused_at_start(
    variable: str, value: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        ActivatorSettings.from_env({f"MODELOPS_ACTIVATOR_{variable}": value})
