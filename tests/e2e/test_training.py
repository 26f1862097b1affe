"""TrainingJobs on the real cluster: a trainer package built here, installed and run in a
pod, its model a Ready version that predicts as the trainer's own; every way a run fails
named in status with no version made; a schedule whose second candidate the promotion
gate refuses; a search that survives losing its operator."""

from __future__ import annotations

import json
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from kubernetes import client

from modelops_contracts.training import BASELINE_VERSION
from tests.e2e.conftest import S3, Cluster
from tests.e2e.kube import wait_for
from tests.e2e.operator_fixtures import private_install
from tests.e2e.operator_support import (
    condition,
    create,
    custom,
    get,
    model_manifest,
    predict,
    wait_condition,
)

pytestmark = pytest.mark.usefixtures("operator", "storage_secret")
RUN_TIMEOUT = 180
"""Bound on one run: ~20 s here alone, ~60 s beside the suite's other tests."""

TRAINER = '''
"""A tiny deterministic trainer: logistic regression on synthetic data."""

import argparse
import json
import os
import sys
import time

import joblib
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score


def data(seed, rows, noise):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 4))
    y = (x[:, 0] + 0.5 * x[:, 1] - 0.25 * x[:, 2] > 0).astype(int)
    flip = rng.random(rows) < noise
    y[flip] = 1 - y[flip]
    return x, y


def fit(c=1.0, noise=0.0):
    x, y = data(7, 600, noise)
    return LogisticRegression(C=c).fit(x, y)


def evaluate(model):
    x, y = data(99, 400, 0.0)
    return {"auc": float(roc_auc_score(y, model.predict_proba(x)[:, 1]))}


def noise_from(uri):
    if not uri:
        return 0.0
    from modelops_runtime import storage

    import tempfile
    from pathlib import Path

    found = storage.fetch(uri, Path(tempfile.mkdtemp()))
    return float(json.loads(found.read_text())["noise"])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--job-dir")
    parser.add_argument("--C", type=float, default=1.0)
    parser.add_argument("--noise-from", default="")
    parser.add_argument("--fail", action="store_true")
    parser.add_argument("--no-model", action="store_true")
    parser.add_argument("--allocate-mb", type=int, default=0)
    parser.add_argument("--sleep", type=float, default=0.0)
    args = parser.parse_args()
    print(f"training with C={args.C} on {os.environ.get('MODELOPS_RUN_DATE')}", flush=True)
    if args.fail:
        print("boom: column 'clicks' is missing from the data", flush=True)
        sys.exit(3)
    if args.allocate_mb:
        hog = np.ones(args.allocate_mb * 1024 * 1024 // 8)
        print(f"allocated {hog.nbytes} bytes", flush=True)
    time.sleep(args.sleep)
    model = fit(args.C, noise_from(args.noise_from))
    if not args.no_model:
        joblib.dump(model, os.path.join(args.job_dir, "model.joblib"))
    with open(os.environ["MODELOPS_METRICS_FILE"], "w") as out:
        json.dump(evaluate(model), out)


if __name__ == "__main__":
    main()
'''


@pytest.fixture(scope="module")
def trainer_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny trainer as a wheel, built by the CLI's own builder (as ``train submit``)."""
    from modelops_cli.packaging import build

    source = tmp_path_factory.mktemp("tinytrain")
    (source / "tinytrain").mkdir()
    (source / "tinytrain" / "__init__.py").write_text("")
    (source / "tinytrain" / "train.py").write_text(textwrap.dedent(TRAINER))
    (source / "pyproject.toml").write_text(textwrap.dedent('''
        [build-system]
        requires = ["setuptools>=69"]
        build-backend = "setuptools.build_meta"
        [project]
        name = "tinytrain"
        version = "0.1"
        [tool.setuptools]
        packages = ["tinytrain"]
    '''))  # fmt: skip
    return build(source, tmp_path_factory.mktemp("dist"))


def local_trainer(wheel: Path) -> Any:
    """The same trainer module, imported here, to train what the pod trained."""
    import importlib
    import zipfile

    unpacked = wheel.parent / "unpacked"
    zipfile.ZipFile(wheel).extractall(unpacked)
    sys.path.insert(0, str(unpacked))
    try:
        return importlib.import_module("tinytrain.train")
    finally:
        sys.path.remove(str(unpacked))


def upload_wheel(s3: S3, bucket: str, wheel: Path) -> str:
    s3.client().upload_file(str(wheel), bucket, f"packages/{wheel.name}")
    return f"s3://{bucket}/packages/{wheel.name}"


def training_job(name: str, package: str, bucket: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "modelops.dev/v1alpha1",
        "kind": "TrainingJob",
        "metadata": {"name": name},
        "spec": {"model": "tiny", "package": package, "module": "tinytrain.train",
                 "output": f"s3://{bucket}/models", **spec},
    }  # fmt: skip


def submit(cluster: Cluster, namespace: str, manifest: dict[str, Any]) -> None:
    custom(cluster).create_namespaced_custom_object(
        "modelops.dev", "v1alpha1", namespace, "trainingjobs", manifest
    )


def training(cluster: Cluster, namespace: str, name: str) -> dict[str, Any]:
    return get(cluster, namespace, "trainingjobs", name)


def versions_of(cluster: Cluster, namespace: str, name: str) -> list[dict[str, Any]]:
    listed = custom(cluster).list_namespaced_custom_object(
        "modelops.dev", "v1alpha1", namespace, "modelversions",
        label_selector=f"modelops.dev/trainingjob={name}",
    )  # fmt: skip
    return list(listed["items"])


def test_a_run_becomes_a_version_that_predicts_as_the_trainers_own_model(
    cluster, namespace, s3, s3_bucket, trainer_wheel
):
    package = upload_wheel(s3, s3_bucket, trainer_wheel)
    create(cluster, namespace, model_manifest("tiny"))
    submit(cluster, namespace, training_job("tiny-once", package, s3_bucket, args=["--C=0.5"]))
    done = wait_condition(cluster, namespace, "trainingjobs", "tiny-once", "Succeeded", "True",
                          timeout=RUN_TIMEOUT)  # fmt: skip
    assert done["status"]["phase"] == "Succeeded"
    assert done["status"]["version"] == "tiny-once"
    version = wait_condition(cluster, namespace, "modelversions", "tiny-once", "Ready", "True")
    assert version["metadata"]["labels"]["modelops.dev/trainingjob"] == "tiny-once"
    assert version["status"]["metrics"]["auc"] == pytest.approx(done["status"]["metrics"]["auc"])
    wait_condition(cluster, namespace, "models", "tiny", "Ready", "True")
    trainer = local_trainer(trainer_wheel)
    ours = trainer.fit(0.5)
    rows, _ = trainer.data(5, 8, 0.0)
    remote = predict(namespace, "tiny", rows.tolist())
    np.testing.assert_array_equal(np.asarray(remote), ours.predict(rows))
    logs = cluster.core.list_namespaced_pod(
        namespace, label_selector="modelops.dev/trainingjob=tiny-once"
    )
    text = cluster.core.read_namespaced_pod_log(logs.items[0].metadata.name, namespace,
                                                container="trainer")  # fmt: skip
    assert "training with C=0.5" in text

    # A version is made once per run: deleted (as retention does), it does not come back.
    job = client.BatchV1Api(cluster.api).read_namespaced_job("tiny-once", namespace)
    assert job.metadata.annotations["modelops.dev/produced-version"] == "tiny-once"
    custom(cluster).delete_namespaced_custom_object(
        "modelops.dev", "v1alpha1", namespace, "modelversions", "tiny-once"
    )
    wait_for(lambda: not versions_of(cluster, namespace, "tiny-once"), timeout=60,
             what="the version to be deleted")  # fmt: skip
    # A change of the spec: the operator reconciles it, and says so in observedGeneration.
    patched = custom(cluster).patch_namespaced_custom_object(
        "modelops.dev", "v1alpha1", namespace, "trainingjobs", "tiny-once",
        {"spec": {"args": ["--C=0.5", "--sleep=0"]}},
    )  # fmt: skip
    generation = patched["metadata"]["generation"]
    wait_for(lambda: training(cluster, namespace, "tiny-once")["status"].get(
        "observedGeneration") == generation, timeout=60,
        what="the operator to see the change")  # fmt: skip
    assert versions_of(cluster, namespace, "tiny-once") == []
    assert [j.metadata.name for j in client.BatchV1Api(cluster.api).list_namespaced_job(
        namespace).items] == ["tiny-once"]  # and no second run  # fmt: skip


@pytest.mark.parametrize(
    ("case", "spec", "reason", "says"),
    [
        ("missing", {"package": "s3://{bucket}/packages/nothing-0.1-py3-none-any.whl"},
         "PackageNotFound", "nothing-0.1"),
        ("broken", {"package": "s3://{bucket}/packages/broken-0.1-py3-none-any.whl"},
         "PackageInstallFailed", "broken"),
        ("fails", {"args": ["--fail"]}, "TrainerFailed", "column 'clicks' is missing"),
        ("no-model", {"args": ["--no-model"]}, "NoModelWritten",
         "the trainer ended well but wrote no model"),
        ("oom", {"args": ["--allocate-mb=1500"],
                 "resources": {"limits": {"memory": "400Mi"}}}, "OOMKilled", "memory"),
        ("late", {"args": ["--sleep=600"], "activeDeadlineSeconds": 20},
         "DeadlineExceeded", "activeDeadlineSeconds"),
    ],
)  # fmt: skip
def test_each_way_a_run_fails_is_named_and_makes_no_version(
    cluster, namespace, s3, s3_bucket, trainer_wheel, case, spec, reason, says
):
    package = upload_wheel(s3, s3_bucket, trainer_wheel)
    s3.client().put_object(Bucket=s3_bucket, Key="packages/broken-0.1-py3-none-any.whl",
                           Body=b"not a wheel at all")  # fmt: skip
    create(cluster, namespace, model_manifest("tiny"))
    spec = {k: (v.format(bucket=s3_bucket) if isinstance(v, str) else v) for k, v in spec.items()}
    name = f"tiny-{case}"
    package = spec.pop("package", package)
    submit(cluster, namespace, training_job(name, package, s3_bucket, **spec))
    failed = wait_condition(cluster, namespace, "trainingjobs", name, "Succeeded", "False",
                            reason=reason, timeout=RUN_TIMEOUT)  # fmt: skip
    assert failed["status"]["phase"] == "Failed"
    assert failed["status"]["reason"] == reason
    assert says in failed["status"]["message"]
    if case == "fails":
        assert "the trainer exited with code 3" in failed["status"]["message"]
    assert versions_of(cluster, namespace, name) == []


@pytest.mark.timeout(3 * (60 + RUN_TIMEOUT))  # up to three cron ticks and their runs
def test_a_schedule_promotes_a_better_candidate_and_refuses_a_worse_one(
    cluster, namespace, s3, s3_bucket, trainer_wheel
):
    """Every minute: the first run serves (nothing served before). Once the schedule names
    it as the version to beat, the test makes the data noisy, and the gate refuses the next
    run on the same held-out data. (A run the cron started before that, on clean data,
    compares with what the first recorded and is refused as no better.)"""
    package = upload_wheel(s3, s3_bucket, trainer_wheel)
    knob = f"s3://{s3_bucket}/knob.json"
    s3.client().put_object(Bucket=s3_bucket, Key="knob.json", Body=b'{"noise": 0.0}')
    create(cluster, namespace, model_manifest("tiny"))
    submit(cluster, namespace, training_job(
        "tiny-daily", package, s3_bucket, args=[f"--noise-from={knob}"],
        schedule={"cron": "* * * * *"}, promotion={"metric": "auc", "goal": "maximize"},
    ))  # fmt: skip
    batch = client.BatchV1Api(cluster.api)

    def runs() -> list[dict[str, Any]]:
        return list(training(cluster, namespace, "tiny-daily").get("status", {}).get("runs", []))

    first = wait_for(lambda: versions_of(cluster, namespace, "tiny-daily"),
                     timeout=60 + RUN_TIMEOUT, what="the first scheduled run")[0]  # fmt: skip
    assert first["metadata"]["labels"]["modelops.dev/promotion"] == "promoted"
    first_name = first["metadata"]["name"]
    wait_condition(cluster, namespace, "modelversions", first_name, "Ready", "True")
    wait_for(lambda: get(cluster, namespace, "models", "tiny")["status"].get("servingVersion")
             == first_name, timeout=60, what="the first run's version to serve")  # fmt: skip

    def baseline_named() -> bool:
        template = batch.read_namespaced_cron_job("tiny-daily", namespace).spec.job_template
        env = template.spec.template.spec.containers[0].env or []
        return any(e.name == BASELINE_VERSION and e.value == first_name for e in env)

    wait_for(baseline_named, timeout=60, what="the schedule to name the version to beat")
    s3.client().put_object(Bucket=s3_bucket, Key="knob.json", Body=b'{"noise": 0.45}')
    # The CronJob controller reads the template from its own cache: a run it starts within
    # a few seconds of the change may have been made from the template before it.
    noisy_from = (datetime.now(UTC) + timedelta(seconds=10)).strftime("%Y-%m-%dT%H:%M:%SZ")

    def judged_noisy() -> dict[str, Any] | None:
        return next((r for r in runs() if r.get("scheduledTime", "") >= noisy_from
                     and r.get("version")), None)  # fmt: skip

    noisy = wait_for(judged_noisy, timeout=60 + RUN_TIMEOUT, what="a run on the noisy data")
    custom(cluster).patch_namespaced_custom_object(  # no more runs while we look
        "modelops.dev", "v1alpha1", namespace, "trainingjobs", "tiny-daily",
        {"metadata": {"annotations": {"modelops.dev/trainingjob-cancel": "true"}}},
    )  # fmt: skip
    # Cancelled: its CronJob is suspended (a run it had started is stopped, and makes nothing).
    wait_for(lambda: batch.read_namespaced_cron_job("tiny-daily", namespace).spec.suspend,
             timeout=60, what="the schedule's CronJob to be suspended")  # fmt: skip
    refused = wait_condition(cluster, namespace, "modelversions", noisy["version"], "Ready",
                             "True")  # fmt: skip
    assert refused["metadata"]["labels"]["modelops.dev/promotion"] == "rejected"
    decision = json.loads(refused["metadata"]["annotations"]["modelops.dev/promotion-decision"])
    assert (decision["decision"], decision["basis"]) == ("Rejected", "same-data")
    assert decision["servingVersion"] == first_name
    assert decision["candidateValue"] < decision["servingValue"]
    shown = condition(refused, "Promotion")
    assert (shown["status"], shown["reason"]) == ("False", "Rejected")
    assert get(cluster, namespace, "models", "tiny")["status"]["servingVersion"] == first_name
    # Every run that made a version (newest first) was refused, but the first; and every
    # version the schedule made is one of theirs.
    made = [(r.get("reason"), r["version"]) for r in runs() if r.get("version")]
    assert made[-1] == ("Promoted", first_name)
    assert {reason for reason, _ in made[:-1]} == {"Rejected"}
    assert sorted(v for _, v in made) == sorted(
        v["metadata"]["name"] for v in versions_of(cluster, namespace, "tiny-daily"))  # fmt: skip


def test_a_search_past_max_failed_trials_fails_and_starts_no_more_trials(
    cluster, namespace, s3, s3_bucket, trainer_wheel
):
    package = upload_wheel(s3, s3_bucket, trainer_wheel)
    create(cluster, namespace, model_manifest("tiny"))
    search = {"metric": "auc", "goal": "maximize", "maxTrials": 6, "parallelTrials": 1,
              "maxFailedTrials": 1, "algorithm": "random",
              "parameters": [{"name": "C", "type": "double", "minValue": 0.1,
                              "maxValue": 10}]}  # fmt: skip
    submit(cluster, namespace, training_job("tiny-doomed", package, s3_bucket, args=["--fail"],
                                            hyperparameters=search))  # fmt: skip
    failed = wait_condition(cluster, namespace, "trainingjobs", "tiny-doomed", "Succeeded",
                            "False", reason="SearchFailed", timeout=RUN_TIMEOUT)  # fmt: skip
    said = condition(failed, "Succeeded")["message"]
    assert said == "2 trials failed, more than maxFailedTrials (1)"
    assert failed["status"]["phase"] == "Failed"
    assert [t["state"] for t in failed["status"]["trials"]] == ["Failed", "Failed"]
    jobs = client.BatchV1Api(cluster.api).list_namespaced_job(namespace).items
    assert sorted(j.metadata.name for j in jobs) == ["tiny-doomed-t0", "tiny-doomed-t1"]
    assert versions_of(cluster, namespace, "tiny-doomed") == []


@pytest.fixture
def own_operator(cluster, runtime_image, s3):
    """An install of its own: the test deletes its operator pods, which no other test sees."""
    with private_install(cluster, runtime_image, "search", s3) as install:
        yield install


@pytest.mark.timeout(2 * RUN_TIMEOUT + 180)  # its own install, then the search
def test_a_search_keeps_the_best_trial_and_survives_losing_its_operator(
    cluster, s3, s3_bucket, trainer_wheel, own_operator
):
    namespace = own_operator.namespace
    package = upload_wheel(s3, s3_bucket, trainer_wheel)
    create(cluster, namespace, model_manifest("tiny"))
    search = {"metric": "auc", "goal": "maximize", "maxTrials": 4, "parallelTrials": 2,
              "algorithm": "random", "seed": 3,
              "parameters": [{"name": "C", "type": "double", "minValue": 0.001,
                              "maxValue": 10, "scale": "log"}]}  # fmt: skip
    submit(cluster, namespace, training_job("tiny-search", package, s3_bucket,
                                            hyperparameters=search))  # fmt: skip

    def trial_jobs() -> list[str]:
        jobs = (
            client.BatchV1Api(cluster.api)
            .list_namespaced_job(namespace, label_selector="modelops.dev/trainingjob=tiny-search")
            .items
        )
        return sorted(j.metadata.name for j in jobs)  # fmt: skip

    wait_for(lambda: len(trial_jobs()) >= 2, timeout=120, what="two trials running")
    operators = cluster.core.list_namespaced_pod(
        own_operator.system, label_selector="app.kubernetes.io/name=modelops-operator"
    ).items
    assert operators
    for pod in operators:
        cluster.core.delete_namespaced_pod(pod.metadata.name, own_operator.system)
    done = wait_condition(cluster, namespace, "trainingjobs", "tiny-search", "Succeeded", "True",
                          timeout=2 * RUN_TIMEOUT)  # fmt: skip
    assert trial_jobs() == [f"tiny-search-t{n}" for n in range(4)]
    trials = done["status"]["trials"]
    assert [t["number"] for t in trials] == [0, 1, 2, 3]
    assert all(t["state"] == "Succeeded" for t in trials)
    best = max(trials, key=lambda t: t["metric"])
    assert done["status"]["bestTrial"] == best["number"]
    version = wait_condition(cluster, namespace, "modelversions", "tiny-search", "Ready", "True")
    assert version["spec"]["artifact"]["uri"] == best["artifact"]
    assert version["status"]["metrics"]["auc"] == pytest.approx(best["metric"])
    # The operator that finished the search is a new pod: the deleted ones did not return.
    now = cluster.core.list_namespaced_pod(
        own_operator.system, label_selector="app.kubernetes.io/name=modelops-operator"
    ).items
    assert {p.metadata.name for p in now}.isdisjoint(p.metadata.name for p in operators)
