"""The activator's keep-alive pool to a pod, on a real loopback server: a connection is
reused only while the pod would still keep it (its keep-alive timeout), so a request is
never written onto a connection the pod is closing at that moment."""

from __future__ import annotations

import asyncio

from modelops_contracts.serving import PREDICTOR_KEEP_ALIVE_SECONDS
from modelops_runtime.activator.upstream import Buffered, Pool
from tests.integration.upstreams import answer


async def test_an_idle_connection_is_reused_only_while_the_pod_keeps_it() -> None:
    connections: list[int] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(writer.get_extra_info("peername")[1])
        try:
            while await reader.readuntil(b"\r\n\r\n"):
                writer.write(answer(200, b"ok"))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    address = f"127.0.0.1:{server.sockets[0].getsockname()[1]}"
    pool = Pool(address, 2.0, 1 << 20, Buffered(1 << 30), reuse_idle_seconds=0.5)
    try:

        async def get() -> int:
            return (await pool.request(b"GET", b"/", [(b"host", b"pod")], b"", 10)).status

        statuses = [await get(), await get()]  # back to back: one connection
        await asyncio.sleep(0.8)  # idle past the limit: closed, a new one made
        statuses.append(await get())
        await asyncio.sleep(0.1)
        statuses.append(await get())  # idle briefly: reused
    finally:
        pool.close()
        server.close()
    assert statuses == [200] * 4
    assert len(connections) == 2
    assert Pool(address, 2.0, 1, Buffered(1))._reuse_idle == PREDICTOR_KEEP_ALIVE_SECONDS - 1
