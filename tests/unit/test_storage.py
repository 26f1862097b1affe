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
