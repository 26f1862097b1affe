"""One storage module for every URI scheme, shared by the predictor, trainer and CLI.

``fetch`` brings an artifact (a file or a folder) to a local path; remote objects land in
a cache folder through a temporary name and are renamed into place only when complete,
so a partial download is never used. ``upload`` writes a local file or folder to a URI.

Schemes: plain paths and ``file://``, ``http(s)://``, ``s3://`` (any S3-compatible server:
endpoint from ``MODELOPS_S3_ENDPOINT`` or ``AWS_ENDPOINT_URL``, credentials the usual AWS
way), ``gs://`` (google-cloud-storage, the ``gcs`` extra) and ``pvc://CLAIM/PATH`` (a
volume the operator mounts under ``MODELOPS_PVC_ROOT``, default ``/mnt/pvc``).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from modelops_runtime.errors import ArtifactError

SCHEMES = ("file", "http", "https", "s3", "gs", "pvc")
_CHUNK = 1024 * 1024


def scheme_of(uri: str) -> str:
    parsed = urlparse(uri)
    # A one-letter scheme is a Windows drive, a plain path.
    if not parsed.scheme or len(parsed.scheme) == 1:
        return "file"
    if parsed.scheme not in SCHEMES:
        raise ArtifactError(
            f"unsupported URI scheme {parsed.scheme!r} in {uri!r}; use one of "
            + ", ".join(f"{s}://" for s in SCHEMES),
            reason="UnsupportedURI",
        )
    return parsed.scheme


def sha256_of(file: Path) -> str:
    """The hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with file.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def fetch(uri: str, cache_dir: Path) -> Path:
    """A local path holding the artifact at ``uri``, downloading it once if remote."""
    scheme = scheme_of(uri)
    if scheme == "file":
        return _existing(Path(urlparse(uri).path if uri.startswith("file://") else uri), uri)
    if scheme == "pvc":
        return _existing(_pvc_path(uri), uri)
    target = cache_dir / hashlib.sha256(uri.encode()).hexdigest()[:32]
    if target.exists():
        return _single_entry(target)
    cache_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".partial-", dir=cache_dir))
    try:
        _DOWNLOADERS[scheme](uri, staging)
        try:
            staging.rename(target)
        except OSError:
            if not target.exists():  # lost a race to another process: theirs is complete
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return _single_entry(target)


def list_files(uri: str) -> list[str]:
    """The URIs of the files under a prefix (a folder, a bucket's key prefix), sorted; a
    plain path lists as plain paths. An ArtifactError when there are none."""
    scheme = scheme_of(uri)
    if scheme in ("file", "pvc"):
        given = uri.startswith("file://")
        root = _pvc_path(uri) if scheme == "pvc" else Path(urlparse(uri).path if given else uri)
        found = sorted(p for p in _existing(root, uri).rglob("*") if p.is_file())
        base = uri.rstrip("/")
        names = [p.relative_to(root).as_posix() for p in found]
        listed = [f"{base}/{n}" for n in names] if root.is_dir() else [uri]
    elif scheme == "s3":
        bucket, key = _bucket_key(uri)
        client = _s3_client()
        prefix = key.rstrip("/") + "/" if key else ""
        keys = _s3_call(lambda: list(_s3_keys_under(client, bucket, prefix)), uri)
        listed = sorted(f"s3://{bucket}/{k}" for k in keys if not k.endswith("/"))
    else:
        raise ArtifactError(f"cannot list {scheme}:// URIs", reason="UnsupportedURI")
    if not listed:
        raise ArtifactError(f"no files under {uri}", reason="ArtifactNotFound")
    return listed


def upload(local: Path, uri: str) -> None:
    """Write a local file (or a folder's files under a prefix) to ``uri``."""
    scheme = scheme_of(uri)
    files = [local] if local.is_file() else sorted(p for p in local.rglob("*") if p.is_file())
    for file in files:
        dest = (
            uri if local.is_file() else uri.rstrip("/") + "/" + file.relative_to(local).as_posix()
        )
        if scheme in ("file", "pvc"):
            path = _pvc_path(dest) if scheme == "pvc" else Path(urlparse(dest).path)
            path.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(file, path)
        elif scheme == "s3":
            _upload_s3(file, dest)
        elif scheme == "gs":
            bucket, key = _bucket_key(dest)
            _gcs_client().bucket(bucket).blob(key).upload_from_filename(str(file))
        else:
            raise ArtifactError(f"cannot upload to {scheme}:// URIs", reason="UnsupportedURI")


def _existing(path: Path, uri: str) -> Path:
    if not path.exists():
        raise ArtifactError(f"no file or folder at {uri}", reason="ArtifactNotFound")
    return path


def _pvc_path(uri: str) -> Path:
    parsed = urlparse(uri)
    root = Path(os.environ.get("MODELOPS_PVC_ROOT", "/mnt/pvc"))
    return inside(root, f"{parsed.netloc}/{parsed.path.lstrip('/')}".rstrip("/"), uri)


def inside(folder: Path, relative: str, uri: str) -> Path:
    """``folder``/``relative`` for a key or path that stays inside ``folder``: a name
    taken from a bucket or a URI must never write (or read) outside it."""
    parts = relative.split("/")
    if not relative or any(part in ("", ".", "..") for part in parts) or "\\" in relative:
        raise ArtifactError(
            f"{uri}: the name {relative!r} would lead outside its folder ('..', '.', an "
            "empty or absolute part); rename the object",
            reason="ArtifactInvalid",
        )
    return folder.joinpath(*parts)


def _objects_under(prefix: str, keys: list[str]) -> list[tuple[str, str]]:
    """Each key under ``prefix`` with its name relative to it; folder markers (a key
    ending in '/', as consoles create them) hold no data and are passed over."""
    return [(key, key[len(prefix) :]) for key in keys if not key.endswith("/")]


def _single_entry(folder: Path) -> Path:
    """A download folder holds the object under its own name; a prefix download, a tree."""
    entries = list(folder.iterdir())
    if len(entries) == 1 and entries[0].is_file():
        return entries[0]
    return folder


def _bucket_key(uri: str) -> tuple[str, str]:
    parsed = urlparse(uri)
    if not parsed.netloc:
        raise ArtifactError(f"{uri!r} names no bucket", reason="UnsupportedURI")
    return parsed.netloc, parsed.path.lstrip("/")


def _basename(key: str) -> str:
    name = key.rstrip("/").rsplit("/", 1)[-1]
    return name if name not in ("", ".", "..") else "artifact"


# --- http(s) ---------------------------------------------------------------------------


def _download_http(uri: str, staging: Path) -> None:
    name = _basename(urlparse(uri).path)
    try:
        with (
            urllib.request.urlopen(uri, timeout=60) as response,
            (staging / name).open("wb") as out,
        ):
            shutil.copyfileobj(response, out, _CHUNK)
    except urllib.error.HTTPError as err:
        reason = "ArtifactNotFound" if err.code == 404 else "StorageError"
        raise ArtifactError(f"GET {uri} answered {err.code} {err.reason}", reason=reason) from err
    except (urllib.error.URLError, TimeoutError, OSError) as err:
        raise ArtifactError(f"cannot reach {uri}: {err}", reason="StorageUnreachable") from err


# --- s3 --------------------------------------------------------------------------------


def _s3_client() -> Any:
    import boto3
    from botocore.config import Config

    endpoint = os.environ.get("MODELOPS_S3_ENDPOINT") or os.environ.get("AWS_ENDPOINT_URL")
    config = Config(
        s3={"addressing_style": "path"} if endpoint else {},
        retries={"max_attempts": 3, "mode": "standard"},
        connect_timeout=10,
        read_timeout=60,
    )
    # A fresh session reads the credentials as they are now (the default one caches them).
    return boto3.session.Session().client("s3", endpoint_url=endpoint or None, config=config)


def _s3_call(call: Any, uri: str) -> Any:
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    try:
        return call()
    except NoCredentialsError as err:
        raise ArtifactError(
            f"no S3 credentials to read {uri}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
            reason="AccessDenied",
        ) from err
    except ClientError as err:
        code = str(err.response.get("Error", {}).get("Code", ""))
        if code in {"404", "NoSuchKey", "NoSuchBucket", "NotFound"}:
            raise ArtifactError(f"no object at {uri}", reason="ArtifactNotFound") from err
        if code in {"403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"}:
            raise ArtifactError(f"access to {uri} denied ({code})", reason="AccessDenied") from err
        raise ArtifactError(f"S3 error for {uri}: {code} {err}", reason="StorageError") from err
    except BotoCoreError as err:
        raise ArtifactError(
            f"cannot reach S3 for {uri}: {err}", reason="StorageUnreachable"
        ) from err


def _upload_s3(file: Path, uri: str) -> None:
    bucket, key = _bucket_key(uri)
    client = _s3_client()
    _s3_call(lambda: client.upload_file(str(file), bucket, key), uri)


def _s3_keys_under(client: Any, bucket: str, prefix: str) -> Iterator[str]:
    paginator = client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            yield str(item["Key"])


def _download_s3(uri: str, staging: Path) -> None:
    bucket, key = _bucket_key(uri)
    client = _s3_client()
    if key and not key.endswith("/"):
        try:
            _s3_call(lambda: client.head_object(Bucket=bucket, Key=key), uri)
        except ArtifactError as err:
            if err.reason != "ArtifactNotFound":
                raise
        else:
            _s3_call(lambda: client.download_file(bucket, key, str(staging / _basename(key))), uri)
            return
    prefix = key.rstrip("/") + "/" if key else ""
    keys = _s3_call(lambda: list(_s3_keys_under(client, bucket, prefix)), uri)
    if not keys:
        raise ArtifactError(f"no object or folder at {uri}", reason="ArtifactNotFound")
    objects = [(key, inside(staging, name, uri)) for key, name in _objects_under(prefix, keys)]
    for item, dest in objects:  # every name checked before the first byte is written
        dest.parent.mkdir(parents=True, exist_ok=True)
        _s3_call(lambda item=item, dest=dest: client.download_file(bucket, item, str(dest)), uri)


# --- gs --------------------------------------------------------------------------------


def _gcs_client() -> Any:
    try:
        from google.cloud import storage as gcs
    except ImportError as err:
        raise ArtifactError(
            "gs:// URIs need the google-cloud-storage package (pip install 'modelops[gcs]')",
            reason="UnsupportedURI",
        ) from err
    return gcs.Client()


def _download_gs(uri: str, staging: Path) -> None:
    bucket_name, key = _bucket_key(uri)
    bucket = _gcs_client().bucket(bucket_name)
    blob = bucket.blob(key)
    if key and blob.exists():
        blob.download_to_filename(str(staging / _basename(key)))
        return
    prefix = key.rstrip("/") + "/" if key else ""
    blobs = list(bucket.list_blobs(prefix=prefix))
    if not blobs:
        raise ArtifactError(f"no object or folder at {uri}", reason="ArtifactNotFound")
    by_name = {blob.name: blob for blob in blobs}
    names = _objects_under(prefix, list(by_name))
    objects = [(by_name[key], inside(staging, name, uri)) for key, name in names]
    for item, dest in objects:  # every name checked before the first byte is written
        dest.parent.mkdir(parents=True, exist_ok=True)
        item.download_to_filename(str(dest))


_DOWNLOADERS = {
    "http": _download_http,
    "https": _download_http,
    "s3": _download_s3,
    "gs": _download_gs,
}
