"""Distributed training on the real cluster: the CTR example's package, its days in the
cluster's S3 store, trained by three worker pods over XGBoost's collective (one Indexed Job,
a headless Service, rank 0's tracker) into one Ready version as good as one worker's; a
worker killed mid-training fails its group at once, which is retried whole, or fails the
run with the worker named."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from kubernetes import client
from kubernetes.stream import stream

from tests.e2e.conftest import S3, Cluster
from tests.e2e.kube import wait_for
from tests.e2e.operator_support import create, model_manifest, wait_condition
from tests.e2e.test_training import submit, upload_wheel, versions_of

pytestmark = [pytest.mark.usefixtures("operator", "storage_secret"), pytest.mark.timeout(900)]
CTR_EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "ctr"
RUN_TIMEOUT = 300
"""Bound on a run here (two cores shared by every pod): well past the collective's own
timeouts (modelops_runtime.training.distributed), so a hang would show as a timeout."""
ROUNDS = "--n_estimators=40"


@pytest.fixture(scope="module")
def ctr_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from modelops_cli.packaging import build

    return build(CTR_EXAMPLE / "trainer", tmp_path_factory.mktemp("ctr-dist"))


@pytest.fixture
def ctr_days(s3: S3, s3_bucket: str) -> Iterator[str]:
    """The week before today (a run's date is its start) in the bucket, a file per day."""
    sys.path.insert(0, str(CTR_EXAMPLE))
    try:
        from trainer.data import write_days

        uri = f"s3://{s3_bucket}/ctr-days"
        yesterday = (datetime.now(UTC) - timedelta(days=1)).date()
        with mock.patch.dict(os.environ, s3.env):
            write_days(uri, yesterday, 8, rows=1500)
        yield uri
    finally:
        sys.path.remove(str(CTR_EXAMPLE))


def ctr_job(
    name: str, package: str, bucket: str, data: str, *args: str, **spec: Any
) -> dict[str, Any]:
    return {
        "apiVersion": "modelops.dev/v1alpha1",
        "kind": "TrainingJob",
        "metadata": {"name": name},
        "spec": {"model": "ctr", "package": package, "module": "trainer.train",
                 "output": f"s3://{bucket}/models", "args": [f"--data={data}", *args],
                 "resources": {"limits": {"memory": "1Gi"}}, **spec},
    }  # fmt: skip


def worker_pods(cluster: Cluster, namespace: str, job: str) -> list[Any]:
    found = cluster.core.list_namespaced_pod(
        namespace, label_selector=f"batch.kubernetes.io/job-name={job}"
    ).items
    return sorted(found, key=lambda p: p.metadata.creation_timestamp)


def rank_of(pod: Any) -> int:
    return int(pod.metadata.annotations["batch.kubernetes.io/job-completion-index"])


KILL_WHEN_TRAINING = """
import os, signal, sys, time

def trainer():
    for pid in filter(str.isdigit, os.listdir('/proc')):
        if b'\\0-m\\0trainer.train' in open(f'/proc/{pid}/cmdline', 'rb').read():
            return int(pid)
    sys.exit('no trainer process: the run ended before the kill')

def cpu(pid):  # seconds of CPU the process has used (utime + stime)
    fields = open(f'/proc/{pid}/stat').read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')

pid, rounds = trainer(), float(sys.argv[1])
start, deadline = cpu(pid), time.monotonic() + 120
while cpu(pid) - start < rounds and time.monotonic() < deadline:
    time.sleep(0.1)
os.kill(pid, signal.SIGKILL)
print('killed', pid, 'after', rounds, 's of CPU in the collective')
"""
"""Run in a worker's trainer container, once it joined the collective: when its trainer has
used ``argv[1]`` more seconds of CPU (the boosting rounds under way, whatever the node's
load), SIGKILL it; if the trainer is gone already, say so and fail."""


def kill_trainer(cluster: Cluster, namespace: str, job: str, rank: int, cpu_seconds: float) -> str:
    """SIGKILL the user's trainer process (python -m trainer.train) in worker ``rank``'s pod,
    once every worker has joined the collective and trains: as the kernel kills a process
    for memory, or a node loses it."""

    def training() -> list[Any] | None:
        pods = [p for p in worker_pods(cluster, namespace, job) if p.status.phase == "Running"]
        if len(pods) < 3:
            return None
        logs = [
            cluster.core.read_namespaced_pod_log(p.metadata.name, namespace, container="trainer")
            for p in pods
        ]
        return pods if all("joins the tracker" in log for log in logs) else None

    pods = wait_for(training, timeout=RUN_TIMEOUT, interval=2, what="three workers training")
    victim = next(p for p in pods if rank_of(p) == rank)
    command = ["python", "-c", KILL_WHEN_TRAINING, str(cpu_seconds)]
    said = stream(cluster.core.connect_get_namespaced_pod_exec, victim.metadata.name, namespace,
                  container="trainer", command=command, stderr=True, stdout=True, stdin=False,
                  tty=False)  # fmt: skip
    assert "killed" in said, said
    return str(victim.metadata.name)


def test_three_workers_make_one_version_as_good_as_one_workers(
    cluster, namespace, s3, s3_bucket, ctr_wheel, ctr_days
):
    package = upload_wheel(s3, s3_bucket, ctr_wheel)
    create(cluster, namespace, model_manifest("ctr"))
    submit(cluster, namespace, ctr_job("ctr-three", package, s3_bucket, ctr_days, ROUNDS,
                                       workers=3))  # fmt: skip
    submit(cluster, namespace, ctr_job("ctr-one", package, s3_bucket, ctr_days, ROUNDS))
    three = wait_condition(cluster, namespace, "trainingjobs", "ctr-three", "Succeeded", "True",
                           timeout=RUN_TIMEOUT)  # fmt: skip
    one = wait_condition(cluster, namespace, "trainingjobs", "ctr-one", "Succeeded", "True",
                         timeout=RUN_TIMEOUT)  # fmt: skip

    # One Indexed Job of three pods, found by DNS under the headless Service.
    job = client.BatchV1Api(cluster.api).read_namespaced_job("ctr-three", namespace)
    assert (job.spec.completion_mode, job.spec.completions, job.status.succeeded) == (
        "Indexed", 3, 3)  # fmt: skip
    service = cluster.core.read_namespaced_service("ctr-three-workers", namespace)
    assert (service.spec.cluster_ip, service.spec.publish_not_ready_addresses) == ("None", True)
    pods = worker_pods(cluster, namespace, "ctr-three")
    assert sorted(rank_of(p) for p in pods) == [0, 1, 2]
    logs = {
        rank_of(p): cluster.core.read_namespaced_pod_log(
            p.metadata.name, namespace, container="trainer"
        )
        for p in pods
    }
    for rank, log in logs.items():  # each read its own days, and joined rank 0's tracker
        assert f"worker {rank} of 3: days " in log
        assert "joins the tracker at " in log
        assert ":9091" in log
    assert "held-out AUC" in logs[0]
    assert "held-out AUC" not in logs[1] + logs[2]

    # One version, Ready, as good as the single worker's on the same held-out day.
    assert [v["metadata"]["name"] for v in versions_of(cluster, namespace, "ctr-three")] == [
        "ctr-three"]  # fmt: skip
    version = wait_condition(cluster, namespace, "modelversions", "ctr-three", "Ready", "True")
    assert version["status"]["metrics"]["auc"] == pytest.approx(three["status"]["metrics"]["auc"])
    assert three["status"]["metrics"]["auc"] == pytest.approx(
        one["status"]["metrics"]["auc"], abs=0.005)  # fmt: skip


def test_a_worker_killed_without_retries_fails_the_run_naming_it(
    cluster, namespace, s3, s3_bucket, ctr_wheel, ctr_days
):
    package = upload_wheel(s3, s3_bucket, ctr_wheel)
    create(cluster, namespace, model_manifest("ctr"))
    submit(cluster, namespace, ctr_job("ctr-kill", package, s3_bucket, ctr_days,
                                       "--n_estimators=20000", workers=3))  # fmt: skip
    kill_trainer(cluster, namespace, "ctr-kill", rank=2, cpu_seconds=2)
    failed = wait_condition(cluster, namespace, "trainingjobs", "ctr-kill", "Succeeded", "False",
                            timeout=RUN_TIMEOUT)  # fmt: skip
    status = failed["status"]
    assert (status["phase"], status["reason"]) == ("Failed", "TrainerFailed")
    assert status["message"].startswith("worker 2 of 3: the trainer was killed by SIGKILL")
    assert versions_of(cluster, namespace, "ctr-kill") == []
    # The Job stopped every worker: none left running.
    wait_for(lambda: all(p.status.phase in ("Failed", "Succeeded")
                         for p in worker_pods(cluster, namespace, "ctr-kill")),
             timeout=120, what="the other workers to stop")  # fmt: skip


@pytest.mark.timeout(1200)  # two attempts of the group
def test_a_worker_killed_with_a_retry_reruns_the_whole_group_to_one_version(
    cluster, namespace, s3, s3_bucket, ctr_wheel, ctr_days
):
    package = upload_wheel(s3, s3_bucket, ctr_wheel)
    create(cluster, namespace, model_manifest("ctr"))
    retry = ctr_job("ctr-retry", package, s3_bucket, ctr_days, "--n_estimators=150",
                    workers=3, backoffLimit=1)  # fmt: skip
    submit(cluster, namespace, retry)
    killed = kill_trainer(cluster, namespace, "ctr-retry", rank=1, cpu_seconds=0.5)
    done = wait_condition(cluster, namespace, "trainingjobs", "ctr-retry", "Succeeded", "True",
                          timeout=2 * RUN_TIMEOUT)  # fmt: skip
    assert done["status"]["version"] == "ctr-retry"
    pods = worker_pods(cluster, namespace, "ctr-retry")
    retried = [p for p in pods if p.metadata.annotations.get(
        "batch.kubernetes.io/job-index-failure-count") == "1"]  # fmt: skip
    # The whole group ran again (each place once more), not just the lost worker.
    assert sorted(rank_of(p) for p in retried) == [0, 1, 2]
    assert killed not in {p.metadata.name for p in retried}
    assert all(p.status.phase == "Succeeded" for p in retried)
    logs = cluster.core.read_namespaced_pod_log(
        next(p for p in retried if rank_of(p) == 0).metadata.name, namespace, container="trainer"
    )
    assert ":9092" in logs  # the retry's own tracker, never the lost attempt's
    wait_condition(cluster, namespace, "modelversions", "ctr-retry", "Ready", "True")
