"""Three workers train one model over XGBoost's real collective, as three local processes
on loopback, each run by the trainer entrypoint as a pod runs it: rank 0 hosts the
tracker, each worker reads only its share of the days, and the one model rank 0 publishes
scores as a single worker's on all the days."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import joblib
import pytest

from modelops_contracts.training import (
    GROUP_LOST_EXIT,
    POD_IP,
    RANK,
    RUN_DATE,
    TRACKER_HOST,
    TRACKER_PORT,
    TRAINED,
    TRAINER_FAILED,
    WORLD_SIZE,
    TrainingResult,
)
from modelops_runtime.training.group_watch import PORT_OFFSET
from tests.integration.training import CTR_EXAMPLE, Run, in_image, train, write_ctr_days
from tests.ports import free_port

DATE = {RUN_DATE: "2025-01-22T03:00:00Z"}


@pytest.fixture(scope="module")
def ctr_days(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The week before the run date, written by the example's own module."""
    return write_ctr_days(tmp_path_factory.mktemp("ctr-days"), days=7)


def ctr(tmp_path: Path, name: str, data: str, env: dict[str, str]) -> Run:
    return train(
        tmp_path / name, "--module", "trainer.train", "--output",
        f"file://{tmp_path}/store/ctr/{name}", trainer_args=(f"--data={data}", "--n_estimators=40"),
        env={**in_image(CTR_EXAMPLE), **DATE, **env},
    )  # fmt: skip


def test_three_workers_train_one_model_as_good_as_one_worker(tmp_path: Path, ctr_days: str):
    port = free_port(also=(PORT_OFFSET,))
    group = {WORLD_SIZE: "3", TRACKER_HOST: "127.0.0.1", TRACKER_PORT: str(port),
             POD_IP: "127.0.0.1"}  # fmt: skip
    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = [pool.submit(ctr, tmp_path, "group", ctr_days, {**group, RANK: str(rank)})
                   if rank == 0 else
                   pool.submit(ctr, tmp_path / f"w{rank}", "group", ctr_days,
                               {**group, RANK: str(rank)})
                   for rank in range(3)]  # fmt: skip
        workers = [f.result() for f in futures]
    single = ctr(tmp_path, "single", ctr_days, {})

    assert [w.result.reason for w in workers] == [TRAINED] * 3, [w.stderr for w in workers]
    chief, *others = workers
    assert chief.result.artifact_uri == f"file://{tmp_path}/store/ctr/group/"
    for rank, other in enumerate(others, start=1):
        assert (other.result.artifact_uri, other.result.metrics) == ("", {})
        assert f"worker {rank} of 3 finished; rank 0 publishes the model" in other.result.message
        assert not (tmp_path / f"w{rank}" / "store").exists()  # only rank 0 uploads
    # Each worker read two of the six training days, none the same.
    days = [line for w in workers for line in w.stdout.splitlines() if " of 3: days " in line]
    shares = [set(line.split(": days ")[1].split(", ")) for line in sorted(days)]
    assert [len(s) for s in shares] == [2, 2, 2]
    assert len(set.union(*shares)) == 6
    assert "got rank 2" in "".join(w.stdout + w.stderr for w in workers)  # XGBoost's tracker

    model = joblib.load(tmp_path / "store" / "ctr" / "group" / "model.joblib")
    alone = joblib.load(tmp_path / "store" / "ctr" / "single" / "model.joblib")
    # One vocabulary for all the days, as the single worker saw them all.
    assert model[0].feature_names_ == alone[0].feature_names_
    assert model[-1].get_booster().num_boosted_rounds() == 40
    assert chief.result.metrics["auc"] == pytest.approx(single.result.metrics["auc"], abs=0.005)


def cpu_seconds(pid: int) -> float:
    """CPU time a process has used (user + system), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def trainer_children(parent: int) -> list[int]:
    """The processes running ``python -m trainer.train`` under an entrypoint process."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            line = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if int(stat[1]) == parent and b"\0-m\0trainer.train" in line:
            found.append(int(pid))
    return found


def test_a_worker_lost_mid_training_fails_every_worker_and_none_hangs(
    tmp_path: Path, ctr_days: str
):
    """Rank 2's trainer is killed (as the kernel kills for memory) once the group trains:
    rank 2 reports the kill, and its peers fail on the broken collective or are stopped by
    the group watch instead of waiting for it; every process ends."""
    port = free_port(also=(PORT_OFFSET,))
    group = {WORLD_SIZE: "3", TRACKER_HOST: "127.0.0.1", TRACKER_PORT: str(port),
             POD_IP: "127.0.0.1"}  # fmt: skip
    processes, logs = [], []
    for rank in range(3):
        folder = tmp_path / f"w{rank}"
        folder.mkdir()
        argv = [sys.executable, "-m", "modelops_runtime", "train", "--work-dir",
                str(folder / "work"), "--termination-log", str(folder / "termination-log"),
                "--module", "trainer.train", "--output", f"file://{tmp_path}/store/ctr/lost",
                "--", f"--data={ctr_days}", "--n_estimators=5000"]  # fmt: skip
        env = {**os.environ, **in_image(CTR_EXAMPLE), **DATE, **group, RANK: str(rank)}
        logs.append((folder / "stderr").open("w+"))
        processes.append(subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL,
                                          stderr=logs[-1]))  # fmt: skip

    def joined() -> bool:
        return all("joins the tracker" in (tmp_path / f"w{r}" / "stderr").read_text()
                   for r in range(3))  # fmt: skip

    deadline = time.monotonic() + 300
    while not joined():
        assert time.monotonic() < deadline, "the group never formed"
        time.sleep(1)
    (victim,) = trainer_children(processes[2].pid)
    started = cpu_seconds(victim)  # into the boosting rounds: two more seconds of its work
    while cpu_seconds(victim) - started < 2:
        assert time.monotonic() < deadline, "the trainer never got to its rounds"
        time.sleep(0.1)
    os.kill(victim, signal.SIGKILL)
    for process in processes:
        process.wait(timeout=120)
    results = [TrainingResult.from_termination(
        (tmp_path / f"w{r}" / "termination-log").read_text(), processes[r].returncode)
        for r in range(3)]  # fmt: skip
    assert [r.reason for r in results] == [TRAINER_FAILED] * 3
    assert "the trainer was killed by SIGKILL" in results[2].message
    for peer in results[:2]:  # the collective broke under them, or the watch saw a peer go
        assert peer.exit_code in (1, GROUP_LOST_EXIT)
        said = peer.message + peer.log_tail
        assert "XGBoostError" in said or " of 3 is gone (its connection closed" in said, said
    assert not (tmp_path / "store").exists()  # nothing published
