"""gs:// artifacts through google-cloud-storage.

No real Google Cloud Storage can be reached here, so a stand-in server
(fake-gcs-server, built by ``make install``) plays GCS on loopback; the client code under
test is the real google-cloud-storage library talking HTTP to it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from modelops_runtime import storage
from modelops_runtime.errors import ArtifactError
from tests.conftest import cluster_required
from tests.integration.servers import call, free_port, started
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
    argv = [str(binary), "-scheme", "http", "-host", "127.0.0.1", "-port", str(port),
            "-backend", "memory", "-log-level", "error"]  # fmt: skip
    host = f"http://127.0.0.1:{port}"
    with started(argv, host + "/storage/v1/b", "fake-gcs-server"):
        yield host


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


@pytest.mark.parametrize("name", ["../../escaped.txt", "{absolute}", "a/../../escaped.txt"])
def test_an_object_named_to_lead_outside_the_download_is_refused(
    gcs_bucket: str, tmp_path: Path, name: str
) -> None:
    """GCS stores object names with '..' parts (the emulator does too, as S3 does); a
    prefix download must not write them outside its folder."""
    from google.cloud import storage as gcs

    name = name.format(absolute=f"{tmp_path}/escaped.txt")  # model//tmp/...: absolute
    bucket = gcs.Client().bucket(gcs_bucket)
    bucket.blob("model/model.joblib").upload_from_string(b"model")
    bucket.blob(f"model/{name}").upload_from_string(b"not yours")
    cache = tmp_path / "deep" / "deeper" / "cache"
    with pytest.raises(ArtifactError) as err:
        storage.fetch(f"gs://{gcs_bucket}/model", cache)
    assert err.value.reason == "ArtifactInvalid"
    assert name in str(err.value)
    assert not list(tmp_path.rglob("escaped.txt"))
    assert not list(cache.iterdir())  # nothing kept, not even the part inside
