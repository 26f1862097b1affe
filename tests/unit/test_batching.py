"""Adaptive batching merges concurrent requests, keeps their answers apart, isolates errors."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Hashable

import pytest

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


async def test_different_keys_are_never_merged() -> None:
    seen: list[tuple[Hashable, int]] = []

    def run(key: Hashable, payloads: list[list[int]]) -> list[list[int]]:
        seen.append((key, len(payloads)))
        time.sleep(0.01)
        return payloads

    batcher = Batcher(run, max_batch_size=64)
    await asyncio.gather(
        *(batcher.submit(("predict" if i % 2 else "proba"), [i], 1) for i in range(10))
    )
    await batcher.close()
    assert {key for key, _ in seen} == {"predict", "proba"}


@pytest.mark.parametrize("wait_ms", [5.0])
async def test_waiting_collects_requests_that_arrive_a_little_later(wait_ms: float) -> None:
    run = Recorder()
    batcher = Batcher(run, max_batch_size=64, max_wait_s=wait_ms / 1000)

    async def later(i: int) -> list[int]:
        await asyncio.sleep(0.001 * (i % 2))
        return await batcher.submit("k", [i], 1)

    await asyncio.gather(*(later(i) for i in range(6)))
    await batcher.close()
    assert len(run.calls) == 1
