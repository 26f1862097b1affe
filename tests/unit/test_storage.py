"""Local schemes of the storage module (remote ones are tested against real servers)."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelops_runtime import storage
from modelops_runtime.errors import ArtifactError


def test_plain_paths_and_file_uris_are_used_in_place(tmp_path: Path) -> None:
    model = tmp_path / "m.joblib"
    model.write_bytes(b"x")
    assert storage.fetch(str(model), tmp_path / "cache") == model
    assert storage.fetch(f"file://{model}", tmp_path / "cache") == model
    assert not (tmp_path / "cache").exists()


def test_pvc_uris_resolve_under_the_mount_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODELOPS_PVC_ROOT", str(tmp_path))
    storage.upload(_file(tmp_path / "src.bin", b"abc"), "pvc://models/ctr/v1/model.joblib")
    fetched = storage.fetch("pvc://models/ctr/v1/model.joblib", tmp_path / "cache")
    assert fetched == tmp_path / "models/ctr/v1/model.joblib"
    assert fetched.read_bytes() == b"abc"


def test_unknown_schemes_are_refused_with_the_list(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match=r"unsupported URI scheme 'ftp'.*s3://") as err:
        storage.fetch("ftp://host/m.joblib", tmp_path)
    assert err.value.reason == "UnsupportedURI"


def test_sha256_of_a_file(tmp_path: Path) -> None:
    assert storage.sha256_of(_file(tmp_path / "f", b"abc")) == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )


def test_http_errors_name_the_status(tmp_path: Path) -> None:
    import http.server
    import threading

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        uri = f"http://127.0.0.1:{server.server_address[1]}/definitely/not/here.joblib"
        with pytest.raises(ArtifactError, match="answered 404") as err:
            storage.fetch(uri, tmp_path / "cache")
    finally:
        server.shutdown()
        server.server_close()
    assert err.value.reason == "ArtifactNotFound"
    assert not any((tmp_path / "cache").glob(".partial-*"))  # nothing half-downloaded kept


def _file(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("name", ["../x", "a/../../x", "/etc/x", ".", "a//b", "a\\..\\x", ""])
def test_a_name_that_leads_outside_its_folder_is_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(ArtifactError) as err:
        storage.inside(tmp_path, name, "s3://b/p")
    assert err.value.reason == "ArtifactInvalid"


def test_a_name_inside_its_folder_is_joined_part_by_part(tmp_path: Path) -> None:
    assert storage.inside(tmp_path, "a/b/model.joblib", "s3://b/p") == tmp_path / "a/b/model.joblib"


def test_a_pvc_uri_cannot_climb_out_of_the_mount_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODELOPS_PVC_ROOT", str(tmp_path / "pvc"))
    with pytest.raises(ArtifactError) as err:
        storage.upload(_file(tmp_path / "src.bin", b"abc"), "pvc://models/../../escaped.bin")
    assert err.value.reason == "ArtifactInvalid"
    assert not (tmp_path / "escaped.bin").exists()


class _ListingS3:
    """Stands in for an S3 client that lists hostile keys: AWS S3 stores keys with '..'
    or a leading '/' part, but the MinIO these tests run refuses to (its object names
    are file paths), so no real server here can hold them."""

    def __init__(self, keys: list[str]) -> None:
        self.keys, self.downloaded = keys, []

    def head_object(self, **_: object) -> None:
        from botocore.exceptions import ClientError

        raise ClientError({"Error": {"Code": "404"}}, "HeadObject")

    def get_paginator(self, _: str) -> _ListingS3:
        return self

    def paginate(self, **_: object) -> list[dict[str, object]]:
        return [{"Contents": [{"Key": key} for key in self.keys]}]

    def download_file(self, bucket: str, key: str, dest: str) -> None:
        self.downloaded.append(key)
        Path(dest).write_bytes(b"not yours")


@pytest.mark.parametrize("hostile", ["m/../../escaped.bin", "m//tmp/escaped.bin"])
def test_an_s3_prefix_with_a_key_leading_outside_downloads_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hostile: str
) -> None:
    client = _ListingS3(["m/model.joblib", hostile])
    monkeypatch.setattr(storage, "_s3_client", lambda: client)
    with pytest.raises(ArtifactError) as err:
        storage.fetch("s3://bucket/m", tmp_path / "cache")
    assert err.value.reason == "ArtifactInvalid"
    assert client.downloaded == []  # every name is checked before the first download
    assert not list((tmp_path / "cache").iterdir())
