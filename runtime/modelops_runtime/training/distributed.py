"""Several workers, one model: what a trainer needs when ``TrainingJob.spec.workers > 1``.

    from modelops_runtime.training import distributed

    worker = distributed.worker()                 # rank and world size (0 and 1 alone)
    for path in distributed.shard_files("s3://bucket/clicks/2025-01-15/"):
        ...                                        # this worker's files, one at a time
    with distributed.collective():                 # XGBoost's own collective
        booster = xgboost.train({"tree_method": "hist", ...}, dtrain)
    if worker.rank == 0:
        booster.save_model(...)                    # only rank 0 saves and reports

Rank 0 hosts XGBoost's ``RabitTracker``; every worker joins it by DNS (the operator's
headless Service). Alone (world size 1) the collective is a no-op, so the same code runs
with any number of workers. Standard library only at import; xgboost is imported when a
collective is joined.
"""

from __future__ import annotations

import math
import os
import socket
import sys
import time
import traceback
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from modelops_contracts.training import (
    ATTEMPT,
    POD_IP,
    RANK,
    TRACKER_BASE_PORT,
    TRACKER_HOST,
    TRACKER_PORT,
    WORLD_SIZE,
)
from modelops_runtime.training.group_watch import PORT_OFFSET, GroupWatch

T = TypeVar("T")
JOIN_TIMEOUT = 300
"""Seconds the group has to form (every worker started and joined the tracker); it covers
pod scheduling, the package install and data loading of the slowest worker."""
COLLECTIVE_TIMEOUT = 300
"""Seconds one collective operation may wait for a peer before it fails the worker."""


class ShardError(ValueError):
    """A partitioned data set that cannot be split between the workers."""


@dataclass(frozen=True)
class Worker:
    """This worker's place in the run, from the trainer contract's environment."""

    rank: int = 0
    world_size: int = 1
    tracker_host: str = "127.0.0.1"
    tracker_port: int = TRACKER_BASE_PORT
    attempt: int = 0
    address: str = ""
    """This worker's own IP (rank 0's tracker listens on it)."""

    @classmethod
    def of(cls, env: Mapping[str, str]) -> Worker:
        def number(name: str, default: int) -> int:
            raw = env.get(name, "").strip()
            if not raw:
                return default
            if not raw.isdigit():
                raise ValueError(f"{name} must be a whole number, not {raw!r}")
            return int(raw)

        worker = cls(
            rank=number(RANK, 0),
            world_size=number(WORLD_SIZE, 1),
            tracker_host=env.get(TRACKER_HOST, "").strip() or "127.0.0.1",
            tracker_port=number(TRACKER_PORT, TRACKER_BASE_PORT),
            attempt=number(ATTEMPT, 0),
            address=env.get(POD_IP, "").strip(),
        )
        if not 0 <= worker.rank < max(worker.world_size, 1):
            raise ValueError(f"{RANK}={worker.rank} is not below {WORLD_SIZE}={worker.world_size}")
        return worker

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def port(self) -> int:
        """The tracker's port for this attempt of the group: a retried group never meets
        the tracker of the attempt before it."""
        return self.tracker_port + self.attempt


def worker(env: Mapping[str, str] | None = None) -> Worker:
    """This worker (rank 0 of 1 outside a distributed run)."""
    return Worker.of(os.environ if env is None else env)


def assign(items: Sequence[T], rank: int, world_size: int) -> list[T]:
    """This rank's share of ``items`` (sorted first, so every worker agrees): item ``i``
    goes to rank ``i % world_size``, so shares differ by at most one item. A ShardError
    when some worker would get nothing."""
    if world_size < 1 or not 0 <= rank < world_size:
        raise ShardError(f"rank {rank} is not one of {world_size} workers")
    ordered = sorted(items)  # type: ignore[type-var]
    if len(ordered) < world_size:
        raise ShardError(
            f"{len(ordered)} file(s) cannot be shared by {world_size} workers: split the data "
            f"into at least {world_size} files, or use fewer workers"
        )
    return ordered[rank::world_size]


def shard(prefix: str, suffix: str = "", who: Worker | None = None) -> list[str]:
    """The URIs of this worker's files under ``prefix`` (a folder, ``s3://``, ``gs://``,
    ``pvc://``), those ending in ``suffix`` only when given."""
    from modelops_runtime import storage

    me = who or worker()
    files = [uri for uri in storage.list_files(prefix) if uri.endswith(suffix)]
    try:
        return assign(files, me.rank, me.world_size)
    except ShardError as err:
        raise ShardError(f"{prefix}: {err}") from err


def shard_files(
    prefix: str, suffix: str = "", cache_dir: Path | None = None, who: Worker | None = None
) -> Iterator[Path]:
    """This worker's files under ``prefix``, each brought to a local path as it is reached
    (a remote file is downloaded once into ``cache_dir``, by default under TMPDIR)."""
    import tempfile

    from modelops_runtime import storage

    cache = cache_dir or Path(tempfile.gettempdir()) / "modelops-shards"
    for uri in shard(prefix, suffix, who):
        yield storage.fetch(uri, cache)


@contextmanager
def collective(
    who: Worker | None = None,
    *,
    join_timeout: int = JOIN_TIMEOUT,
    timeout: int = COLLECTIVE_TIMEOUT,
) -> Iterator[Worker]:
    """Join XGBoost's collective for the block: ``xgboost.train`` inside it trains one
    model over every worker's rows. Rank 0 starts the tracker first. Nothing to join
    alone. A worker lost ends the others at once (``group_watch``); one silent in an
    operation fails it within ``timeout``; the group not formed within ``join_timeout``
    fails every worker that waits. An error inside the
    block ends the process (exit code 1, the traceback on stderr) rather than wait to
    shut down a group that is broken."""
    me = who or worker()
    if not me.distributed:
        yield me
        return
    from xgboost import collective as xgb_collective
    from xgboost.tracker import RabitTracker

    tracker = None
    if me.rank == 0:  # its own address: its DNS record may not be there yet
        host = me.address or _resolve(me.tracker_host, join_timeout)
        watch = GroupWatch(0, me.world_size, host, me.port + PORT_OFFSET,
                           join_timeout=join_timeout)  # fmt: skip
        watch.listen()  # before the tracker: a peer that reaches the tracker finds the watch
        tracker = RabitTracker(n_workers=me.world_size, host_ip=host, port=me.port,
                               sortby="task", timeout=join_timeout)  # fmt: skip
        tracker.start()
    else:
        host = _resolve(me.tracker_host, join_timeout)
        watch = GroupWatch(me.rank, me.world_size, host, me.port + PORT_OFFSET,
                           join_timeout=join_timeout)  # fmt: skip
    watch.start()
    _say(f"worker {me.rank} of {me.world_size} joins the tracker at {host}:{me.port}")
    args: dict[str, str | int] = {
        "dmlc_communicator": "rabit",
        "dmlc_tracker_uri": host,
        "dmlc_tracker_port": me.port,
        "dmlc_task_id": f"{me.rank:06d}",  # sorted by task: XGBoost's rank is ours
        "dmlc_timeout": timeout,
        # XGBoost backs off 2, 4, 6 ... s between attempts: n attempts wait n(n+1) s, so
        # a worker may reach its tracker up to join_timeout before rank 0 starts it.
        "dmlc_retry": math.isqrt(join_timeout) + 1,
    }
    context = xgb_collective.CommunicatorContext(**args)
    context.__enter__()
    try:
        if xgb_collective.get_rank() != me.rank:  # pragma: no cover - XGBoost's promise
            raise RuntimeError(f"XGBoost gave rank {xgb_collective.get_rank()}, not {me.rank}")
        yield me
    except BaseException:
        # The group is broken (a peer lost) or this worker failed. XGBoost's shutdown
        # would first reach for a tracker that may be gone, retrying with its back-off:
        # say why and leave at once instead (the group watch stops the peers).
        _say(f"worker {me.rank} of {me.world_size} leaves the collective on an error")
        traceback.print_exc()  # last: its final line is the error's, what a status quotes
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(1)
    watch.finish()
    context.__exit__(None, None, None)
    if tracker is not None:
        tracker.wait_for(timeout)


def _resolve(host: str, timeout: int) -> str:
    """``host``'s address, waiting for its DNS record (a new pod's appears in seconds)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return socket.gethostbyname(host)
        except OSError as err:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no address for the tracker {host} in {timeout}s") from err
            time.sleep(1.0)


def _say(line: str) -> None:
    print(f"modelops: {line}", file=sys.stderr, flush=True)
