"""Shared fixtures: models trained once per session into a temporary folder."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests import models


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


def _cached(name: str, builder: Callable[[Path], models.Trained]) -> Callable[..., models.Trained]:
    @pytest.fixture(scope="session", name=name)
    def fixture(tmp_path_factory: pytest.TempPathFactory) -> models.Trained:
        return builder(tmp_path_factory.mktemp(name))

    return fixture


iris = _cached("iris", models.iris_pipeline)
ctr = _cached("ctr", models.ctr_dict_pipeline)
houses = _cached("houses", models.column_pipeline)
booster_json = _cached("booster_json", lambda folder: models.xgb_booster(folder, ".json"))
booster_ubj = _cached("booster_ubj", lambda folder: models.xgb_booster(folder, ".ubj"))
booster_named = _cached(
    "booster_named", lambda folder: models.xgb_booster(folder, ".json", feature_names=True)
)
iris_skops = _cached("iris_skops", models.skops_pipeline)
