"""The activator's HTTP/1.1 server side: httptools' request parser on an asyncio protocol,
whole bodies in memory, one task and one write per answer.

uvicorn's ASGI cycle (a scope, ``receive`` and ``send`` per request, two writes per
answer) cost more CPU per proxied request than the proxy itself; a proxy that reads the
whole body and forwards it needs none of it. uvicorn still runs the process (its sockets,
signals, the drain and the graceful shutdown): ``Connection`` keeps to the part of its
contract a server protocol has (``connections`` and ``tasks`` sets, ``shutdown``).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from http import HTTPStatus

import httptools
import orjson

from modelops_runtime.activator.upstream import Answer

log = logging.getLogger("modelops.activator")

RawHeaders = list[tuple[bytes, bytes]]
Handler = Callable[[bytes, bytes, RawHeaders, bytes], Awaitable[Answer]]
"""(method, target, headers with lower-case names, body) -> the answer."""

KEEP_ALIVE_SECONDS = 75.0
"""How long an idle client connection is kept (nginx's default; uvicorn's 5 s would make a
client's pooled connection race our close far more often)."""
_MAX_PIPELINED = 8
"""Requests read ahead on one connection before reading pauses."""
_STATUS_LINES = {
    s.value: f"HTTP/1.1 {s.value} {s.phrase}\r\n".encode("latin-1") for s in HTTPStatus
}
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


def status_line(status: int) -> bytes:
    return _STATUS_LINES.get(status) or f"HTTP/1.1 {status} \r\n".encode("latin-1")


def error_answer(status: int, reason: str, message: str, extra: RawHeaders | None = None) -> Answer:
    """An answer of the activator's own that says why it is not a pod's: ``{"error":
    message, "reason": reason}``."""
    body = orjson.dumps({"error": message, "reason": reason})
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    return Answer(status, headers + (extra or []), body)


class _Request:
    __slots__ = ("answer", "body", "headers", "keep_alive", "method", "size", "url")

    def __init__(self) -> None:
        self.url = b""
        self.method = b""
        self.headers: RawHeaders = []
        self.body: list[bytes] = []
        self.size = 0
        self.keep_alive = True
        self.answer: Answer | None = None
        """Set when the request is answered without the handler (it could not be read)."""


class Connection(asyncio.Protocol):
    """One client connection: requests parsed as they arrive, handled one at a time in
    order (pipelined ones wait their turn), each answer written at once."""

    def __init__(
        self,
        handler: Handler,
        max_body_bytes: int,
        connections: set[Connection],
        tasks: set[asyncio.Task[None]],
    ) -> None:
        self.handler = handler
        self._max_body = max_body_bytes
        self._connections = connections
        self._tasks = tasks
        self._parser = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport | None = None
        self._reading: _Request | None = None
        self._queue: deque[_Request] = deque()
        self._busy = False
        self._closing = False
        self._paused = False
        self._idle_timer: asyncio.TimerHandle | None = None
        self._idle_since = 0.0
        """When the last answer left (loop time): the idle timer measures from it."""

    # --- asyncio ---------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]  # uvloop's is no subclass
        self._connections.add(self)
        self._became_idle()

    def connection_lost(self, exc: Exception | None) -> None:
        self._closing = True
        self._connections.discard(self)
        self._queue.clear()
        self._cancel_idle_timer()

    def data_received(self, data: bytes) -> None:
        if self._closing:
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            # No protocol switch is proxied: the request is served as plain HTTP/1.1 and
            # the connection ends after it.
            self._closing = True
            self._reading = None  # whatever followed the request is not HTTP/1.1
            self._next()
        except httptools.HttpParserError as err:
            self._refuse(error_answer(400, "BadRequest", f"not a valid HTTP/1.1 request: {err}"))

    def eof_received(self) -> bool | None:
        # Half-closed by the client: what it sent is still answered, then the connection ends.
        self._closing = True
        if self._busy or self._queue:
            return True
        return None  # nothing to answer: asyncio closes it

    # --- httptools ---------------------------------------------------------------------------

    def on_message_begin(self) -> None:
        self._reading = _Request()

    def on_url(self, url: bytes) -> None:
        assert self._reading is not None
        self._reading.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        assert self._reading is not None
        self._reading.headers.append((name.lower(), value))

    def on_headers_complete(self) -> None:
        request = self._reading
        assert request is not None
        assert self._transport is not None
        request.method = self._parser.get_method()
        request.keep_alive = self._parser.should_keep_alive()
        declared = 0
        expects = False
        for name, value in request.headers:
            if name == b"content-length" and value.isdigit():
                declared = int(value)
            elif name == b"expect" and value.lower() == b"100-continue":
                expects = True
        if declared > self._max_body:
            self._refuse(self._too_large(), request)
        elif expects and self._parser.get_http_version() == "1.1":
            self._transport.write(_CONTINUE)

    def on_body(self, body: bytes) -> None:
        request = self._reading
        if request is None:  # refused: the rest of its body is not wanted
            return
        request.size += len(body)
        if request.size > self._max_body:
            self._refuse(self._too_large(), request)
        else:
            request.body.append(body)

    def on_message_complete(self) -> None:
        request, self._reading = self._reading, None
        if request is None:
            return
        self._queue.append(request)
        if len(self._queue) >= _MAX_PIPELINED and not self._paused and self._transport:
            self._paused = True
            self._transport.pause_reading()
        self._next()

    # --- answering ---------------------------------------------------------------------------

    def _too_large(self) -> Answer:
        return error_answer(
            413, "PayloadTooLarge", f"body over the limit of {self._max_body} bytes"
        )

    def _refuse(self, answer: Answer, request: _Request | None = None) -> None:
        """Answer the request being read (or a stand-in for what could not be read) with
        ``answer``, in its turn, and read nothing more on this connection."""
        request = request or _Request()
        request.answer, request.keep_alive = answer, False
        self._reading = None
        self._closing = True
        self._queue.append(request)
        self._next()

    def _next(self) -> None:
        if self._busy:
            return
        if not self._queue:
            if self._closing:
                self._close()
            else:
                self._became_idle()
            return
        request = self._queue.popleft()
        if self._paused and len(self._queue) < _MAX_PIPELINED // 2 and self._transport:
            self._paused = False
            self._transport.resume_reading()
        self._busy = True
        task = asyncio.get_running_loop().create_task(self._answer(request))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _answer(self, request: _Request) -> None:
        answer = request.answer
        if answer is None:
            body = request.body
            try:
                answer = await self.handler(
                    request.method,
                    request.url,
                    request.headers,
                    body[0] if len(body) == 1 else b"".join(body),
                )
            except Exception as err:  # the last line of defence: a clear 500, logged in full
                log.exception("unexpected error", extra={"path": request.url.decode("latin-1")})
                answer = error_answer(500, "InternalError", f"{type(err).__name__}: {err}")
        self._busy = False
        # The last answer says the connection ends: the client's last, or ours once nothing
        # more is read (a refusal, a shutdown, the client's half-close) and none is queued.
        last = not request.keep_alive or (self._closing and not self._queue)
        self._write(answer, request.method == b"HEAD", not last)
        if not request.keep_alive:
            self._closing = True
            self._queue.clear()
        self._next()

    def _write(self, answer: Answer, head_only: bool, keep_alive: bool) -> None:
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        out = [status_line(answer.status)]
        for name, value in answer.headers:
            out += (name, b": ", value, b"\r\n")
        if not keep_alive:
            out.append(b"connection: close\r\n")
        out.append(b"\r\n")
        if not head_only and answer.body:
            out.append(answer.body)
        transport.write(b"".join(out))

    def _close(self) -> None:
        self._cancel_idle_timer()
        if self._transport is not None and not self._transport.is_closing():
            self._transport.close()

    # --- idle connections and shutdown ----------------------------------------------------

    def _became_idle(self) -> None:
        # One timer per connection, moved only when it fires, keeps timers off the path of
        # each request: it closes the connection once idle a whole KEEP_ALIVE_SECONDS.
        loop = asyncio.get_running_loop()
        self._idle_since = loop.time()
        if self._idle_timer is None:
            self._idle_timer = loop.call_later(KEEP_ALIVE_SECONDS, self._idle_check)

    def _idle_check(self) -> None:
        loop = asyncio.get_running_loop()
        if self._busy or self._queue or self._reading is not None:
            wait = KEEP_ALIVE_SECONDS  # in use: idle time starts again after its answer
        else:
            wait = self._idle_since + KEEP_ALIVE_SECONDS - loop.time()
            if wait <= 0:
                self._idle_timer = None
                self._close()
                return
        self._idle_timer = loop.call_later(wait, self._idle_check)

    def _cancel_idle_timer(self) -> None:
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None

    def shutdown(self) -> None:
        """The server stops: end this connection once what it was sent is answered."""
        self._closing = True
        if not self._busy and not self._queue:
            self._close()
