"""apiKey auth, enforced by the predictor: keys are the files of a folder laid out the way
the kubelet mounts a Secret, read again when the kubelet swaps it (rotation, no restart)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

from modelops_contracts.serving import API_KEYS_DIR_ENV, AUTH_MODE_ENV, STATS_PATH
from modelops_runtime.app import create_app
from modelops_runtime.auth import ApiKeys
from modelops_runtime.dataplane import DataPlane
from modelops_runtime.settings import Settings
from tests.api.conftest import Serve
from tests.models import Trained


def mount_secret(folder: Path, keys: dict[str, str], generation: int) -> None:
    """What the kubelet does for a Secret volume: the files in a timestamped folder, the
    ``..data`` link swapped to it in one rename, and one link per key through ``..data``."""
    folder.mkdir(exist_ok=True)
    data = folder / f"..2026_01_01_00_00_0{generation}.000"
    data.mkdir()
    for name, key in keys.items():
        (data / name).write_text(key)
    (folder / "..data_tmp").symlink_to(data.name)
    os.replace(folder / "..data_tmp", folder / "..data")
    for entry in folder.iterdir():
        if not entry.name.startswith(".") and entry.name not in keys:
            entry.unlink()
    for name in keys:
        if not (folder / name).is_symlink():
            (folder / name).symlink_to(f"..data/{name}")


@asynccontextmanager
async def guarded(trained: Trained, tmp_path: Path, keys: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings.from_env(
        {}, model_uri=str(trained.path), model_name="iris", cache_dir=tmp_path / "cache"
    )
    plane = DataPlane(settings)
    plane.load()
    app = create_app(settings, plane=plane, guard=ApiKeys(keys, recheck_seconds=0).check)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://predictor") as client:
        yield client
    await plane.close()


async def test_a_key_is_taken_from_either_header_and_others_are_refused(
    iris: Trained, tmp_path: Path
) -> None:
    keys = tmp_path / "keys"
    mount_secret(keys, {"alice": "k-alice\n", "bob": "k-bob"}, 1)
    body = {"instances": iris.rows[:2]}
    async with guarded(iris, tmp_path, keys) as client:
        url = "/v1/models/iris:predict"
        bearer = await client.post(url, json=body, headers={"Authorization": "Bearer k-alice"})
        header = await client.post(url, json=body, headers={"X-API-Key": "k-bob"})
        missing = await client.post(url, json=body)
        wrong = await client.post(url, json=body, headers={"X-API-Key": "k-carol"})
        basic = await client.post(url, json=body, headers={"Authorization": "Basic k-alice"})
        infer = await client.post(
            "/v2/models/iris/infer",
            json={"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP64", "data": [1] * 4}]},
        )
        open_routes = [
            (await client.get(path)).status_code
            for path in ("/v2/health/ready", "/v2/models/iris", "/v1/models/iris", "/metrics")
        ] + [(await client.get(STATS_PATH)).status_code]
    assert (bearer.status_code, header.status_code) == (200, 200)
    assert bearer.json() == header.json()
    for refused in (missing, wrong, basic, infer):
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"] == "Bearer"
        assert refused.json()["reason"] == "Unauthorized"
    assert "X-API-Key" in missing.json()["error"]
    assert "not valid" in wrong.json()["error"]
    assert "k-carol" not in wrong.text
    assert open_routes == [200] * 5


async def test_refused_callers_are_not_load(iris: Trained, tmp_path: Path) -> None:
    """Refused requests must not keep a version awake (``last_request``) or scale it out
    (``requests``, ``in_flight``): the autoscaler reads these counters."""
    from modelops_contracts.serving import PodStats

    keys = tmp_path / "keys"
    mount_secret(keys, {"alice": "k-alice"}, 1)
    body = {"instances": iris.rows[:1]}
    async with guarded(iris, tmp_path, keys) as client:
        for _ in range(5):
            refused = await client.post("/v1/models/iris:predict", json=body)
            assert refused.status_code == 401
        idle = PodStats.from_json((await client.get(STATS_PATH)).content)
        allowed = await client.post("/v1/models/iris:predict", json=body,
                                    headers={"X-API-Key": "k-alice"})  # fmt: skip
        busy = PodStats.from_json((await client.get(STATS_PATH)).content)
    assert (idle.requests, idle.in_flight, idle.last_request) == (0, 0, 0.0)
    assert allowed.status_code == 200
    assert (busy.requests, busy.in_flight) == (1, 0)
    assert busy.last_request > 0


async def test_keys_rotate_without_a_restart(iris: Trained, tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    mount_secret(keys, {"current": "k-old"}, 1)
    body = {"instances": iris.rows[:1]}
    url = "/v1/models/iris:predict"
    async with guarded(iris, tmp_path, keys) as client:
        assert (
            await client.post(url, json=body, headers={"X-API-Key": "k-old"})
        ).status_code == 200
        assert (
            await client.post(url, json=body, headers={"X-API-Key": "k-new"})
        ).status_code == 401
        mount_secret(keys, {"current": "k-new", "previous": "k-old"}, 2)  # both, mid-rotation
        both = [
            (await client.post(url, json=body, headers={"X-API-Key": k})).status_code
            for k in ("k-old", "k-new")
        ]
        mount_secret(keys, {"current": "k-new"}, 3)  # the old key retired
        retired = await client.post(url, json=body, headers={"X-API-Key": "k-old"})
        kept = await client.post(url, json=body, headers={"X-API-Key": "k-new"})
    assert both == [200, 200]
    assert (retired.status_code, kept.status_code) == (401, 200)


async def test_no_key_mounted_is_a_503_that_says_so(iris: Trained, tmp_path: Path) -> None:
    empty = tmp_path / "nothing-here"
    async with guarded(iris, tmp_path, empty) as client:
        answer = await client.post(
            "/v1/models/iris:predict", json={"instances": iris.rows}, headers={"X-API-Key": "k"}
        )
    assert answer.status_code == 503
    assert answer.json()["reason"] == "AuthUnavailable"
    assert str(empty) in answer.json()["error"]


async def test_the_mode_comes_from_the_environment(
    serve: Serve, iris: Trained, tmp_path: Path
) -> None:
    keys = tmp_path / "keys"
    mount_secret(keys, {"k": "secret-1"}, 1)
    env = {AUTH_MODE_ENV: "apiKey", API_KEYS_DIR_ENV: str(keys)}
    async with serve(iris.path, name="iris", env=env) as client:
        refused = await client.post("/v1/models/iris:predict", json={"instances": iris.rows})
        allowed = await client.post(
            "/v1/models/iris:predict",
            json={"instances": iris.rows},
            headers={"Authorization": "Bearer secret-1"},
        )
    assert (refused.status_code, allowed.status_code) == (401, 200)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({AUTH_MODE_ENV: "password"}, "must be one of none, apiKey, kubernetes"),
        ({AUTH_MODE_ENV: "apiKey"}, "needs MODELOPS_API_KEYS_DIR"),
        ({AUTH_MODE_ENV: "kubernetes"}, "needs MODELOPS_AUTH_RESOURCE=namespace/model"),
    ],
)
def test_an_incomplete_auth_setting_is_refused(env: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Settings.from_env(env)
