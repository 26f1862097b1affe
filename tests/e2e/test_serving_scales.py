"""Serving that scales, on the real cluster, under load sent to the Services' own
addresses (tests/e2e/load.py): switching versions, pods going away, scale to zero and the
wake, a traffic split and a canary rolled back, a version that cannot start."""

from __future__ import annotations

import operator
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import joblib
import pytest

from tests.e2e.conftest import S3, Cluster
from tests.e2e.kube import wait_for
from tests.e2e.load import Load, address, pods_of, send, service_host
from tests.e2e.operator_support import (
    condition,
    create,
    custom,
    get,
    model_manifest,
    upload,
    version_manifest,
    wait_condition,
)
from tests.models import Trained

pytestmark = pytest.mark.usefixtures("operator", "storage_secret")

FIXED = {"minReplicas": 1, "maxReplicas": 1}


def patch_model(cluster: Cluster, namespace: str, name: str, spec: dict) -> None:
    custom(cluster).patch_namespaced_custom_object(
        "modelops.dev", "v1alpha1", namespace, "models", name, {"spec": spec}
    )


def versions_ready(
    cluster: Cluster, namespace: str, s3: S3, bucket: str, iris: Trained, model: str,
    names: list[str], predictor: dict | None = None, **model_spec: object,
) -> None:  # fmt: skip
    """A Model with these versions of one artifact, all Ready."""
    uri, sha = upload(s3, bucket, f"{model}/v1", iris)
    create(cluster, namespace, model_manifest(model, **model_spec))
    for name in names:
        spec = {"predictor": predictor} if predictor else {}
        create(cluster, namespace, version_manifest(name, model, uri, sha, **spec))
    for name in names:
        wait_condition(cluster, namespace, "modelversions", name, "Ready", "True")


def test_switching_the_serving_version_under_load_fails_nothing(
    cluster, namespace, s3, s3_bucket, iris
):
    names = ["iris-v1", "iris-v2"]
    versions_ready(cluster, namespace, s3, s3_bucket, iris, "iris", names, FIXED,
                   defaultVersion="iris-v1")  # fmt: skip
    ip = address(cluster, namespace, "iris")
    wait_for(lambda: send(ip, service_host("iris", namespace), "iris", iris.rows[:2]).version
             == "iris-v1", timeout=60, what="iris-v1 to serve")  # fmt: skip
    with Load(ip, service_host("iris", namespace), "iris", iris.rows[:2]) as load:
        time.sleep(3)
        for target in ("iris-v2", "iris-v1", "iris-v2"):
            switched = time.monotonic()
            patch_model(cluster, namespace, "iris", {"defaultVersion": target})
            wait_for(lambda t=target, s=switched: any(a.version == t for a in load.since(s)),
                     timeout=30, what=f"answers from {target}")  # fmt: skip
            time.sleep(6)
    assert len(load.answers) > 500, "the load ran"
    assert load.failures() == [], f"{len(load.failures())} of {len(load.answers)} failed"
    assert set(load.versions()) == {"iris-v1", "iris-v2"}


def test_deleting_one_of_two_pods_under_load_fails_nothing(cluster, namespace, s3, s3_bucket, iris):
    versions_ready(cluster, namespace, s3, s3_bucket, iris, "iris", ["iris-v1"],
                   {"minReplicas": 2, "maxReplicas": 2})  # fmt: skip
    wait_for(lambda: len([p for p in pods_of(cluster, namespace, "iris-v1")
                          if all(c.ready for c in p.status.container_statuses or [])]) == 2,
             timeout=120, what="two ready pods")  # fmt: skip
    ip = address(cluster, namespace, "iris")
    with Load(ip, service_host("iris", namespace), "iris", iris.rows[:2]) as load:
        time.sleep(4)
        victim = pods_of(cluster, namespace, "iris-v1")[0].metadata.name
        cluster.core.delete_namespaced_pod(victim, namespace)
        wait_for(lambda: victim not in {p.metadata.name for p in
                                        cluster.core.list_namespaced_pod(namespace).items},
                 timeout=120, what=f"pod {victim} to be gone")  # fmt: skip
        time.sleep(3)
    assert len(load.answers) > 300, "the load ran"
    assert load.failures() == [], f"{len(load.failures())} of {len(load.answers)} failed"


def test_an_idle_version_scales_to_zero_and_the_next_requests_wake_it(
    cluster, namespace, s3, s3_bucket, iris
):
    idle = {"minReplicas": 0, "maxReplicas": 2, "idleTimeoutSeconds": 10,
            "scaleDownDelaySeconds": 0}  # fmt: skip
    versions_ready(cluster, namespace, s3, s3_bucket, iris, "iris", ["iris-v1"], idle)
    ip, host = address(cluster, namespace, "iris"), service_host("iris", namespace)
    assert send(ip, host, "iris", iris.rows[:2]).status == 200

    asleep = wait_condition(cluster, namespace, "modelversions", "iris-v1", "Active", "False",
                            "ScaledToZero", timeout=120)  # fmt: skip
    assert condition(asleep, "Ready")["status"] == "True", "a version at zero is servable"
    assert condition(asleep, "Active").get("severity") == "Info"
    # Gone, not only terminating: a draining pod still answers what reaches it.
    wait_for(lambda: not pods_of(cluster, namespace, "iris-v1", terminating=True), timeout=120,
             what="the version's pods to be gone")  # fmt: skip
    scaled = [e for e in cluster.core.list_namespaced_event(namespace).items
              if e.reason == "Scaled" and e.involved_object.name == "iris-v1"]  # fmt: skip
    assert scaled, "scaling to zero is an Event"

    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(pool.map(lambda _: send(ip, host, "iris", iris.rows[:2]), range(10)))
    assert [a.status for a in answers] == [200] * 10, [a.body for a in answers if a.status != 200]
    assert {a.version for a in answers} == {"iris-v1"}
    assert any("x-modelops-cold-start" in {k.lower() for k in a.headers} for a in answers)
    wait_condition(cluster, namespace, "modelversions", "iris-v1", "Active", "True")
    # Verified once: the woken pod serves the artifact itself, pinned to its sha256.
    (woken,) = pods_of(cluster, namespace, "iris-v1")
    assert not woken.spec.init_containers
    (predictor,) = woken.spec.containers
    assert predictor.args[predictor.args.index("--sha256") + 1] == iris.sha256()


def test_an_artifact_changed_after_verification_is_refused_when_the_version_wakes(
    cluster, namespace, s3, s3_bucket, iris, houses
):
    """The artifact is checked again on every wake (pinned to the verified sha256): bytes
    replaced in the store after verification are a ChecksumMismatch, never served."""
    idle = {"minReplicas": 0, "maxReplicas": 1, "idleTimeoutSeconds": 10,
            "scaleDownDelaySeconds": 0}  # fmt: skip
    versions_ready(cluster, namespace, s3, s3_bucket, iris, "iris", ["iris-v1"], idle)
    wait_condition(cluster, namespace, "modelversions", "iris-v1", "Active", "False",
                   "ScaledToZero", timeout=120)  # fmt: skip
    wait_for(lambda: not pods_of(cluster, namespace, "iris-v1", terminating=True), timeout=120,
             what="the version's pods to be gone")  # fmt: skip
    s3.client().upload_file(str(houses.path), s3_bucket, f"iris/v1/{iris.path.name}")

    ip, host = address(cluster, namespace, "iris"), service_host("iris", namespace)
    answer = send(ip, host, "iris", iris.rows[:1])
    assert answer.status == 503, answer.body
    assert "iris-v1" in answer.body
    assert "ChecksumMismatch" in answer.body, answer.body
    refused = wait_condition(cluster, namespace, "modelversions", "iris-v1", "ArtifactVerified",
                             "False", "ChecksumMismatch", timeout=120)  # fmt: skip
    assert iris.sha256() in condition(refused, "ArtifactVerified")["message"]
    assert condition(refused, "Ready")["status"] == "False"


def test_a_split_lands_within_five_percent(cluster, namespace, s3, s3_bucket, iris):
    split = [{"version": "iris-v1", "percent": 90}, {"version": "iris-v2", "percent": 10}]
    versions_ready(cluster, namespace, s3, s3_bucket, iris, "iris", ["iris-v1", "iris-v2"],
                   FIXED, traffic=split)  # fmt: skip
    wait_for(lambda: get(cluster, namespace, "models", "iris")["status"].get("traffic"),
             timeout=60, what="the split to be in effect")  # fmt: skip
    ip, host = address(cluster, namespace, "iris"), service_host("iris", namespace)
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda _: send(ip, host, "iris", iris.rows[:1]), range(1000)))
    assert [a for a in answers if a.status != 200] == []
    share = sum(a.version == "iris-v2" for a in answers) / len(answers)
    assert 0.05 <= share <= 0.15, f"iris-v2 got {share:.1%} of 1,000 requests, not 10% ± 5%"


def broken_iris(folder: Path, iris: Trained) -> Trained:
    """Iris whose pipeline raises on every prediction (a 500 from the predictor)."""
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    fitted = iris.model
    broken = Pipeline([("broken", FunctionTransformer(operator.itemgetter(10_000))),
                       ("model", fitted)])  # fmt: skip
    path = folder / "model.joblib"
    joblib.dump(broken, path)
    return Trained("broken", path, broken, iris.rows, iris.local_input)


def test_a_canary_that_answers_500s_is_rolled_back(
    cluster, namespace, s3, s3_bucket, iris, tmp_path
):
    rollout = {"analysis": {"windowSeconds": 10, "minRequests": 20}}
    split = [{"version": "iris-v1", "percent": 50}, {"version": "iris-v2", "percent": 50}]
    versions_ready(cluster, namespace, s3, s3_bucket, iris, "iris", ["iris-v1"], FIXED,
                   defaultVersion="iris-v1")  # fmt: skip
    bad_uri, bad_sha = upload(s3, s3_bucket, "iris/v2", broken_iris(tmp_path, iris))
    create(cluster, namespace, version_manifest("iris-v2", "iris", bad_uri, bad_sha,
                                                predictor=FIXED))  # fmt: skip
    wait_condition(cluster, namespace, "modelversions", "iris-v2", "Ready", "True")
    patch_model(cluster, namespace, "iris", {"traffic": split, "rollout": rollout})

    ip, host = address(cluster, namespace, "iris"), service_host("iris", namespace)
    with Load(ip, host, "iris", iris.rows[:2], concurrency=4) as load:
        model = wait_for(
            lambda: (m := get(cluster, namespace, "models", "iris"))["status"].get("rollout", {})
            .get("phase") == "RolledBack" and m, timeout=120, what="the canary to be rolled back",
        )  # fmt: skip
        rolled_back = time.monotonic()
        time.sleep(5)
    assert any(a.status == 500 for a in load.answers), "the canary answered 500s"
    status = model["status"]
    assert status["traffic"] == [{"version": "iris-v1", "percent": 100}]
    assert status["rollout"]["candidateErrorRate"] > status["rollout"]["stableErrorRate"]
    late = load.since(rolled_back + 3)
    assert late
    assert all(a.status == 200 and a.version == "iris-v1" for a in late)
    events = [e for e in cluster.core.list_namespaced_event(namespace).items
              if e.reason == "RolledBack" and e.involved_object.name == "iris"]  # fmt: skip
    assert events
    assert "iris-v2" in events[0].message
    # GitOps-safe: the spec still says 50/50; the operator never wrote it.
    assert get(cluster, namespace, "models", "iris")["spec"]["traffic"] == split


def test_a_version_that_cannot_start_answers_503_with_its_reason(
    cluster, namespace, s3, s3_bucket, iris
):
    """Its requests are held while it is woken; once its pod cannot pull its image, the
    held callers get a 503 naming the reason, not a 504 at the wait bound."""
    uri, sha = upload(s3, s3_bucket, "iris/v1", iris)
    create(cluster, namespace, model_manifest("iris"))
    create(cluster, namespace, version_manifest(
        "iris-v1", "iris", uri, sha, runtimeVersion="missing",
        predictor={"minReplicas": 0, "maxReplicas": 1},
    ))  # fmt: skip
    service = "iris-v1-predictor"  # the version's URL: the Model has no Ready version
    ip, host = address(cluster, namespace, service), service_host(service, namespace)
    with ThreadPoolExecutor(max_workers=3) as pool:
        answers = list(pool.map(lambda _: send(ip, host, "iris", iris.rows[:1]), range(3)))
    assert [a.status for a in answers] == [503] * 3, [a.body for a in answers]
    for answer in answers:
        assert "iris-v1" in answer.body
        assert "ImagePull" in answer.body or "ErrImage" in answer.body, answer.body
        assert {k.lower() for k in answer.headers} >= {"retry-after"}
