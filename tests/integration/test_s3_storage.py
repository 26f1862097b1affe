"""Artifacts on a real S3-compatible server (the MinIO that ``make cluster-up`` runs)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import numpy as np
import pytest

from modelops_runtime import storage
from modelops_runtime.artifacts import write_metadata
from modelops_runtime.errors import ArtifactError
from tests.integration.servers import call, refusal
from tests.models import Trained

pytestmark = pytest.mark.cluster


@pytest.fixture
def bucket(s3_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    for key, value in s3_env.items():
        monkeypatch.setenv(key, value)
    name = f"test-{uuid.uuid4().hex[:12]}"
    client = boto3.client("s3", endpoint_url=s3_env["AWS_ENDPOINT_URL"])
    client.create_bucket(Bucket=name)
    yield name
    for item in client.list_objects_v2(Bucket=name).get("Contents", []):
        client.delete_object(Bucket=name, Key=item["Key"])
    client.delete_bucket(Bucket=name)


def test_upload_then_fetch_a_file_and_reuse_the_cache(
    bucket: str, iris: Trained, tmp_path: Path
) -> None:
    uri = f"s3://{bucket}/iris/v1/model.joblib"
    storage.upload(iris.path, uri)
    first = storage.fetch(uri, tmp_path / "cache")
    assert first.read_bytes() == iris.path.read_bytes()
    assert storage.fetch(uri, tmp_path / "cache") == first
    assert not list((tmp_path / "cache").glob(".partial-*"))


def test_a_prefix_is_a_folder_with_metadata(bucket: str, ctr: Trained, tmp_path: Path) -> None:
    folder = tmp_path / "v2"
    folder.mkdir()
    (folder / "model.joblib").write_bytes(ctr.path.read_bytes())
    write_metadata(folder, "xgboost", {"auc": 0.9})
    storage.upload(folder, f"s3://{bucket}/ctr/v2")
    fetched = storage.fetch(f"s3://{bucket}/ctr/v2", tmp_path / "cache")
    assert sorted(p.name for p in fetched.iterdir()) == ["metadata.json", "model.joblib"]


def test_folder_markers_in_a_prefix_are_passed_over(
    bucket: str, s3_env: dict[str, str], iris: Trained, tmp_path: Path
) -> None:
    """A console's "create folder" leaves a zero-byte key ending in '/'."""
    client = boto3.client("s3", endpoint_url=s3_env["AWS_ENDPOINT_URL"])
    for marker in ("iris/v3/", "iris/v3/extra/"):
        client.put_object(Bucket=bucket, Key=marker, Body=b"")
    storage.upload(iris.path, f"s3://{bucket}/iris/v3/model.joblib")
    fetched = storage.fetch(f"s3://{bucket}/iris/v3", tmp_path / "cache")
    assert fetched.name == "model.joblib"
    assert fetched.read_bytes() == iris.path.read_bytes()


def test_missing_key_and_bad_credentials_have_their_reasons(
    bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ArtifactError) as missing:
        storage.fetch(f"s3://{bucket}/nothing/here.joblib", tmp_path / "a")
    assert missing.value.reason == "ArtifactNotFound"
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong-secret")
    with pytest.raises(ArtifactError) as denied:
        storage.fetch(f"s3://{bucket}/nothing/here.joblib", tmp_path / "b")
    assert denied.value.reason == "AccessDenied"


def test_served_from_s3(start, bucket: str, houses: Trained) -> None:
    storage.upload(houses.path, f"s3://{bucket}/houses.joblib")
    server = start(f"s3://{bucket}/houses.joblib", "houses")
    server.wait_until_ready()
    status, body = call(server.url + "/v1/models/houses:predict", {"instances": houses.rows})
    assert status == 200
    np.testing.assert_allclose(body["predictions"], houses.local_predict())


def _upload_version(bucket: str, trained: Trained, prefix: str, tmp_path: Path) -> str:
    """A version's folder as the operator records it: the model and its metadata.json."""
    folder = tmp_path / prefix
    folder.mkdir(parents=True)
    (folder / "model.joblib").write_bytes(trained.path.read_bytes())
    write_metadata(folder, "sklearn")
    storage.upload(folder, f"s3://{bucket}/{prefix}")
    return f"s3://{bucket}/{prefix}/"


def test_a_light_wake_serves_an_s3_folder_pinned_to_its_sha256(
    start, bucket: str, iris: Trained, tmp_path: Path
) -> None:
    """What a woken pod runs without the fetch step: the download (started before the
    server's imports) is served once its checksum is the pinned one."""
    uri = _upload_version(bucket, iris, "iris/v1", tmp_path)
    log = tmp_path / "termination-log"
    server = start(uri, "iris", "--sha256", iris.sha256(), "--termination-log", str(log))
    server.wait_until_ready()
    status, body = call(server.url + "/v1/models/iris:predict", {"instances": iris.rows})
    assert status == 200
    np.testing.assert_array_equal(body["predictions"], iris.local_predict())
    assert not log.exists()
    cache = tmp_path / "cache"
    assert [p.name.startswith(".partial-") for p in cache.iterdir()] == [False]


def test_a_light_wake_refuses_s3_bytes_that_changed_since_verification(
    start, bucket: str, iris: Trained, houses: Trained, tmp_path: Path
) -> None:
    uri = _upload_version(bucket, houses, "iris/v1", tmp_path)
    log = tmp_path / "termination-log"
    server = start(uri, "iris", "--sha256", iris.sha256(), "--termination-log", str(log))
    verdict = refusal(server, log)
    assert (verdict.reason, verdict.condition) == ("ChecksumMismatch", "ArtifactVerified")
    assert houses.sha256() in verdict.message


def test_a_missing_s3_artifact_is_refused_with_its_reason(
    start, bucket: str, tmp_path: Path
) -> None:
    log = tmp_path / "termination-log"
    server = start(f"s3://{bucket}/gone/v1/", "gone", "--termination-log", str(log))
    verdict = refusal(server, log)
    assert verdict.reason == "ArtifactNotFound"
    assert f"no object or folder at s3://{bucket}/gone/v1/" in verdict.message
