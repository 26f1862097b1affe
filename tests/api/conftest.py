"""In-process API fixtures: the real app over httpx's ASGI transport, model loaded first."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from modelops_runtime.app import create_app
from modelops_runtime.dataplane import DataPlane
from modelops_runtime.settings import Settings

Serve = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
def serve(tmp_path: Path) -> Serve:
    """``async with serve(path, name=..., env={MODELOPS_*}, **settings) as client``: a loaded
    predictor; settings come from ``env`` (not this process's environment), then overrides."""

    @asynccontextmanager
    async def running(
        uri: Path | str, name: str = "m", env: Mapping[str, str] | None = None, **overrides: Any
    ) -> AsyncIterator[httpx.AsyncClient]:
        settings = Settings.from_env(
            env or {},
            model_uri=str(uri),
            model_name=name,
            cache_dir=tmp_path / "cache",
            **overrides,
        )
        plane = DataPlane(settings)
        plane.load()
        app = create_app(settings, plane=plane)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://predictor") as client:
            client.plane = plane  # type: ignore[attr-defined]
            try:
                yield client
            finally:
                await plane.close()

    return running
