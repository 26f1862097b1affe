"""HTTP/1.1 to the pods: keep-alive connection pools per address, asyncio protocols and
httptools' parser (the one uvicorn uses), whole bodies in memory, counted.

Errors say how far a request got, because only a request that never left may be retried
on another pod: ``ConnectFailed`` (no connection; nothing was sent), ``Broken`` (the
connection ended after the request was written, without a whole answer) and ``Late`` (no
whole answer within the timeout). ``TooLarge`` and ``Overloaded`` say an answer was left
unread: over its own cap, or over what the activator may hold at once (``Buffered``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

import httptools

from modelops_contracts.serving import PREDICTOR_KEEP_ALIVE_SECONDS

Headers = Sequence[tuple[bytes, bytes]]


class UpstreamError(Exception):
    pass


class ConnectFailed(UpstreamError):
    """No connection could be made: the request was not sent."""


class Broken(UpstreamError):
    """The request was sent and the connection ended before a whole answer came."""


class Late(UpstreamError):
    """The request was sent and no whole answer came within the timeout."""


class TooLarge(UpstreamError):
    """The pod's answer is over ``max_answer_bytes``: the rest is not read."""


class Overloaded(UpstreamError):
    """The activator already holds all the bodies it may: a large answer is not read."""


SMALL_BODY = 64 * 1024
"""A body up to this size is always taken, whatever ``Buffered`` holds."""
_WRITE_APART = 64 * 1024
"""A body over this size is written after its head instead of joined to it (one copy less)."""


class Buffered:
    """The bytes of bodies the activator holds, all connections together: requests read and
    not yet answered, pods' answers read and not yet taken by their clients.

    A body that would take the total past ``limit`` is refused once it is over
    ``SMALL_BODY``; smaller ones are always taken, so clients that fill the budget with
    large bodies cannot starve ordinary requests (each connection holds at most one small
    body beyond it).
    """

    __slots__ = ("held", "limit")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.held = 0

    def take(self, size: int, body_so_far: int) -> bool:
        """Count ``size`` more bytes of a body that has ``body_so_far`` already, or refuse."""
        held = self.held + size
        if held > self.limit and body_so_far + size > SMALL_BODY:
            return False
        self.held = held
        return True

    def give(self, size: int) -> None:
        self.held -= size

    def describe(self) -> str:
        return f"the activator holds all the bodies it may ({self.limit} bytes)"


class Answer:
    """A status, raw headers and the whole body (a plain class: one is made per request);
    ``held``: the bytes of it counted in ``Buffered``, given back once it is sent on."""

    __slots__ = ("body", "headers", "held", "status")

    def __init__(
        self, status: int, headers: list[tuple[bytes, bytes]], body: bytes, held: int = 0
    ) -> None:
        self.status, self.headers, self.body, self.held = status, headers, body, held


class _Connection(asyncio.Protocol):
    """One keep-alive connection; one request at a time."""

    def __init__(self, pool: Pool) -> None:
        self._pool = pool
        self._transport: asyncio.Transport | None = None
        self._parser = httptools.HttpResponseParser(self)
        self._waiter: asyncio.Future[Answer] | None = None
        self._headers: list[tuple[bytes, bytes]] = []
        self._body: list[bytes] = []
        self._head_only = False
        self._size = 0
        """Bytes of the answer read so far, head included."""
        self._held = 0
        """Bytes of its body counted in the pool's ``Buffered``."""
        self.closed = False
        self.idle_since = 0.0
        """When it was last put back in the pool (loop time)."""
        self.deadline = 0.0
        """When the answer must have come (loop time); the sweeper ends it after that."""

    # asyncio callbacks
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]  # uvloop's is no subclass

    def data_received(self, data: bytes) -> None:
        self._size += len(data)
        if self._size > self._pool.max_answer:
            self.fail(TooLarge(f"answered more than {self._pool.max_answer} bytes"))
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self.fail(Broken("the pod switched protocols"))
        except httptools.HttpParserError as err:
            self.fail(Broken(f"the pod's answer is not valid HTTP: {err}"))

    def eof_received(self) -> bool | None:
        self.fail(Broken("the pod closed the connection before answering"))
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.fail(Broken(f"the connection to the pod was lost: {exc or 'closed'}"))

    # httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        if self._head_only:
            self._complete(keep_alive=False)
            return
        for name, value in self._headers:
            if name.lower() == b"content-length" and value.isdigit():
                if int(value) > self._pool.max_answer:  # said at once: nothing more is read
                    self.fail(TooLarge(f"answered more than {self._pool.max_answer} bytes"))
                break

    def on_body(self, body: bytes) -> None:
        if self.closed:  # failed above: the rest of this read is not wanted
            return
        size = len(body)
        if not self._pool.buffered.take(size, self._held):
            self.fail(Overloaded(self._pool.buffered.describe()))
            return
        self._held += size
        self._body.append(body)

    def on_message_complete(self) -> None:
        if not self._head_only and not self.closed:
            self._complete(keep_alive=self._parser.should_keep_alive())

    # ours
    def _complete(self, keep_alive: bool) -> None:
        waiter = self._waiter
        body = self._body[0] if len(self._body) == 1 else b"".join(self._body)
        answer = Answer(self._parser.get_status_code(), self._headers, body, self._held)
        self._waiter, self._headers, self._body = None, [], []
        self._size = self._held = 0  # the answer carries what it holds from here
        if not keep_alive:
            self.close()
        if waiter is not None and not waiter.done():
            waiter.set_result(answer)
        else:
            self._pool.buffered.give(answer.held)

    def fail(self, error: UpstreamError) -> None:
        self.close()
        self._pool.buffered.give(self._held)
        self._held, self._body = 0, []
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(error)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            if self._transport is not None:
                self._transport.close()

    def send(self, head: bytes, body: bytes, head_only: bool) -> asyncio.Future[Answer]:
        assert self._transport is not None
        self._head_only = head_only
        self._size = 0
        self._waiter = asyncio.get_running_loop().create_future()
        self._transport.write(head)
        if body:
            self._transport.write(body)
        return self._waiter


class Pool:
    """Idle keep-alive connections to one address (``host:port``), and the busy ones."""

    def __init__(
        self,
        address: str,
        connect_timeout: float,
        max_answer: int,
        buffered: Buffered,
        *,
        max_idle: int = 256,
        reuse_idle_seconds: float = PREDICTOR_KEEP_ALIVE_SECONDS - 1.0,
    ) -> None:
        host, _, port = address.rpartition(":")
        self.address = address
        self._host, self._port = host.strip("[]"), int(port)
        self._connect_timeout = connect_timeout
        self.max_answer = max_answer
        self.buffered = buffered
        self._idle: list[_Connection] = []
        self.busy: set[_Connection] = set()
        self._max_idle = max_idle
        self._reuse_idle = reuse_idle_seconds
        """Past this idle time a pooled connection is closed, not reused: the pod closes it
        at ``PREDICTOR_KEEP_ALIVE_SECONDS``, and a request written as its close crosses ours
        is lost to a reset, never retried (it was sent)."""
        self.failed_at = float("-inf")
        """When a connection to it last failed (pickers avoid it for a moment)."""

    async def _connection(self) -> _Connection:
        idle = self._idle
        loop = asyncio.get_running_loop()
        while idle:
            conn = idle.pop()
            if conn.closed:
                continue
            if loop.time() - conn.idle_since < self._reuse_idle:
                return conn
            for stale in (conn, *idle):  # last in, first out: those below are older still
                stale.close()
            idle.clear()
        try:
            _, conn = await asyncio.wait_for(
                loop.create_connection(lambda: _Connection(self), self._host, self._port),
                self._connect_timeout,
            )
        except (OSError, TimeoutError) as err:
            self.failed_at = time.monotonic()
            raise ConnectFailed(
                f"cannot connect to {self.address}: {type(err).__name__}: {err}".rstrip(": ")
            ) from err
        return conn

    async def request(
        self, method: bytes, target: bytes, headers: Headers, body: bytes, timeout: float
    ) -> Answer:
        conn = await self._connection()
        head = [method, b" ", target, b" HTTP/1.1\r\n"]
        for name, value in headers:
            head += (name, b": ", value, b"\r\n")
        head += (b"content-length: ", str(len(body)).encode(), b"\r\n\r\n")
        if len(body) <= _WRITE_APART:  # one write; a large body is not copied into it
            head.append(body)
            body = b""
        conn.deadline = asyncio.get_running_loop().time() + timeout
        waiter = conn.send(b"".join(head), body, head_only=method == b"HEAD")
        busy = self.busy
        busy.add(conn)
        try:
            answer = await waiter
        except BaseException:
            conn.close()  # a late answer must never reach the next request
            raise
        finally:
            busy.discard(conn)
        if not conn.closed and len(self._idle) < self._max_idle:
            conn.idle_since = asyncio.get_running_loop().time()
            self._idle.append(conn)
        elif not conn.closed:
            conn.close()
        return answer

    def close(self) -> None:
        for conn in self._idle:
            conn.close()
        self._idle.clear()


class Upstreams:
    """A pool per address, made on first use, and a sweeper that ends requests past their
    deadline (one timer for all of them instead of one per request)."""

    def __init__(
        self,
        connect_timeout: float = 2.0,
        sweep_seconds: float = 0.25,
        *,
        max_answer: int = 64 * 1024 * 1024,
        buffered: Buffered | None = None,
    ) -> None:
        self._pools: dict[str, Pool] = {}
        self._connect_timeout = connect_timeout
        self._sweep_seconds = sweep_seconds
        self._sweeper: asyncio.Task[None] | None = None
        self._max_answer = max_answer
        self.buffered = buffered or Buffered(1 << 62)

    def pool(self, address: str) -> Pool:
        pool = self._pools.get(address)
        if pool is None:
            pool = self._pools[address] = Pool(
                address, self._connect_timeout, self._max_answer, self.buffered
            )
            if self._sweeper is None:
                self._sweeper = asyncio.get_running_loop().create_task(self._sweep())
        return pool

    async def _sweep(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self._sweep_seconds)
            now = loop.time()
            for pool in list(self._pools.values()):
                for conn in [c for c in pool.busy if c.deadline <= now]:
                    conn.fail(Late("no answer within the timeout"))

    def forget(self, keep: set[str]) -> None:
        """Close the pools of addresses no longer listed."""
        for address in [a for a in self._pools if a not in keep]:
            self._pools.pop(address).close()

    def close(self) -> None:
        for pool in self._pools.values():
            pool.close()
        self._pools.clear()
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
