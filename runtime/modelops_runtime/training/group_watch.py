"""A group of workers ends together: no worker outlives a peer that is gone.

Each worker other than rank 0 holds one TCP connection to rank 0 for the whole collective
block. A process that ends, killed included, has its sockets closed by the kernel, so the
far side reads the end at once; a node that vanishes is found by TCP keepalive in ~30 s.
A worker that reads the end of a peer that had not said it finished ends itself, whatever
XGBoost is waiting for: XGBoost's own error signal skips the workers on the failed one's
host, dies with rank 0 (its tracker's host), and its retries to reach a tracker that is
gone take minutes.
"""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from functools import partial

from modelops_contracts.training import GROUP_LOST_EXIT

PORT_OFFSET = 100
"""Rank 0 watches on the tracker's port (for this attempt) + this."""
DONE = b"done\n"
KEEPALIVE = (15, 5, 3)
"""Idle seconds, seconds between probes, probes: a peer silent for ~30 s is lost."""


def leave(why: str) -> None:
    """End this worker at once (no cleanup that could wait for the broken group)."""
    print(f"modelops: {why}", file=sys.stderr, flush=True)
    sys.stdout.flush()
    os._exit(GROUP_LOST_EXIT)


class GroupWatch:
    """One worker's side of the watch. Rank 0: ``listen`` (before its tracker starts, so a
    peer that reaches the tracker finds the watch too), then ``start``; the others:
    ``start``. ``finish`` once this worker's part succeeded: the ends that follow are
    expected, on both sides."""

    def __init__(
        self,
        rank: int,
        world_size: int,
        host: str,
        port: int,
        *,
        join_timeout: float,
        on_lost: Callable[[str], None] = leave,
    ) -> None:
        self.rank, self.world_size = rank, world_size
        self.host, self.port = host, port
        self.join_timeout = join_timeout
        self.on_lost = on_lost
        self._finished = threading.Event()
        self._listener: socket.socket | None = None
        self._peers: list[socket.socket] = []
        self._lock = threading.Lock()

    def listen(self) -> None:
        self._listener = socket.create_server((self.host, self.port), backlog=self.world_size)

    def start(self) -> None:
        if self.rank == 0:
            _thread(self._accept)
            return
        peer = self._connect()
        peer.sendall(f"{self.rank}\n".encode())
        self._add(peer)
        _thread(partial(self._read, peer, "worker 0"))

    def finish(self) -> None:
        """This worker is done: tell the far ends, and stop watching."""
        self._finished.set()
        with self._lock:
            peers, self._peers = self._peers, []
        for peer in peers:
            with suppress(OSError):  # it ended already: nothing to tell
                peer.sendall(DONE)
            _close(peer)
        if self._listener is not None:
            self._listener.close()

    def _accept(self) -> None:
        """Rank 0: every peer connects once, as it starts its collective block. One that
        never comes is the tracker's business (its join timeout fails the group)."""
        assert self._listener is not None
        self._listener.settimeout(self.join_timeout)
        for _ in range(self.world_size - 1):
            try:
                peer, _ = self._listener.accept()
            except OSError:
                return  # finished, or the join timed out
            peer.settimeout(None)
            self._add(peer)
            _thread(partial(self._read, peer, ""))

    def _connect(self) -> socket.socket:
        """A peer: rank 0's watch, waiting for rank 0 to start as the tracker join does."""
        deadline = time.monotonic() + self.join_timeout
        while True:
            try:
                return socket.create_connection((self.host, self.port), timeout=10)
            except OSError as err:
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"worker {self.rank} of {self.world_size} could not reach worker 0 at "
                        f"{self.host}:{self.port} in {self.join_timeout:g}s: {err}"
                    ) from err
                time.sleep(1.0)

    def _add(self, peer: socket.socket) -> None:
        peer.settimeout(None)
        _keepalive(peer)
        with self._lock:
            self._peers.append(peer)

    def _read(self, peer: socket.socket, who: str) -> None:
        """Until the far end says it finished, or ends without saying so. Rank 0 learns
        who a peer is from its first line."""
        got = b""
        while DONE not in got:
            try:
                chunk = peer.recv(64)
            except OSError:
                chunk = b""
            if not chunk:
                if not self._finished.is_set():
                    self.on_lost(
                        f"{who or 'a worker'} of {self.world_size} is gone (its connection "
                        f"closed before it finished): the group is broken, so worker "
                        f"{self.rank} stops too"
                    )
                return
            got += chunk
            if not who and b"\n" in got:
                who = "worker " + got.split(b"\n", 1)[0].decode(errors="replace")
        # It finished: its end, when it comes, is expected.


def _keepalive(peer: socket.socket) -> None:
    idle, interval, probes = KEEPALIVE
    peer.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for option, value in (("TCP_KEEPIDLE", idle), ("TCP_KEEPINTVL", interval),
                          ("TCP_KEEPCNT", probes)):  # fmt: skip
        if hasattr(socket, option):  # Linux; elsewhere the system's defaults
            peer.setsockopt(socket.IPPROTO_TCP, getattr(socket, option), value)


def _close(peer: socket.socket) -> None:
    """Close for both sides now (a bare close waits for this process's reader)."""
    with suppress(OSError):  # not connected any more
        peer.shutdown(socket.SHUT_RDWR)
    peer.close()


def _thread(target: Callable[[], None]) -> None:
    threading.Thread(target=target, name="modelops-group-watch", daemon=True).start()
