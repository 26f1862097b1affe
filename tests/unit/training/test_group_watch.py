"""The group watch over real loopback sockets, three workers in one process: what ends a
worker is recorded instead of ending the test's process."""

from __future__ import annotations

import queue
import socket
import time

import pytest

from modelops_runtime.training.group_watch import GroupWatch
from tests.ports import free_port


@pytest.fixture
def group():
    """Three watches joined as collective() joins them; ``lost`` gets (rank, why)."""
    lost: queue.Queue[tuple[int, str]] = queue.Queue()
    port = free_port()

    def member(rank: int) -> GroupWatch:
        return GroupWatch(rank, 3, "127.0.0.1", port, join_timeout=10,
                          on_lost=lambda why: lost.put((rank, why)))  # fmt: skip

    watches = [member(rank) for rank in range(3)]
    watches[0].listen()
    for watch in watches:
        watch.start()
    # Joined: rank 0 holds both peers (in a pod, the collective cannot start before that).
    deadline = time.monotonic() + 10
    while len(watches[0]._peers) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(watches[0]._peers) == 2, "rank 0 did not accept both peers"
    yield watches, lost
    for watch in watches:
        watch.finish()


def vanish(watch: GroupWatch) -> None:
    """The worker's process ends without a word: its sockets close, as the kernel closes
    those of a killed process."""
    watch._finished.set()  # its own watch is gone with it
    for peer in watch._peers:
        peer.shutdown(socket.SHUT_RDWR)
        peer.close()


def test_a_lost_peer_stops_rank_0_and_rank_0_lost_stops_the_others(group):
    watches, lost = group
    vanish(watches[2])
    rank, why = lost.get(timeout=5)
    assert rank == 0
    assert why.startswith("worker 2 of 3 is gone")
    assert "worker 0 stops too" in why

    vanish(watches[0])  # as leave() ends rank 0's process
    rank, why = lost.get(timeout=5)
    assert rank == 1
    assert why == ("worker 0 of 3 is gone (its connection closed before it finished): the "
                   "group is broken, so worker 1 stops too")  # fmt: skip
    assert lost.empty()


def test_workers_that_finished_end_without_alarm(group):
    watches, lost = group
    for watch in (watches[2], watches[1], watches[0]):
        watch.finish()
    with pytest.raises(queue.Empty):
        lost.get(timeout=1)


def test_rank_0_finishing_first_leaves_its_peers_to_finish_their_part(group):
    """Rank 0 done and its process gone: a peer still in its block is not stopped, and its
    own end later is expected."""
    watches, lost = group
    watches[0].finish()
    with pytest.raises(queue.Empty):
        lost.get(timeout=1)
    watches[1].finish()
    watches[2].finish()
    assert lost.empty()


def test_a_peer_finds_no_rank_0_within_the_join_timeout():
    alone = GroupWatch(1, 2, "127.0.0.1", free_port(), join_timeout=1.5)
    with pytest.raises(TimeoutError, match=r"worker 1 of 2 could not reach worker 0 at 127\.0"):
        alone.start()
