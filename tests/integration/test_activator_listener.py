"""The activator's server side (``listener.Connection``) on a real loopback socket, spoken
to byte by byte: what HTTP/1.1 clients send it beyond one plain request at a time."""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from modelops_runtime.activator.listener import Connection, RawHeaders
from modelops_runtime.activator.upstream import Answer

LIMIT = 1_000


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
    handler: Echo,
) -> AsyncIterator[tuple[int, set[Connection], asyncio.Server]]:
    connections: set[Connection] = set()
    tasks: set[asyncio.Task[None]] = set()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        functools.partial(Connection, handler, LIMIT, connections, tasks), "127.0.0.1", 0
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
