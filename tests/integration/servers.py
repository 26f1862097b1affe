"""A predictor started as a real process on loopback, the way pods start it; and any
other server a test starts the same way (``started``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from modelops_contracts.serving import DRAIN_SECONDS_ENV
from modelops_contracts.verdict import Verdict
from tests.ports import free_port


def call(url: str, body: dict | None = None) -> tuple[int, dict]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


# What predictor pods run; ``modelops serve`` hands the same arguments to the same code.
RUNTIME = (sys.executable, "-m", "modelops_runtime")
CLI = (sys.executable, "-m", "modelops_cli.main")


class Server:
    def __init__(
        self,
        uri: str,
        name: str,
        tmp: Path,
        *extra: str,
        program: tuple[str, ...] = RUNTIME,
        env: dict[str, str] | None = None,
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp / f"server-{self.port}.log"
        command = [
            *program,
            "serve",
            uri,
            "--name",
            name,
            "--port",
            str(self.port),
            "--cache-dir",
            str(tmp / "cache"),
            *extra,
        ]
        self.process = subprocess.Popen(
            command,
            stdout=self.log.open("w"),
            stderr=subprocess.STDOUT,
            # No Service takes a test's server out of rotation: it stops at once unless
            # the test asks for a drain.
            env={**os.environ, DRAIN_SECONDS_ENV: "0", **(env or {})},
        )

    def wait_until_live(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text()
            try:
                if call(self.url + "/v2/health/live")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"server did not start:\n{self.log.read_text()}")

    def wait_until_ready(self, timeout: float = 60) -> None:
        self.wait_until_live(timeout)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if call(self.url + "/v2/health/ready")[0] == 200:
                return
            time.sleep(0.1)
        raise AssertionError(f"model not ready:\n{self.log.read_text()}")

    def stop(self) -> None:
        stop_process(self.process)


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM (the server drains), then SIGKILL if it has not ended within 20 s."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def refusal(server: Server, termination_log: Path) -> Verdict:
    """The verdict a server that refused its artifact wrote before it exited 1."""
    assert server.process.wait(timeout=60) == 1
    return Verdict.from_termination(termination_log.read_text(), 1)


@contextmanager
def started(argv: list[str], probe: str, what: str) -> Iterator[subprocess.Popen[bytes]]:
    """A server process, once ``probe`` answers (30 s at most); stopped afterwards."""
    import pytest

    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(probe, timeout=2).close()
            break
        except OSError as err:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                pytest.fail(f"{what} at {probe} did not answer in 30 s: {err}")
            time.sleep(0.1)
    try:
        yield process
    finally:
        process.terminate()
        process.wait(timeout=10)
