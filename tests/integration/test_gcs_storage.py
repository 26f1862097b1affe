"""gs:// artifacts through google-cloud-storage.

No real Google Cloud Storage can be reached here, so a stand-in server
(fake-gcs-server, built by ``make install``) plays GCS on loopback; the client code under
test is the real google-cloud-storage library talking HTTP to it.
"""

from __future__ import annotations

import os
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from modelops_runtime import storage
from modelops_runtime.errors import ArtifactError
from tests.conftest import cluster_required
from tests.integration.servers import call, free_port
from tests.models import Trained


@pytest.fixture(scope="module")
def gcs_host() -> Iterator[str]:
    binary = Path(os.environ.get("MODELOPS_FAKE_GCS", ""))
    if not binary.is_file():
        message = "fake-gcs-server is not built (make install builds it)"
        if cluster_required():
            pytest.fail(message)
        pytest.skip(message)
    port = free_port()
    process = subprocess.Popen(
        [
            str(binary),
            "-scheme",
            "http",
            "-host",
            "127.0.0.1",
            "-port",
            str(port),
            "-backend",
            "memory",
            "-log-level",
            "error",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    host = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(host + "/storage/v1/b", timeout=2).close()
            break
        except OSError:
            time.sleep(0.1)
    yield host
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture
def gcs_bucket(gcs_host: str, monkeypatch: pytest.MonkeyPatch) -> str:
    from google.cloud import storage as gcs

    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_host)
    name = f"bucket-{free_port()}"
    gcs.Client().create_bucket(name)
    return name


def test_upload_fetch_and_serve_from_gs(
    start, gcs_bucket: str, iris: Trained, tmp_path: Path
) -> None:
    storage.upload(iris.path, f"gs://{gcs_bucket}/iris/model.joblib")
    fetched = storage.fetch(f"gs://{gcs_bucket}/iris/model.joblib", tmp_path / "cache")
    assert fetched.read_bytes() == iris.path.read_bytes()
    # A prefix is a folder; a folder of one file comes back as that file.
    from_prefix = storage.fetch(f"gs://{gcs_bucket}/iris", tmp_path / "cache")
    assert from_prefix.name == "model.joblib"
    assert from_prefix.read_bytes() == iris.path.read_bytes()

    server = start(f"gs://{gcs_bucket}/iris/model.joblib", "iris")
    server.wait_until_ready()
    status, body = call(server.url + "/v1/models/iris:predict", {"instances": iris.rows})
    assert status == 200
    np.testing.assert_array_equal(body["predictions"], iris.local_predict())


def test_missing_object(gcs_bucket: str, tmp_path: Path) -> None:
    with pytest.raises(ArtifactError) as err:
        storage.fetch(f"gs://{gcs_bucket}/absent.joblib", tmp_path / "cache")
    assert err.value.reason == "ArtifactNotFound"
