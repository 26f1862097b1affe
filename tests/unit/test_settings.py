"""Settings come from MODELOPS_* once; flags override; bad values are refused clearly."""

from __future__ import annotations

import pytest

from modelops_runtime.settings import Settings


def test_environment_then_overrides() -> None:
    env = {
        "MODELOPS_MODEL_NAME": "ctr",
        "MODELOPS_MAX_BATCH_SIZE": "8",
        "MODELOPS_ALLOW_VERSION_MISMATCH": "true",
    }
    settings = Settings.from_env(env, max_batch_size=16)
    assert settings.model_name == "ctr"
    assert settings.max_batch_size == 16
    assert settings.allow_version_mismatch is True


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"MODELOPS_DEFAULT_METHOD": "transform"}, "default method must be"),
        ({"MODELOPS_NAN_POLICY": "guess"}, "nan policy must be"),
        ({"MODELOPS_MAX_BATCH_SIZE": "0"}, "max batch size"),
    ],
)
def test_bad_values_are_refused(env: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Settings.from_env(env)
