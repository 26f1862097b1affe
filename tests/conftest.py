"""Shared fixtures: models trained once per session into a temporary folder."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tests import models

# The operator's end-to-end fixtures (its install, the storage Secret), for tests/e2e; the
# start and end of a run on the cluster (its id; its namespaces and install removed); and
# the order of the tests (the slowest first, for the parallel workers).
pytest_plugins = [
    "tests.e2e.operator_fixtures",
    "tests.e2e.runtime_fixtures",
    "tests.e2e.session",
    "tests.ordering",
]


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
ctr_flipped = _cached("ctr_flipped", lambda folder: models.ctr_dict_pipeline(folder, flipped=True))
houses = _cached("houses", models.column_pipeline)
booster_json = _cached("booster_json", lambda folder: models.xgb_booster(folder, ".json"))
booster_ubj = _cached("booster_ubj", lambda folder: models.xgb_booster(folder, ".ubj"))
booster_named = _cached(
    "booster_named", lambda folder: models.xgb_booster(folder, ".json", feature_names=True)
)
iris_skops = _cached("iris_skops", models.skops_pipeline)


def cluster_required() -> bool:
    """In CI (``MODELOPS_REQUIRE_CLUSTER=1``) a missing cluster fails tests instead of skipping."""
    return os.environ.get("MODELOPS_REQUIRE_CLUSTER") == "1"


@pytest.fixture(scope="session")
def s3_env() -> dict[str, str]:
    """Endpoint and credentials of the real S3 server (MinIO) that ``make cluster-up`` starts."""
    state = Path(os.environ.get("MODELOPS_CLUSTER_STATE", "/var/lib/modelops-cluster"))
    env_file = Path(os.environ.get("MODELOPS_S3_ENV_FILE", state / "s3.env"))
    if not env_file.exists():
        message = f"no S3 server: {env_file} is missing (run make cluster-up)"
        if cluster_required():
            pytest.fail(message)
        pytest.skip(message)
    env = dict(line.split("=", 1) for line in env_file.read_text().splitlines() if "=" in line)
    import urllib.request

    try:
        urllib.request.urlopen(env["AWS_ENDPOINT_URL"] + "/minio/health/live", timeout=5).close()
    except OSError as err:
        message = f"the S3 server at {env['AWS_ENDPOINT_URL']} does not answer: {err}"
        if cluster_required():
            pytest.fail(message)
        pytest.skip(message)
    return env
