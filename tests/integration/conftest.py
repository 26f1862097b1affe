"""Fixtures for tests that run the predictor as a real process."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.integration.servers import Server


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """``start(uri, name, *flags)``: a ``modelops serve`` process, stopped after the test."""
    servers: list[Server] = []

    def starting(uri: str, name: str, *extra: str) -> Server:
        server = Server(uri, name, tmp_path, *extra)
        servers.append(server)
        return server

    yield starting
    for server in servers:
        server.stop()
