"""Hostile clients and ordinary traffic together against a real activator process on
loopback, for tests/integration/test_activator_hostile.py and ``make bench BENCH=hostile``.

The activator (``python -m modelops_runtime activate --static``) routes the Service
``iris.ads`` to a real predictor and ``evil.ads`` to ``EvilPod``, a loopback server that
answers without end or too much. Each hostile kind loops on its own connections until told
to stop, and notes what the activator answered it; the ordinary clients send predictions on
keep-alive connections and note each status and latency. Nothing leaves loopback.

``python -m tests.integration.hostile evil|ordinary|hostile ...`` runs one part as a process
of its own (the benchmark puts each on its own CPU): see ``main``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from tests.integration.servers import stop_process
from tests.ports import free_port

ORDINARY_HOST = "iris.ads.svc.cluster.local"
EVIL_HOST = "evil.ads.svc.cluster.local"
MiB = 1024 * 1024


# --- the activator process ------------------------------------------------------------------


@dataclass
class Activator:
    process: subprocess.Popen[bytes]
    port: int
    admin: int
    log: Path

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.admin}/readyz", timeout=5) as r:
                return r.status == 200
        except OSError:
            return False

    def memory(self) -> tuple[int, int]:
        """(VmRSS, VmHWM) in bytes: resident now and at its peak."""
        fields = {}
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                fields[name] = int(value.split()[0]) * 1024
        return fields["VmRSS"], fields["VmHWM"]

    def reset_peak(self) -> None:
        """Start VmHWM again from the resident size now (Linux's clear_refs 5)."""
        Path(f"/proc/{self.process.pid}/clear_refs").write_text("5")

    def stop(self) -> None:
        stop_process(self.process)


def start_activator(
    folder: Path,
    predictor: str,
    evil: str,
    env: dict[str, str],
    prefix: tuple[str, ...] = (),
) -> Activator:
    """The activator as its pods run it, with static routes to the two pods."""
    static = folder / "routes.json"
    static.write_text(json.dumps({
        "services": [
            {"namespace": "ads", "name": "iris",
             "routes": [{"version": "iris-v1", "percent": 100}]},
            {"namespace": "ads", "name": "evil",
             "routes": [{"version": "evil-v1", "percent": 100}]},
        ],
        "pods": [{"namespace": "ads", "version": "iris-v1", "address": predictor},
                 {"namespace": "ads", "version": "evil-v1", "address": evil}],
    }))  # fmt: skip
    port, admin = free_port(), free_port()
    log = folder / "activator.log"
    process = subprocess.Popen(
        [*prefix, sys.executable, "-m", "modelops_runtime", "activate", "--static", str(static),
         "--host", "127.0.0.1", "--port", str(port), "--admin-port", str(admin),
         "--log-level", "warning"],
        stdout=log.open("wb"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        env={"PATH": "/usr/bin:/bin", "MODELOPS_ACTIVATOR_DRAIN_SECONDS": "0", **env},
    )  # fmt: skip
    activator = Activator(process, port, admin, log)
    deadline = time.monotonic() + 30
    while not activator.ready():
        if process.poll() is not None or time.monotonic() > deadline:
            activator.stop()
            raise RuntimeError(f"the activator did not start:\n{log.read_text()}")
        time.sleep(0.05)
    return activator


# --- a pod that answers too much ------------------------------------------------------------


@contextlib.asynccontextmanager
async def evil_pod(large: int = 48 * MiB, port: int = 0) -> AsyncIterator[str]:
    """A loopback HTTP server whose answers are hostile: ``/endless`` a chunked answer that
    never ends, ``/large`` one of ``large`` bytes (under the activator's cap), anything
    else 256 KiB. Its address."""
    chunk = b"%x\r\n%s\r\n" % (MiB, b"e" * MiB)
    sized = {b"/large": b"l" * large}
    medium = b"m" * (256 * 1024)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                path = head.split(b" ", 2)[1]
                if path == b"/endless":
                    writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
                    while True:  # until the activator gives up on it
                        writer.write(chunk)
                        await writer.drain()
                else:
                    body = sized.get(path, medium)
                    writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % len(body))
                    writer.write(body)
                    await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", port)
    try:
        yield f"127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(server.wait_closed(), 2)


# --- the clients ----------------------------------------------------------------------------


@dataclass
class Ordinary:
    """What the ordinary clients got: statuses (or the error instead), latencies in ms."""

    statuses: Counter[str] = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)

    @property
    def failures(self) -> int:
        return sum(n for status, n in self.statuses.items() if status != "200")

    def percentile(self, share: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


async def _status(reader: asyncio.StreamReader, timeout: float) -> tuple[int, bytes]:
    """The status and body of one answer (a body of content-length)."""
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
    lines = head.split(b"\r\n")
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    body = await asyncio.wait_for(reader.readexactly(length), timeout) if length else b""
    return int(lines[0].split(b" ")[1]), body


def _request(host: str, path: str, body: bytes = b"", *extra: str) -> bytes:
    head = [f"POST {path} HTTP/1.1", f"Host: {host}", f"Content-Length: {len(body)}",
            "Content-Type: application/json", *extra]  # fmt: skip
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


async def ordinary(port: int, body: bytes, stop: asyncio.Event, tally: Ordinary) -> None:
    """One client sending predictions one after another on a keep-alive connection (a new
    one after an error, which counts as a failure)."""
    request = _request(ORDINARY_HOST, "/v1/models/iris:predict", body)
    while not stop.is_set():
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError as err:
            tally.statuses[type(err).__name__] += 1
            await asyncio.sleep(0.1)
            continue
        try:
            while not stop.is_set():
                started = time.perf_counter()
                writer.write(request)
                status, _ = await _status(reader, 60)
                tally.latencies_ms.append(1000 * (time.perf_counter() - started))
                tally.statuses[str(status)] += 1
        except (OSError, asyncio.IncompleteReadError, TimeoutError) as err:
            tally.statuses[type(err).__name__] += 1
        finally:
            writer.close()


Outcomes = Counter[tuple[str, str]]
"""(hostile kind, what it got: a status, or the error that ended its connection): count."""


async def _connection(
    port: int, kind: str, outcomes: Outcomes, act: Callable[..., Awaitable[None]]
) -> None:
    # A small receive buffer, so that what a client does not read stays in the activator
    # instead of the kernel.
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 * 1024)
    sock.setblocking(False)
    try:
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
        reader, writer = await asyncio.open_connection(sock=sock)
    except OSError as err:
        sock.close()
        outcomes[(kind, type(err).__name__)] += 1
        await asyncio.sleep(0.1)
        return
    try:
        await act(reader, writer)
    except (OSError, asyncio.IncompleteReadError, TimeoutError) as err:
        outcomes[(kind, type(err).__name__)] += 1
    finally:
        writer.close()


async def _answered(reader: asyncio.StreamReader, kind: str, outcomes: Outcomes) -> None:
    status, _ = await _status(reader, 60)
    outcomes[(kind, str(status))] += 1


async def _trickle(
    writer: asyncio.StreamWriter, reader: asyncio.StreamReader, piece: bytes
) -> None:
    """Send ``piece`` every 0.2 s until the activator answers or ends the connection."""
    while not reader.at_eof() and not len(reader._buffer):  # type: ignore[attr-defined]
        writer.write(piece)
        await writer.drain()
        await asyncio.sleep(0.2)


def _kinds(port: int, outcomes: Outcomes) -> dict[str, Callable[[], Awaitable[None]]]:
    """Each hostile kind: one connection's worth of it."""
    iris = ORDINARY_HOST

    async def slow_head(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(f"POST /v1/models/iris:predict HTTP/1.1\r\nHost: {iris}\r\nX-Slow: ".encode())
        sending = asyncio.create_task(_trickle(writer, reader, b"s"))
        try:
            await _answered(reader, "slow head", outcomes)
        finally:
            sending.cancel()

    async def slow_body(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = _request(iris, "/v1/models/iris:predict", b"", "X-Pad: 1")[:-2]
        writer.write(head.replace(b"Content-Length: 0", b"Content-Length: %d" % MiB) + b"\r\n")
        sending = asyncio.create_task(_trickle(writer, reader, b"b" * 1024))
        try:
            await _answered(reader, "slow body", outcomes)
        finally:
            sending.cancel()

    async def huge_head(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(_request(iris, "/v1/models/iris:predict", b"{}", f"X-Huge: {'h' * MiB}"))
        await _answered(reader, "huge head", outcomes)
        await asyncio.sleep(0.05)

    async def declared_body(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = _request(iris, "/v1/models/iris:predict")
        writer.write(head.replace(b"Content-Length: 0", b"Content-Length: %d" % (1024 * MiB)))
        await _answered(reader, "declared body", outcomes)
        await asyncio.sleep(0.05)

    async def endless_body(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(f"POST /v1/models/iris:predict HTTP/1.1\r\nHost: {iris}\r\n"
                     "Transfer-Encoding: chunked\r\n\r\n".encode())  # fmt: skip
        chunk = b"%x\r\n%s\r\n" % (MiB, b"c" * MiB)

        async def stream() -> None:
            while True:
                writer.write(chunk)
                await writer.drain()

        sending = asyncio.create_task(stream())
        try:
            await _answered(reader, "endless body", outcomes)
        finally:
            sending.cancel()

    async def flood(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # Pipelined requests whose answers (256 KiB each) are never read.
        many = f"GET /medium HTTP/1.1\r\nHost: {EVIL_HOST}\r\n\r\n".encode() * 500
        try:
            while True:
                writer.write(many)
                await writer.drain()
        except OSError:
            outcomes[("flood", "cut off")] += 1

    async def endless_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(_request(EVIL_HOST, "/endless"))
        await _answered(reader, "endless answer", outcomes)

    async def large_unread(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # An answer under the cap that the client never takes (beyond what its buffers do).
        writer.write(_request(EVIL_HOST, "/large"))
        status = (await reader.readuntil(b"\r\n")).split(b" ")[1].decode()
        if status != "200":  # refused (the bodies budget was full)
            outcomes[("large unread", status)] += 1
            return
        with writer.get_extra_info("socket").dup() as sock:  # to look without taking
            while True:
                await asyncio.sleep(0.5)
                try:
                    if not sock.recv(1, socket.MSG_PEEK):
                        break
                except BlockingIOError:
                    continue
                except OSError:
                    break
        outcomes[("large unread", "cut off")] += 1

    acts = {"slow head": slow_head, "slow body": slow_body, "huge head": huge_head,
            "declared body": declared_body, "endless body": endless_body, "flood": flood,
            "endless answer": endless_answer, "large unread": large_unread}  # fmt: skip
    return {kind: lambda kind=kind, act=act: _connection(port, kind, outcomes, act)  # type: ignore[misc]
            for kind, act in acts.items()}  # fmt: skip


MIX = {"slow head": 10, "slow body": 10, "huge head": 6, "declared body": 4, "endless body": 4,
       "flood": 8, "endless answer": 4, "large unread": 4}  # fmt: skip
"""50 hostile connections at any moment, by kind."""


async def hostile(port: int, stop: asyncio.Event, outcomes: Outcomes) -> None:
    """``MIX``'s connections, each kind opening a new one whenever one ends, until ``stop``."""
    kinds = _kinds(port, outcomes)

    async def keep(kind: str) -> None:
        while not stop.is_set():
            await kinds[kind]()

    tasks = [asyncio.create_task(keep(kind)) for kind, n in MIX.items() for _ in range(n)]
    await stop.wait()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def run(
    activator: Activator,
    body: bytes,
    seconds: float,
    clients: int = 4,
    with_hostile: bool = True,
) -> tuple[Ordinary, Outcomes, int]:
    """Ordinary traffic (and the hostile mix) for ``seconds``: what each got, and the
    activator's largest resident size seen, sampled every 50 ms."""
    stop = asyncio.Event()
    tally, outcomes = Ordinary(), Outcomes()
    tasks = [asyncio.create_task(ordinary(activator.port, body, stop, tally))
             for _ in range(clients)]  # fmt: skip
    if with_hostile:
        tasks.append(asyncio.create_task(hostile(activator.port, stop, outcomes)))
    largest = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and activator.process.poll() is None:
        largest = max(largest, activator.memory()[0])
        await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 90)
    return tally, outcomes, largest


async def _part(argv: list[str]) -> None:
    part, port, seconds = argv[0], int(argv[1]), float(argv[2])
    stop = asyncio.Event()
    asyncio.get_running_loop().call_later(seconds, stop.set)
    if part == "evil":
        async with evil_pod(port=port):
            await stop.wait()
    elif part == "ordinary":
        tally, body = Ordinary(), Path(argv[4]).read_bytes()
        await asyncio.gather(*(ordinary(port, body, stop, tally) for _ in range(int(argv[3]))))
        print(json.dumps({"statuses": tally.statuses, "latencies_ms": tally.latencies_ms}))
    elif part == "hostile":
        outcomes = Outcomes()
        await hostile(port, stop, outcomes)
        print(json.dumps([[kind, what, n] for (kind, what), n in outcomes.items()]))
    else:
        raise SystemExit(f"no part {part!r}: evil, ordinary or hostile")


def main(argv: list[str]) -> None:
    """``evil PORT SECONDS``: the hostile pod on PORT; ``ordinary PORT SECONDS CLIENTS
    BODY_FILE``: ordinary clients of the activator on PORT, then their statuses and
    latencies as JSON; ``hostile PORT SECONDS``: ``MIX``, then its outcomes as JSON."""
    asyncio.run(_part(argv))


if __name__ == "__main__":
    main(sys.argv[1:])
