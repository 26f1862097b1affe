"""The activator's HTTP/1.1 server side: httptools' request parser on an asyncio protocol,
whole bodies in memory, one task and one write per answer.

Everything a client controls is bounded (the activator serves every namespace): a request's
head (431) and body (413) by size, its reading by time from its first byte (408), what a
connection reads ahead of the request being answered, what it holds of answers its client
does not take, and bodies of all connections together (``Buffered``: 503 for large ones).
A refusal is answered, then the connection is half-closed and what the client still sends
is read and dropped for a moment, so that it reads the answer instead of a reset.

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

from modelops_runtime.activator.settings import ActivatorSettings
from modelops_runtime.activator.upstream import SMALL_BODY, Answer, Buffered

log = logging.getLogger("modelops.activator")

RawHeaders = list[tuple[bytes, bytes]]
Handler = Callable[[bytes, bytes, RawHeaders, bytes], Awaitable[Answer]]
"""(method, target, headers with lower-case names, body) -> the answer."""

KEEP_ALIVE_SECONDS = 75.0
"""How long an idle client connection is kept (nginx's default; uvicorn's 5 s would make a
client's pooled connection race our close far more often)."""
_MAX_PIPELINED = 8
"""Requests read ahead on one connection before reading pauses (``max_read_ahead_bytes``
bounds their bodies)."""
_SLICE = 16 * 1024
"""A read longer than this is parsed a slice at a time (``Connection._parse``)."""
LINGER_SECONDS = 2.0
"""After a refusal, how long what the client still sends is read and dropped."""
RETRY_AFTER_BUSY_S = 1
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


_SPENT = httptools.HttpRequestParser(object())
"""Put in place of a connection's parser once nothing more is read on it: the parser keeps
what it read of an unfinished header (up to a read's worth), and it and the connection
refer to each other, which only the cycle collector would undo."""


class _Refused(Exception):
    """Raised in a parser callback once its request is refused: the parser reads no further."""


class _Request:
    __slots__ = (
        "answer", "body", "head", "headed", "headers", "held", "keep_alive", "method", "raw",
        "remaining", "size", "started", "url",
    )  # fmt: skip

    def __init__(self, started: float = 0.0) -> None:
        self.url = b""
        self.method = b""
        self.headers: RawHeaders = []
        self.body: list[bytes] = []
        self.size = 0
        self.held = 0
        """Bytes of the body counted in ``Buffered``."""
        self.keep_alive = True
        self.answer: Answer | None = None
        """Set when the request is answered without the handler (it could not be read)."""
        self.started = started
        """When its first byte was read (loop time; moved on by the time reading paused)."""
        self.head = 0
        """Bytes of its head the parser has handed over (request line, whole headers)."""
        self.raw = 0
        """Bytes read while its head was unfinished (what the parser keeps of a header it
        has not handed over yet is counted here)."""
        self.headed = False
        self.remaining = 0
        """Bytes of a declared body still to come."""


class Connection(asyncio.Protocol):
    """One client connection: requests parsed as they arrive, handled one at a time in
    order (pipelined ones wait their turn), each answer written at once.

    One timer per connection, never set further than ``read_timeout_seconds`` ahead and
    moved only when it fires, keeps timers off the path of each request: it ends a request
    read too slowly, a connection idle for ``KEEP_ALIVE_SECONDS`` (or whose client took
    none of our answer for as long), and a refused connection's linger.
    """

    def __init__(
        self,
        handler: Handler,
        settings: ActivatorSettings,
        buffered: Buffered,
        connections: set[Connection],
        tasks: set[asyncio.Task[None]],
    ) -> None:
        self.handler = handler
        self._max_head = settings.max_head_bytes
        self._max_body = settings.max_body_bytes
        self._max_ahead = settings.max_read_ahead_bytes
        self._read_seconds = settings.read_timeout_seconds
        self._max_connections = settings.max_connections
        self.capped = True
        """Refused past ``max_connections`` (the admin port's connections never are)."""
        self._buffered = buffered
        self._connections = connections
        self._tasks = tasks
        self._loop = asyncio.get_running_loop()
        self._parser = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport | None = None
        self._reading: _Request | None = None
        self._queue: deque[_Request] = deque()
        self._busy = False
        self._closing = False
        self._closed = False
        self._paused = False
        """Reading paused: requests read ahead, or a client that takes no answer."""
        self._paused_at = 0.0
        self._stalled = False
        """The client takes little of what we write (asyncio's ``pause_writing``)."""
        self._stalled_since = 0.0
        self._stalled_left = 0
        """When the client last took some of an answer, and what was left to write then."""
        self._unsent = 0
        """Bytes of the last answer, counted in ``Buffered`` until the client took them."""
        self._timer: asyncio.TimerHandle | None = None
        self._idle_since = 0.0
        """When the last answer left, or the client stopped taking it (loop time)."""
        self._linger_until = 0.0
        self._unfed = b""
        """The rest of a read, left unparsed while reading is paused."""

    # --- asyncio ---------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]  # uvloop's is no subclass
        self._connections.add(self)
        self._idle_since = self._loop.time()
        self._timer = self._loop.call_later(self._wait_at_most(KEEP_ALIVE_SECONDS), self._tick)
        if self.capped and len(self._connections) > self._max_connections:
            # Each connection holds a little memory and a descriptor: past the cap a client
            # hears why at once instead of queueing in the kernel's backlog.
            self._refuse(error_answer(
                503, "TooManyConnections",
                f"the activator holds {self._max_connections} connections, its limit "
                "(max_connections); try again shortly", [(b"retry-after", b"1")],
            ))  # fmt: skip

    def connection_lost(self, exc: Exception | None) -> None:
        self._closing = self._closed = True
        self._connections.discard(self)
        for request in (*self._queue, self._reading):
            if request is not None:
                self._give(request)
        self._queue.clear()
        self._reading = None
        self._parser, self._unfed = _SPENT, b""
        self._buffered.give(self._unsent)
        self._unsent = 0
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def data_received(self, data: bytes) -> None:
        if self._closing:
            return  # refused or ending: what follows is dropped
        self._parse(data)

    def _parse(self, data: bytes | memoryview) -> None:
        """Parse a read; one that holds more than ``_SLICE`` a slice at a time (the rest of
        a declared body at once), stopping where reading pauses: the rest waits unparsed
        in ``_unfed``, so a read of many small pipelined requests makes no more of them
        than the read-ahead allows."""
        if self._unfed or self._paused:  # what came before is parsed first
            self._unfed += data
            return
        if len(data) <= _SLICE:
            self._feed(data)
            return
        whole = memoryview(data)
        at, end = 0, len(whole)
        while at < end and self._parser is not _SPENT:
            if self._paused:
                self._unfed = bytes(whole[at:])
                return
            request = self._reading
            step = max(_SLICE, request.remaining if request is not None else 0)
            self._feed(whole[at : at + step])
            at += step

    def _parse_unfed(self) -> None:
        data, self._unfed = self._unfed, b""
        if self._closed or self._parser is _SPENT:
            return
        self._parse(data)
        if not self._paused and not self._unfed and self._transport is not None:
            self._transport.resume_reading()
            self._next()  # a half-closed connection ends once its last request is answered

    def _feed(self, data: bytes | memoryview) -> None:
        request = self._reading
        mid_head = request is not None and not request.headed
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserCallbackError as err:
            if not isinstance(err.__context__, _Refused):  # a bug of ours: a clear 500
                log.error("cannot read a request", exc_info=err.__context__)
                cause = err.__context__
                self._refuse(error_answer(500, "InternalError", f"{type(cause).__name__}: {cause}"))
            return
        except httptools.HttpParserUpgrade:
            # No protocol switch is proxied: the request is served as plain HTTP/1.1 and
            # the connection ends after it.
            self._closing = True
            if self._reading is not None:  # whatever followed the request is not HTTP/1.1
                self._give(self._reading)
                self._reading = None
            self._parser, self._unfed = _SPENT, b""
            self._next()
            return
        except httptools.HttpParserError as err:
            self._refuse(error_answer(400, "BadRequest", f"not a valid HTTP/1.1 request: {err}"))
            return
        if mid_head and request is self._reading and request is not None and not request.headed:
            # The whole read was head: the parser may keep a header to itself until it ends.
            request.raw += len(data)
            if request.raw > self._max_head:
                self._refuse(self._head_too_large(), request)

    def eof_received(self) -> bool | None:
        # Half-closed by the client: what it sent is still answered, then the connection ends.
        self._closing = True
        self._linger_until = 0.0  # nothing more comes: no need to linger
        if self._busy or self._queue or self._unfed:
            return True
        return None  # nothing to answer: asyncio closes it

    def pause_writing(self) -> None:
        self._stalled = True
        self._stalled_since = self._loop.time()
        assert self._transport is not None
        self._stalled_left = self._transport.get_write_buffer_size()
        self._flow()

    def resume_writing(self) -> None:
        self._stalled = False
        self._buffered.give(self._unsent)
        self._unsent = 0
        self._flow()
        self._next()

    # --- httptools ---------------------------------------------------------------------------

    def on_message_begin(self) -> None:
        self._reading = _Request(self._loop.time())

    def on_url(self, url: bytes) -> None:
        request = self._reading
        assert request is not None
        request.url += url
        if len(request.url) > self._max_head:
            self._stop(self._head_too_large(), request)

    def on_header(self, name: bytes, value: bytes) -> None:
        request = self._reading
        assert request is not None
        request.headers.append((name.lower(), value))
        request.head += len(name) + len(value) + 4  # ": " and CRLF
        if request.head + len(request.url) > self._max_head:
            self._stop(self._head_too_large(), request)

    def on_headers_complete(self) -> None:
        request = self._reading
        assert request is not None
        assert self._transport is not None
        request.headed = True
        request.method = self._parser.get_method()
        request.keep_alive = self._parser.should_keep_alive()
        # The request line: method, space, target, space, HTTP/1.1 and CRLF.
        line = len(request.method) + len(request.url) + 12
        if max(request.head + line, request.raw) > self._max_head:
            self._stop(self._head_too_large(), request)
        declared = 0
        expects = False
        for name, value in request.headers:
            if name == b"content-length" and value.isdigit():
                declared = int(value)
            elif name == b"expect" and value.lower() == b"100-continue":
                expects = True
        if declared > self._max_body:
            self._stop(self._too_large(), request)
        request.remaining = declared
        if expects and self._parser.get_http_version() == "1.1":
            self._transport.write(_CONTINUE)

    def on_body(self, body: bytes) -> None:
        request = self._reading
        assert request is not None
        size = len(body)
        if request.size + size > self._max_body:
            self._stop(self._too_large(), request)
        elif not self._buffered.take(size, request.size):
            self._stop(self._overloaded(), request)
        else:
            request.size += size
            request.held += size
            request.remaining -= size
            request.body.append(body)
            if self._busy:  # read ahead of the request in hand
                self._flow()

    def on_message_complete(self) -> None:
        request, self._reading = self._reading, None
        assert request is not None
        self._queue.append(request)
        if self._busy:
            self._flow()
        self._next()

    # --- answering ---------------------------------------------------------------------------

    def _head_too_large(self) -> Answer:
        return error_answer(
            431,
            "HeadersTooLarge",
            f"the request line and headers are over the limit of {self._max_head} bytes",
        )

    def _too_large(self) -> Answer:
        return error_answer(
            413, "PayloadTooLarge", f"body over the limit of {self._max_body} bytes"
        )

    def _overloaded(self) -> Answer:
        return error_answer(
            503,
            "Overloaded",
            f"{self._buffered.describe()}: a body over {SMALL_BODY} bytes must wait",
            [(b"retry-after", b"%d" % RETRY_AFTER_BUSY_S)],
        )

    def _refuse(self, answer: Answer, request: _Request | None = None) -> None:
        """Answer the request being read (or a stand-in for what could not be read) with
        ``answer``, in its turn, and read nothing more on this connection."""
        request = request or _Request()
        self._give(request)
        request.body, request.size = [], 0
        request.answer, request.keep_alive = answer, False
        self._reading = None
        self._parser, self._unfed = _SPENT, b""  # nothing more is read
        self._closing = True
        self._linger_until = -1.0  # lingers once the refusal is written
        self._queue.append(request)
        self._next()

    def _stop(self, answer: Answer, request: _Request) -> None:
        """Refuse the request being parsed and stop the parser (from its callbacks)."""
        self._refuse(answer, request)
        raise _Refused

    def _give(self, request: _Request) -> None:
        self._buffered.give(request.held)
        request.held = 0

    def _next(self) -> None:
        if self._busy or self._stalled or self._closed:
            return  # one at a time; and none while the client takes none of the last
        if not self._queue:
            if self._closing and not self._unfed:
                self._close()
            else:
                self._idle_since = self._loop.time()
            return
        request = self._queue.popleft()
        self._busy = True
        self._flow()
        task = self._loop.create_task(self._answer(request))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _answer(self, request: _Request) -> None:
        answer = request.answer
        if answer is None:
            chunks, request.body = request.body, []
            body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
            del chunks  # not held twice while the handler runs
            try:
                answer = await self.handler(request.method, request.url, request.headers, body)
            except Exception as err:  # the last line of defence: a clear 500, logged in full
                log.exception("unexpected error", extra={"path": request.url.decode("latin-1")})
                answer = error_answer(500, "InternalError", f"{type(err).__name__}: {err}")
            finally:
                self._give(request)
        self._busy = False
        # The last answer says the connection ends: the client's last, or ours once nothing
        # more is read (a refusal, a shutdown, the client's half-close) and none is queued.
        last = not request.keep_alive or (self._closing and not self._queue)
        self._write(answer, request.method == b"HEAD", not last)
        if not request.keep_alive:
            self._closing = True
            for queued in self._queue:
                self._give(queued)
            self._queue.clear()
        self._flow()
        self._next()

    def _write(self, answer: Answer, head_only: bool, keep_alive: bool) -> None:
        transport = self._transport
        if transport is None or transport.is_closing():
            self._buffered.give(answer.held)
            return
        out = [status_line(answer.status)]
        for name, value in answer.headers:
            out += (name, b": ", value, b"\r\n")
        if not keep_alive:
            out.append(b"connection: close\r\n")
        out.append(b"\r\n")
        body = b"" if head_only else answer.body
        if len(body) <= SMALL_BODY:
            out.append(body)
            transport.write(b"".join(out))
        else:  # a large body is not copied into the head's buffer
            transport.write(b"".join(out))
            transport.write(body)
        # What the client has not taken of it stays counted until it has (resume_writing).
        if self._stalled:
            self._unsent += answer.held
        else:
            self._buffered.give(answer.held)

    def _flow(self) -> None:
        """Pause reading while requests read ahead of the one in hand are over the limits
        (the count, or ``max_read_ahead_bytes`` of bodies) or the client takes no answer;
        resume once neither holds. A request's read time does not run while paused."""
        transport = self._transport
        if transport is None or self._closed:
            return
        pause = self._stalled
        if not pause and self._busy:
            ahead = sum(r.size for r in self._queue)
            if self._reading is not None:
                ahead += self._reading.size
            pause = len(self._queue) >= _MAX_PIPELINED or ahead > self._max_ahead
        if self._closing and self._linger_until > 0:
            pause = False  # lingering: what comes is read and dropped
        if pause and not self._paused:
            self._paused = True
            self._paused_at = self._loop.time()
            transport.pause_reading()
        elif not pause and self._paused:
            self._paused = False
            if self._reading is not None:
                self._reading.started += self._loop.time() - self._paused_at
            if self._unfed:  # parsed first (not from here: this may run inside the parser)
                self._loop.call_soon(self._parse_unfed)
            else:
                transport.resume_reading()

    def _close(self) -> None:
        transport = self._transport
        if transport is None or transport.is_closing() or self._closed:
            return
        if self._linger_until < 0 and transport.can_write_eof():
            # Refused: the client may still be sending (a body, a head). Closing now would
            # reset the connection and could lose the answer on its way; end our side,
            # read and drop what comes for a moment, then close.
            self._linger_until = self._loop.time() + LINGER_SECONDS
            transport.write_eof()
            self._flow()
            if self._timer is not None:  # a rare path: the timer is moved for it
                self._timer.cancel()
            self._timer = self._loop.call_later(LINGER_SECONDS, self._tick)
            return
        self._end()

    # --- time ------------------------------------------------------------------------------

    def _wait_at_most(self, seconds: float) -> float:
        """The timer is never set further ahead than a request's read time, so a request
        that begins meanwhile is checked in time without the timer being moved for it."""
        return max(0.0, min(seconds, self._read_seconds))

    def _tick(self) -> None:
        self._timer = None
        if self._closed:
            return
        now = self._loop.time()
        request = self._reading
        if self._linger_until > 0:
            wait = self._linger_until - now
            if wait <= 0:
                self._end()
                return
        elif request is not None and not self._paused:
            wait = request.started + self._read_seconds - now
            if wait <= 0:
                seconds = f"{self._read_seconds:g}"
                self._refuse(
                    error_answer(
                        408,
                        "RequestTimeout",
                        f"the request was not read whole within {seconds} s of its first byte",
                    ),
                    request,
                )
                if self._closed:
                    return
                wait = KEEP_ALIVE_SECONDS
        elif self._stalled:
            # A client that takes nothing of an answer for a read's time is cut off.
            assert self._transport is not None
            left = self._transport.get_write_buffer_size()
            if left < self._stalled_left:  # it took some since the last look
                self._stalled_since, self._stalled_left = now, left
            wait = self._stalled_since + self._read_seconds - now
            if wait <= 0:
                self._end()
                return
        elif not (self._busy or self._queue or request is not None):
            wait = self._idle_since + KEEP_ALIVE_SECONDS - now
            if wait <= 0:
                self._end()
                return
        else:
            wait = KEEP_ALIVE_SECONDS  # in use: a request in hand (the pod's time is bounded)
        self._timer = self._loop.call_later(self._wait_at_most(wait), self._tick)

    def _end(self) -> None:
        transport = self._transport
        if transport is not None and not transport.is_closing():
            if transport.get_write_buffer_size():
                transport.abort()  # a client that takes nothing would keep it forever
            else:
                transport.close()

    def shutdown(self) -> None:
        """The server stops: end this connection once what it was sent is answered."""
        self._closing = True
        if not self._busy and not self._queue:
            self._close()
