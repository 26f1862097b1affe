"""Fixtures for tests that run the predictor as a real process."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.integration.servers import RUNTIME, Server


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """``start(uri, name, *flags, env={...})``: a ``python -m modelops_runtime serve`` process
    (as pods run it; ``program=CLI`` for ``modelops serve``), stopped after the test."""
    servers: list[Server] = []

    def starting(
        uri: str,
        name: str,
        *extra: str,
        program: tuple[str, ...] = RUNTIME,
        env: dict[str, str] | None = None,
    ) -> Server:
        server = Server(uri, name, tmp_path, *extra, program=program, env=env)
        servers.append(server)
        return server

    yield starting
    for server in servers:
        server.stop()
