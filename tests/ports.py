"""Free loopback ports for the tests, with no race between parallel workers.

A probe's ``bind(0)`` then ``close`` can hand one ephemeral port to two workers (or to an
outgoing connection) between the probe and the server's own bind. Each pytest-xdist worker
takes its ports from a block of its own, below Linux's ephemeral range (32768 and up), and
never hands one out twice in a row of ``BLOCK``.
"""

from __future__ import annotations

import itertools
import os
import socket

FIRST = 20000
BLOCK = 400
"""Ports per worker: gw0 takes 20000-20399, gw1 20400-20799, ... (25 workers fit)."""
_taken = itertools.count()


def _block_start() -> int:
    name = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    index = int(name.removeprefix("gw")) if name.removeprefix("gw").isdigit() else 0
    return FIRST + (index % 25) * BLOCK


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port(*, also: tuple[int, ...] = ()) -> int:
    """A port of this worker's block that is free now, with ``port + offset`` free too (and
    in the block) for each offset in ``also``: a server that listens on a second port."""
    start = _block_start()
    for _ in range(BLOCK):
        port = start + next(_taken) % BLOCK
        wanted = (port, *(port + offset for offset in also))
        if max(wanted) < start + BLOCK and all(_free(p) for p in wanted):
            return port
    raise RuntimeError(f"no free port in {start}-{start + BLOCK - 1}")
