"""Adaptive batching: concurrent requests for the same model merge into one model call.

Requests queue up while the model is busy; when it is free, everything waiting (up to
``max_batch_size`` rows, optionally after waiting ``max_wait_s`` for more) goes in one call
off the event loop. At low load a request runs at once, alone; under load the per-call
overhead is shared by the batch. If a merged call fails, each request is run on its own
so an error is reported only to the request that caused it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("modelops.predictor")


@dataclass
class _Job:
    key: Hashable
    payload: Any
    rows: int
    future: asyncio.Future[Any] = field(repr=False)


# run(key, payloads) -> one result per payload; merge/split are the caller's business.
BatchRunner = Callable[[Hashable, list[Any]], list[Any]]


class Batcher:
    def __init__(
        self,
        run: BatchRunner,
        max_batch_size: int = 64,
        max_wait_s: float = 0.0,
        on_batch: Callable[[int], None] | None = None,
    ) -> None:
        self._run = run
        self._max_rows = max_batch_size
        self._max_wait = max_wait_s
        self._on_batch = on_batch
        self._queue: asyncio.Queue[_Job] = asyncio.Queue()
        # One thread: the model runs one batch at a time, never on the event loop.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="model")
        self._worker: asyncio.Task[None] | None = None
        self._carry: _Job | None = None  # a job too big to join the last batch leads the next

    async def submit(self, key: Hashable, payload: Any, rows: int) -> Any:
        if self._worker is None or self._worker.done():
            self._worker = asyncio.get_running_loop().create_task(self._loop())
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Job(key, payload, rows, future))
        return await future

    async def close(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            jobs = await self._collect(loop)
            groups: dict[Hashable, list[_Job]] = {}
            for job in jobs:
                groups.setdefault(job.key, []).append(job)
            for key, group in groups.items():
                try:
                    await self._execute(loop, key, group)
                except Exception as error:  # never leave a request waiting on a dead worker
                    log.exception("batch failed outside the model call")
                    for job in group:
                        _settle(job, error=error)

    async def _collect(self, loop: asyncio.AbstractEventLoop) -> list[_Job]:
        if self._carry is not None:
            first, self._carry = self._carry, None
        else:
            first = await self._queue.get()
        jobs, rows = [first], first.rows
        deadline = loop.time() + self._max_wait
        while rows < self._max_rows:
            try:
                job = self._queue.get_nowait()
            except asyncio.QueueEmpty:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                try:
                    job = await asyncio.wait_for(self._queue.get(), remaining)
                except TimeoutError:
                    break
            if rows + job.rows > self._max_rows:
                self._carry = job
                break
            jobs.append(job)
            rows += job.rows
        return jobs

    async def _execute(
        self, loop: asyncio.AbstractEventLoop, key: Hashable, jobs: list[_Job]
    ) -> None:
        live = [job for job in jobs if not job.future.done()]
        if not live:
            return
        if self._on_batch is not None:
            self._on_batch(sum(job.rows for job in live))
        payloads = [job.payload for job in live]
        try:
            results = await loop.run_in_executor(self._executor, self._run, key, payloads)
        except Exception as merged_error:
            if len(live) == 1:
                _settle(live[0], error=merged_error)
                return
            for job in live:
                try:
                    (result,) = await loop.run_in_executor(
                        self._executor, self._run, key, [job.payload]
                    )
                except Exception as error:
                    _settle(job, error=error)
                else:
                    _settle(job, result=result)
            return
        for job, result in zip(live, results, strict=True):
            _settle(job, result=result)


def _settle(job: _Job, result: Any = None, error: BaseException | None = None) -> None:
    if job.future.done():  # the client went away
        return
    if error is not None:
        job.future.set_exception(error)
    else:
        job.future.set_result(result)
