"""The activator's server side (``listener.Connection``) on a real loopback socket, spoken
to byte by byte: what HTTP/1.1 clients send it beyond one plain request at a time."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from modelops_runtime.activator.listener import Connection, RawHeaders
from modelops_runtime.activator.settings import ActivatorSettings
from modelops_runtime.activator.upstream import Answer, Buffered

LIMIT = 1_024


class Echo:
    """A handler that answers with what it was given, and can be told to be slow or fail."""

    def __init__(self) -> None:
        self.seen: list[tuple[bytes, bytes, RawHeaders, bytes]] = []
        self.release = asyncio.Event()
        self.release.set()

    async def __call__(
        self, method: bytes, target: bytes, headers: RawHeaders, body: bytes
    ) -> Answer:
        self.seen.append((method, target, headers, body))
        await self.release.wait()
        if target == b"/fail":
            raise RuntimeError("the handler broke")
        echoed = json.dumps({"method": method.decode(), "target": target.decode(),
                             "body": body.decode()}).encode()  # fmt: skip
        return Answer(200, [(b"content-length", b"%d" % len(echoed))], echoed)


@asynccontextmanager
async def listening(
    handler: Echo, receive_buffer: int = 0, **limits: Any
) -> AsyncIterator[tuple[int, set[Connection], asyncio.Server]]:
    """``Connection`` on a loopback port with the activator's settings (``max_body_bytes``
    ``LIMIT`` unless ``limits`` say otherwise); ``receive_buffer`` sets the listening
    socket's SO_RCVBUF, which its connections inherit."""
    settings = ActivatorSettings(**{"max_body_bytes": LIMIT, **limits})
    buffered = Buffered(settings.max_buffered_bytes)
    connections: set[Connection] = set()
    tasks: set[asyncio.Task[None]] = set()
    loop = asyncio.get_running_loop()
    sock = socket.socket()
    if receive_buffer:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    sock.bind(("127.0.0.1", 0))
    server = await loop.create_server(
        lambda: Connection(handler, settings, buffered, connections, tasks), sock=sock
    )
    try:
        yield server.sockets[0].getsockname()[1], connections, server
    finally:
        server.close()
        for connection in list(connections):
            connection.shutdown()


async def read_answer(reader: asyncio.StreamReader) -> tuple[int, dict[bytes, bytes], bytes]:
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ")[1])
    headers = dict(line.lower().split(b": ", 1) for line in lines[1:] if line)
    length = int(headers.get(b"content-length", b"0"))
    body = await asyncio.wait_for(reader.readexactly(length), 10) if length else b""
    return status, headers, body


def post(target: str, body: bytes, *extra: str) -> bytes:
    head = [f"POST {target} HTTP/1.1", "Host: x", f"Content-Length: {len(body)}", *extra]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


async def test_requests_on_one_connection_are_answered_in_order_pipelined_ones_too() -> None:
    handler = Echo()
    async with listening(handler) as (port, _, _):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(post("/one?q=1", b"first"))
        status, _, body = await read_answer(reader)
        assert status == 200
        assert json.loads(body)["body"] == "first"
        # Two at once, the second split mid-header: answered in the order sent.
        both = post("/two", b"second") + post("/three", b"third")
        writer.write(both[:60])
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.write(both[60:])
        answers = [await read_answer(reader) for _ in range(2)]
        writer.close()
    assert [json.loads(body)["target"] for _, _, body in answers] == ["/two", "/three"]
    method, target, headers, sent = handler.seen[0]
    assert (method, target, sent) == (b"POST", b"/one?q=1", b"first")
    assert (b"host", b"x") in headers
    assert (b"content-length", b"5") in headers


async def test_a_body_over_the_limit_is_a_413_declared_or_chunked_and_never_handled() -> None:
    handler = Echo()
    async with listening(handler) as (port, _, _):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            f"POST /big HTTP/1.1\r\nHost: x\r\nContent-Length: {LIMIT + 1}\r\n\r\n".encode()
        )
        declared = await read_answer(reader)
        assert await reader.read() == b""  # closed after the refusal
        writer.close()
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        chunk = b"x" * 600
        writer.write(
            b"POST /big HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            + (b"%x\r\n" % len(chunk) + chunk + b"\r\n") * 2
            + b"0\r\n\r\n"
        )
        chunked = await read_answer(reader)
        writer.close()
    for status, headers, body in (declared, chunked):
        assert status == 413
        assert headers[b"connection"] == b"close"
        assert json.loads(body) == {
            "error": f"body over the limit of {LIMIT} bytes",
            "reason": "PayloadTooLarge",
        }
    assert handler.seen == []


async def test_a_client_that_expects_100_continue_is_told_to_send_its_body() -> None:
    async with listening(Echo()) as (port, _, _):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            b"POST /ask HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n"
        )
        interim = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        writer.write(b"body")
        status, _, body = await read_answer(reader)
        writer.close()
    assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
    assert status == 200
    assert json.loads(body)["body"] == "body"


async def test_what_is_not_http_is_a_400_and_a_broken_handler_a_500_with_a_message() -> None:
    async with listening(Echo()) as (port, _, _):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(post("/fail", b"x"))
        failed = await read_answer(reader)
        writer.write(post("/after", b"y"))  # the connection still serves
        after = await read_answer(reader)
        writer.write(b"NOT HTTP AT ALL\r\n\r\n")
        bad = await read_answer(reader)
        assert await reader.read() == b""
        writer.close()
    assert failed[0] == 500
    assert json.loads(failed[2]) == {
        "error": "RuntimeError: the handler broke",
        "reason": "InternalError",
    }
    assert after[0] == 200
    assert bad[0] == 400
    assert json.loads(bad[2])["reason"] == "BadRequest"


async def test_head_has_no_body_and_http_1_0_closes_after_its_answer() -> None:
    async with listening(Echo()) as (port, _, _):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"HEAD /h HTTP/1.1\r\nHost: x\r\n\r\n" + post("/p", b"z"))
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        after_head = await read_answer(reader)  # the next answer follows the head at once
        writer.close()
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /old HTTP/1.0\r\nHost: x\r\n\r\n")
        old = await read_answer(reader)
        assert await reader.read() == b""
        writer.close()
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"content-length: " in head
    assert json.loads(after_head[2])["target"] == "/p"
    assert old[0] == 200
    assert old[1][b"connection"] == b"close"


async def test_a_shutdown_answers_the_request_in_hand_then_closes() -> None:
    handler = Echo()
    handler.release.clear()
    async with listening(handler) as (port, connections, server):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        idle_reader, idle_writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(post("/slow", b"s"))
        while len(handler.seen) < 1:
            await asyncio.sleep(0.01)
        server.close()
        for connection in list(connections):
            connection.shutdown()
        assert await idle_reader.read() == b""  # an idle one ends at once
        handler.release.set()
        status, headers, _ = await read_answer(reader)
        assert await reader.read() == b""
        writer.close()
        idle_writer.close()
    assert status == 200
    assert headers[b"connection"] == b"close"


async def refused(reader: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
    """A refusal's status and JSON body, and that the connection ended after it."""
    status, headers, body = await read_answer(reader)
    assert headers[b"connection"] == b"close"
    assert await asyncio.wait_for(reader.read(), 10) == b""
    return status, json.loads(body)


async def test_a_head_over_the_limit_is_a_431_many_headers_one_endless_or_a_long_url() -> None:
    handler = Echo()
    head = "POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n"
    async with listening(handler, max_head_bytes=1024) as (port, _, _):
        answers = []
        many = "".join(f"X-Header-{i:02}: {'v' * 30}\r\n" for i in range(30))  # 1.3 KB
        url = f"GET /{'u' * 1100} HTTP/1.1\r\nHost: x\r\n\r\n"
        for sent in (head + many + "\r\nz", url):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(sent.encode())
            answers.append(await refused(reader))
            writer.close()
        # One header that never ends, sent a piece at a time as a slow client would: the
        # parser keeps such a value to itself until it ends, so its size is counted apart.
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write((head + "X-Endless: ").encode())
        for _ in range(40):
            writer.write(b"e" * 512)
            await writer.drain()
            await asyncio.sleep(0.01)
            if reader.at_eof() or len(reader._buffer):  # type: ignore[attr-defined]
                break  # answered: nothing more is read
        answers.append(await refused(reader))
        writer.close()
        # Just under the limit: served.
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write((head + f"X-Fits: {'f' * 900}\r\n\r\nz").encode())
        fits = await read_answer(reader)
        writer.close()
    for status, body in answers:
        assert status == 431
        assert body == {
            "error": "the request line and headers are over the limit of 1024 bytes",
            "reason": "HeadersTooLarge",
        }
    assert fits[0] == 200
    assert len(handler.seen) == 1


async def test_a_request_not_read_in_time_is_a_408_however_slowly_its_bytes_trickle() -> None:
    handler = Echo()
    async with listening(handler, read_timeout_seconds=0.5) as (port, _, _):
        waited = []
        for first, trickle in (
            (b"POST /head HTTP/1.1\r\nHost: x\r\n", b"X-Slow: abcdefghijklmnopqrstuvwxyz"),
            (b"POST /body HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n", b"b" * 99),
        ):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            started = time.monotonic()
            writer.write(first)

            async def slowly(writer: asyncio.StreamWriter = writer, trickle: bytes = trickle):
                for byte in trickle:  # a byte every 0.1 s: each read is prompt, the whole not
                    await asyncio.sleep(0.1)
                    writer.write(bytes([byte]))

            sending = asyncio.create_task(slowly())
            status, body = await refused(reader)
            waited.append((status, body, time.monotonic() - started))
            sending.cancel()
            writer.close()
        # Idle between requests is keep-alive, not a slow request; and the handler's own
        # time (a pod's answer) is not the request's read.
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(post("/first", b"1"))
        first = await read_answer(reader)
        await asyncio.sleep(1.0)
        handler.release.clear()
        writer.write(post("/second", b"2"))
        await asyncio.sleep(1.0)
        handler.release.set()
        second = await read_answer(reader)
        writer.close()
    for status, body, seconds in waited:
        assert status == 408
        assert body == {
            "error": "the request was not read whole within 0.5 s of its first byte",
            "reason": "RequestTimeout",
        }
        assert seconds < 2.5  # the trickle would have taken 3 s or more
    assert (first[0], second[0]) == (200, 200)
    assert [target for _, target, _, _ in handler.seen] == [b"/first", b"/second"]


async def test_pipelined_requests_are_read_ahead_only_up_to_the_read_ahead_bytes() -> None:
    handler = Echo()
    handler.release.clear()
    body = b"p" * 100_000
    sent, count = 0, 40  # 4 MB of pipelined requests
    requests = b"".join(post(f"/{i}", body) for i in range(count))
    limits = {"max_body_bytes": 200_000, "max_read_ahead_bytes": 64 * 1024}
    async with listening(handler, receive_buffer=4096, **limits) as (port, _, _):
        client = socket.socket()
        client.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        client.setblocking(False)
        await asyncio.get_running_loop().sock_connect(client, ("127.0.0.1", port))
        progress = time.monotonic()
        while time.monotonic() - progress < 0.5 and sent < len(requests):  # until it stalls
            try:
                sent += client.send(requests[sent : sent + 65536])
                progress = time.monotonic()
            except BlockingIOError:
                await asyncio.sleep(0.001)
        accepted = sent  # what the server read, and the two kernels' small buffers
        handler.release.set()
        reader, writer = await asyncio.open_connection(sock=client)
        writer.write(requests[sent:])
        answers = [await read_answer(reader) for _ in range(count)]
        writer.close()
    # One request in hand (100 kB), 64 KiB read ahead, one read of the socket (asyncio's
    # 256 KiB at most) and the kernels' buffers; without the bound eight more requests.
    assert accepted < 600_000, accepted
    assert [json.loads(b)["target"] for _, _, b in answers] == [f"/{i}" for i in range(count)]


async def test_bodies_past_the_shared_budget_are_a_503_while_small_ones_are_still_read() -> None:
    handler = Echo()
    handler.release.clear()
    big, small = b"B" * 200_000, b"s" * 10_000
    limits = {"max_body_bytes": 1_000_000, "max_buffered_bytes": 256 * 1024}
    async with listening(handler, **limits) as (port, _, _):
        streams = [await asyncio.open_connection("127.0.0.1", port) for _ in range(3)]
        (first_r, first_w), (over_r, over_w), (small_r, small_w) = streams
        first_w.write(post("/first", big))
        while len(handler.seen) < 1:
            await asyncio.sleep(0.01)
        over_w.write(post("/over", big))
        over = await asyncio.wait_for(refused(over_r), 10)
        small_w.write(post("/small", small))
        while len(handler.seen) < 2:
            await asyncio.sleep(0.01)
        handler.release.set()
        answered = [(await read_answer(first_r))[0], (await read_answer(small_r))[0]]
        for _, writer in streams:
            writer.close()
    assert over == (
        503,
        {
            "error": "the activator holds all the bodies it may (262144 bytes): a body "
            "over 65536 bytes must wait",
            "reason": "Overloaded",
        },
    )
    assert answered == [200, 200]
    assert [target for _, target, _, _ in handler.seen] == [b"/first", b"/small"]


async def test_a_client_that_takes_no_answer_gets_no_more_and_is_cut_off() -> None:
    seen: list[bytes] = []
    big = b"a" * 2_000_000

    async def large(method: bytes, target: bytes, headers: RawHeaders, body: bytes) -> Answer:
        seen.append(target)
        return Answer(200, [(b"content-length", b"%d" % len(big))], big)

    async with listening(large, read_timeout_seconds=0.5) as (port, connections, _):  # type: ignore[arg-type]
        client = socket.socket()
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        client.setblocking(False)
        await asyncio.get_running_loop().sock_connect(client, ("127.0.0.1", port))
        client.send(b"".join(b"GET /%d HTTP/1.1\r\nHost: x\r\n\r\n" % i for i in range(30)))
        while not seen:
            await asyncio.sleep(0.01)
        started = time.monotonic()
        while connections and time.monotonic() - started < 10:
            await asyncio.sleep(0.05)
        gone = time.monotonic() - started
        client.close()
    # Answers stop once the client's side is full; a read's time without taking any of
    # them ends the connection (and what was held for it).
    assert len(seen) <= 4, seen
    assert not connections
    assert gone < 5


async def test_a_read_of_many_tiny_pipelined_requests_is_parsed_only_as_far_as_answered() -> None:
    handler = Echo()
    handler.release.clear()
    count = 2000
    many = b"".join(b"GET /%d HTTP/1.1\r\nHost: x\r\n\r\n" % i for i in range(count))  # 56 kB
    async with listening(handler) as (port, connections, _):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(many)
        await writer.drain()
        while not handler.seen:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.2)
        (connection,) = connections
        parsed = len(connection._queue)  # what waits parsed; the rest of the read does not
        handler.release.set()
        answers = [await read_answer(reader) for _ in range(count)]
        writer.write_eof()  # half-closed: all answered, then the connection ends
        assert await asyncio.wait_for(reader.read(), 10) == b""
        writer.close()
    # Without slices one read (as much as asyncio reads at once) became requests at once.
    assert parsed <= 8 + 16 * 1024 // 28, parsed
    assert [json.loads(b)["target"] for _, _, b in answers] == [f"/{i}" for i in range(count)]


async def test_a_connection_past_the_cap_hears_why_and_the_others_are_served() -> None:
    """Each connection holds memory and a descriptor, so the activator holds at most
    ``max_connections``: one more is answered 503 with Retry-After and closed at once,
    and a connection freed makes room again."""
    async with listening(Echo(), max_connections=3) as (port, _, _):
        held = [await asyncio.open_connection("127.0.0.1", port) for _ in range(3)]
        for _, writer in held:  # each is served, and stays open (keep-alive)
            writer.write(post("/held", b"x"))
        assert [(await read_answer(r))[0] for r, _ in held] == [200, 200, 200]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        status, headers, body = await read_answer(reader)
        assert await asyncio.wait_for(reader.read(), 10) == b""  # then closed
        writer.close()
        assert (status, headers[b"retry-after"]) == (503, b"1")
        assert json.loads(body)["reason"] == "TooManyConnections"
        held[0][1].close()
        await asyncio.sleep(0.2)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(post("/again", b"y"))
        assert (await read_answer(reader))[0] == 200
        writer.close()
        for _, open_writer in held[1:]:
            open_writer.close()
