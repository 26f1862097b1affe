"""Version safety: an artifact saved with other framework versions is not served unless allowed."""

from __future__ import annotations

import json
from pathlib import Path

import sklearn

from tests.api.conftest import Serve
from tests.models import Trained


def _as_if_saved_by_another_sklearn(source: Path, folder: Path) -> Path:
    """The same pickle, as if saved by another scikit-learn (same-length version string)."""
    here = sklearn.__version__.encode()
    other = b"1.0." + b"0" * (len(here) - 4)
    assert len(other) == len(here)
    data = source.read_bytes()
    assert here in data
    path = folder / "old.joblib"
    path.write_bytes(data.replace(here, other))
    return path


async def test_inconsistent_version_warning_makes_the_server_not_ready(
    serve: Serve, iris: Trained, tmp_path: Path
) -> None:
    old = _as_if_saved_by_another_sklearn(iris.path, tmp_path)
    async with serve(old, name="iris") as client:
        ready = await client.get("/v2/health/ready")
    assert ready.status_code == 503
    error = ready.json()["error"]
    assert "InconsistentVersionWarning" in error or "Trying to unpickle estimator" in error
    async with serve(old, name="iris", allow_version_mismatch=True) as client:
        allowed = await client.post("/v1/models/iris:predict", json={"instances": iris.rows})
    assert allowed.json()["predictions"] == iris.local_predict().tolist()


async def test_recorded_versions_in_metadata_are_checked(
    serve: Serve, iris: Trained, tmp_path: Path
) -> None:
    (tmp_path / "model.joblib").write_bytes(iris.path.read_bytes())
    (tmp_path / "metadata.json").write_text(
        json.dumps({"framework": "sklearn", "framework_versions": {"sklearn": "1.2.2"}})
    )
    async with serve(tmp_path, name="iris") as client:
        ready = await client.get("/v2/health/ready")
        meta = (await client.get("/v2/models/iris")).json()
    assert ready.status_code == 503
    assert (
        f"saved with sklearn 1.2.2 but this runtime has sklearn {sklearn.__version__}"
        in ready.json()["error"]
    )
    assert meta["parameters"]["reason"] == "VersionMismatch"
