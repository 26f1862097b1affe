"""A worker's place in a distributed run and its share of a partitioned data set."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelops_runtime.training.distributed import (
    ShardError,
    Worker,
    assign,
    collective,
    shard,
    shard_files,
)


def test_a_worker_reads_its_place_from_the_contract():
    env = {"MODELOPS_RANK": "2", "MODELOPS_WORLD_SIZE": "3", "MODELOPS_ATTEMPT": "1",
           "MODELOPS_TRACKER_HOST": "run-0.run-workers", "MODELOPS_TRACKER_PORT": "9091",
           "MODELOPS_POD_IP": "10.1.2.3"}  # fmt: skip
    me = Worker.of(env)
    assert (me.rank, me.world_size, me.distributed) == (2, 3, True)
    assert (me.tracker_host, me.port, me.address) == ("run-0.run-workers", 9092, "10.1.2.3")
    alone = Worker.of({})
    assert (alone.rank, alone.world_size, alone.distributed) == (0, 1, False)


@pytest.mark.parametrize(
    ("env", "says"),
    [({"MODELOPS_RANK": "3", "MODELOPS_WORLD_SIZE": "3"}, "MODELOPS_RANK=3 is not below"),
     ({"MODELOPS_RANK": "one"}, "MODELOPS_RANK must be a whole number")],
)  # fmt: skip
def test_a_bad_place_is_a_clear_error(env, says):
    with pytest.raises(ValueError, match=says):
        Worker.of(env)


def test_shares_are_disjoint_cover_everything_and_do_not_depend_on_listing_order():
    files = [f"s3://b/day={d:02d}/part-0.csv.gz" for d in range(1, 8)]
    shares = [assign(files, rank, 3) for rank in range(3)]
    assert sorted(f for share in shares for f in share) == sorted(files)
    assert [len(s) for s in shares] == [3, 2, 2]
    assert shares == [assign(list(reversed(files)), rank, 3) for rank in range(3)]
    assert assign(files, 0, 1) == sorted(files)


def test_fewer_files_than_workers_is_a_clear_error():
    with pytest.raises(ShardError, match="2 file\\(s\\) cannot be shared by 3 workers"):
        assign(["a", "b"], 0, 3)


def test_shard_lists_a_folder_and_gives_each_worker_its_local_files(tmp_path: Path):
    for day in ("01", "02", "03", "04"):
        (tmp_path / f"day={day}").mkdir()
        (tmp_path / f"day={day}" / "part-0.csv").write_text(day)
    (tmp_path / "_SUCCESS").write_text("")
    me = Worker(rank=1, world_size=2)
    assert shard(str(tmp_path), ".csv", me) == [f"{tmp_path}/day=02/part-0.csv",
                                                f"{tmp_path}/day=04/part-0.csv"]  # fmt: skip
    paths = list(shard_files(tmp_path.as_uri(), ".csv", who=me))
    assert [p.read_text() for p in paths] == ["02", "04"]
    with pytest.raises(ShardError, match=f"{tmp_path}: 4 file\\(s\\) cannot be shared by 5"):
        shard(str(tmp_path), ".csv", Worker(rank=0, world_size=5))


def test_alone_the_collective_is_nothing_to_join():
    with collective(Worker()) as me:
        assert me.world_size == 1
