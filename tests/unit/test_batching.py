"""Adaptive batching merges concurrent requests, keeps their answers apart, isolates errors."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Hashable

from modelops_runtime.batching import Batcher


class Recorder:
    def __init__(self, slow: float = 0.0) -> None:
        self.calls: list[list[int]] = []
        self.slow = slow
        self.thread_ids: set[int] = set()

    def __call__(self, key: Hashable, payloads: list[list[int]]) -> list[list[int]]:
        self.thread_ids.add(threading.get_ident())
        self.calls.append([len(p) for p in payloads])
        if any(v < 0 for p in payloads for v in p):
            raise ValueError("negative value")
        time.sleep(self.slow)
        return [[v * 10 for v in p] for p in payloads]


async def test_concurrent_requests_merge_and_each_gets_its_own_answer() -> None:
    run = Recorder(slow=0.02)
    batcher = Batcher(run, max_batch_size=64)
    results = await asyncio.gather(*(batcher.submit("k", [i, i], 2) for i in range(20)))
    await batcher.close()
    assert results == [[i * 10, i * 10] for i in range(20)]
    assert len(run.calls) < 20  # requests that queued behind the first call were merged
    assert max(len(c) for c in run.calls) > 1
    assert threading.get_ident() not in run.thread_ids  # never on the event loop's thread


async def test_batches_never_exceed_the_row_limit() -> None:
    run = Recorder(slow=0.01)
    batcher = Batcher(run, max_batch_size=5)
    await asyncio.gather(*(batcher.submit("k", [1, 2], 2) for _ in range(12)))
    await batcher.close()
    assert all(sum(call) <= 5 for call in run.calls)


async def test_a_bad_request_fails_alone() -> None:
    run = Recorder(slow=0.01)
    batcher = Batcher(run, max_batch_size=64)
    outcomes = await asyncio.gather(
        *(batcher.submit("k", [-1] if i == 3 else [i], 1) for i in range(8)),
        return_exceptions=True,
    )
    await batcher.close()
    assert isinstance(outcomes[3], ValueError)
    assert [o for i, o in enumerate(outcomes) if i != 3] == [[i * 10] for i in range(8) if i != 3]


class Gate:
    """A model call held at a gate: the first call waits there until the test opens it,
    so everything submitted meanwhile is queued, whatever the machine's speed."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.open = threading.Event()
        self.calls: list[tuple[Hashable, list[list[int]]]] = []

    def __call__(self, key: Hashable, payloads: list[list[int]]) -> list[tuple[Hashable, list]]:
        self.entered.set()
        assert self.open.wait(timeout=30), "the test never opened the gate"
        self.calls.append((key, payloads))
        return [(key, [v * 10 for v in p]) for p in payloads]

    async def hold(self, batcher: Batcher, key: Hashable, payload: list[int]) -> asyncio.Task:
        """Submit a first request and wait until its model call is held at the gate."""
        task = asyncio.create_task(batcher.submit(key, payload, len(payload)))
        assert await asyncio.to_thread(self.entered.wait, 30)
        return task


async def test_requests_for_two_methods_batch_apart_and_get_their_own_answers() -> None:
    gate = Gate()
    batcher = Batcher(gate, max_batch_size=64)
    first = await gate.hold(batcher, "predict", [0])
    keys = ["proba" if i % 2 else "predict" for i in range(1, 9)]
    queued = [
        asyncio.create_task(batcher.submit(key, [i], 1)) for i, key in enumerate(keys, start=1)
    ]
    await asyncio.sleep(0)  # each task runs up to its wait for an answer: all are queued
    gate.open.set()
    answers = await asyncio.gather(first, *queued)
    await batcher.close()
    assert gate.calls[0] == ("predict", [[0]])  # alone: nothing else was waiting yet
    assert sorted(gate.calls[1:]) == [  # then one call per method for all that queued
        ("predict", [[2], [4], [6], [8]]),
        ("proba", [[1], [3], [5], [7]]),
    ]
    assert answers[0] == ("predict", [0])
    assert answers[1:] == [(key, [i * 10]) for i, key in enumerate(keys, start=1)]


async def test_waiting_collects_requests_that_arrive_a_little_later() -> None:
    """With a wait, a batch stays open for requests that come after the first one: here
    until it is full (6 rows), so no clock decides how the requests are grouped."""
    run = Recorder()
    batcher = Batcher(run, max_batch_size=6, max_wait_s=60)

    async def later(i: int) -> list[int]:
        await asyncio.sleep(0.001 * i)
        return await batcher.submit("k", [i], 1)

    results = await asyncio.gather(*(later(i) for i in range(6)))
    await batcher.close()
    assert run.calls == [[1] * 6]
    assert results == [[i * 10] for i in range(6)]
