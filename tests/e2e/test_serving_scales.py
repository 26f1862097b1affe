"""Serving that scales, on the real cluster, under load sent to the Services' own
addresses (tests/e2e/load.py): switching versions, pods going away, scale to zero and the
wake, a traffic split and a canary rolled back, a version that cannot start."""

from __future__ import annotations

import json
import operator
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import joblib
import pytest

from modelops_contracts.serving import STATS_PATH
from tests.e2e.conftest import S3, Cluster
from tests.e2e.kube import wait_for
from tests.e2e.load import Load, address, answered_by, pods_of, send, service_host, under_way
from tests.e2e.operator_support import (
    OPERATOR_NAMESPACE,
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
HALVES = [{"version": "iris-v1", "percent": 50}, {"version": "iris-v2", "percent": 50}]
ACTIVATOR = "modelops-activator"


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
    # The Model routes to them (its Service follows a moment after the versions).
    wait_condition(cluster, namespace, "models", model, "Ready", "True", timeout=60)
    ip, host = address(cluster, namespace, model), service_host(model, namespace)
    wait_for(lambda: send(ip, host, model, iris.rows[:1]).status == 200, timeout=30,
             what=f"the Model {model} to answer")  # fmt: skip


def test_switching_the_serving_version_under_load_fails_nothing(
    cluster, namespace, s3, s3_bucket, iris
):
    names = ["iris-v1", "iris-v2"]
    versions_ready(cluster, namespace, s3, s3_bucket, iris, "iris", names, FIXED,
                   defaultVersion="iris-v1")  # fmt: skip
    ip = address(cluster, namespace, "iris")
    wait_for(lambda: send(ip, service_host("iris", namespace), "iris", iris.rows[:2]).version
             == "iris-v1", timeout=60, what="iris-v1 to serve")  # fmt: skip
    # By name, and by the ClusterIP as curl sends it (Host: the IP), which the activator,
    # briefly in the path at each switch, must route too.
    with (
        Load(ip, service_host("iris", namespace), "iris", iris.rows[:2]) as load,
        Load(ip, ip, "iris", iris.rows[:2], concurrency=2) as by_ip,
    ):
        under_way(load)
        for target in ("iris-v2", "iris-v1", "iris-v2"):
            switched = time.monotonic()
            patch_model(cluster, namespace, "iris", {"defaultVersion": target})
            answered_by(load, target, switched)
    for sent in (load, by_ip):
        assert len(sent.answers) > 200, "the load ran"
        assert sent.failures() == [], f"{len(sent.failures())} of {len(sent.answers)} failed"
        assert set(sent.versions()) == {"iris-v1", "iris-v2"}


def test_deleting_one_of_two_pods_under_load_fails_nothing(cluster, namespace, s3, s3_bucket, iris):
    versions_ready(cluster, namespace, s3, s3_bucket, iris, "iris", ["iris-v1"],
                   {"minReplicas": 2, "maxReplicas": 2})  # fmt: skip
    wait_for(lambda: len([p for p in pods_of(cluster, namespace, "iris-v1")
                          if all(c.ready for c in p.status.container_statuses or [])]) == 2,
             timeout=120, what="two ready pods")  # fmt: skip
    ip = address(cluster, namespace, "iris")
    with Load(ip, service_host("iris", namespace), "iris", iris.rows[:2]) as load:
        under_way(load)
        victim = pods_of(cluster, namespace, "iris-v1")[0].metadata.name
        cluster.core.delete_namespaced_pod(victim, namespace)
        wait_for(lambda: victim not in {p.metadata.name for p in
                                        cluster.core.list_namespaced_pod(namespace).items},
                 timeout=120, what=f"pod {victim} to be gone")  # fmt: skip
        answered_by(load, "iris-v1", time.monotonic(), answers=200)
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

    # Half by name, half by the ClusterIP as Host (the activator answers them all at zero).
    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(pool.map(lambda i: send(ip, host if i % 2 else ip, "iris", iris.rows[:2]),
                                range(10)))  # fmt: skip
    assert [a.status for a in answers] == [200] * 10, [a.body for a in answers if a.status != 200]
    assert {a.version for a in answers} == {"iris-v1"}
    assert any("x-modelops-cold-start" in {k.lower() for k in a.headers} for a in answers)
    wait_condition(cluster, namespace, "modelversions", "iris-v1", "Active", "True")
    # Verified once: the woken pod serves the artifact itself, pinned to its sha256.
    (woken,) = pods_of(cluster, namespace, "iris-v1")
    assert not woken.spec.init_containers
    (predictor,) = woken.spec.containers
    assert predictor.args[predictor.args.index("--sha256") + 1] == iris.sha256()


def pod_stats(pod: Any) -> dict[str, Any]:
    """A predictor pod's own counters (what the autoscaler reads), from its address."""
    with urllib.request.urlopen(f"http://{pod.status.pod_ip}:8080{STATS_PATH}", timeout=5) as r:
        found: dict[str, Any] = json.loads(r.read())
    return found


def test_load_scales_a_version_out_and_the_quiet_after_it_back_in(
    cluster, namespace, s3, s3_bucket, iris
):
    """maxReplicas above minReplicas: six requests at a time against a target of one in
    flight per pod add pods (the panic window acts within seconds), each new pod takes a
    share of the load and no request fails; once the load ends the version goes back to
    its minimum (after its stable window)."""
    elastic = {"minReplicas": 1, "maxReplicas": 3, "targetConcurrency": 1,
               "scaleDownDelaySeconds": 0}  # fmt: skip
    versions_ready(cluster, namespace, s3, s3_bucket, iris, "iris", ["iris-v1"], elastic)
    deployment = "iris-v1-predictor"

    def replicas() -> int:
        return int(cluster.apps.read_namespaced_deployment(deployment, namespace).spec.replicas)

    def ready_pods() -> list[Any]:
        pods = pods_of(cluster, namespace, "iris-v1")
        return [p for p in pods if p.status.container_statuses
                and all(s.ready for s in p.status.container_statuses)]  # fmt: skip

    assert replicas() == 1
    ip, host = address(cluster, namespace, "iris"), service_host("iris", namespace)
    with Load(ip, host, "iris", iris.rows[:1], concurrency=6) as load:
        wait_for(lambda: replicas() >= 2, timeout=90, what="the load to add pods")
        grown = wait_for(lambda: len(ready_pods()) >= 2 and ready_pods(), timeout=120,
                         what="the added pods to be ready")  # fmt: skip
        before = {p.metadata.name: pod_stats(p)["requests"] for p in grown}
        wait_for(lambda: all(pod_stats(p)["requests"] > before[p.metadata.name] for p in grown),
                 timeout=60, what="every ready pod to take requests")  # fmt: skip
    assert load.failures() == [], load.failures()[:3]
    assert replicas() <= 3
    up = [e for e in cluster.core.list_namespaced_event(namespace).items
          if e.reason == "Scaled" and e.involved_object.name == "iris-v1"]  # fmt: skip
    assert any(e.message.startswith("1 -> ") for e in up), [e.message for e in up]

    wait_for(lambda: replicas() == 1, timeout=180, what="the quiet to take the pods away")
    wait_for(lambda: len(pods_of(cluster, namespace, "iris-v1")) == 1, timeout=120,
             what="one pod left")  # fmt: skip
    assert send(ip, host, "iris", iris.rows[:1]).status == 200


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


def test_a_split_is_exact_per_activator(cluster, namespace, s3, s3_bucket, iris):
    """Each activator replica routes by a smooth weighted round-robin, exact over its own
    requests (within one of the share); kube-proxy spreads the requests over the replicas,
    so 1,000 requests at 90/10 give iris-v2 100 of them, within one per replica."""
    split = [{"version": "iris-v1", "percent": 90}, {"version": "iris-v2", "percent": 10}]
    versions_ready(cluster, namespace, s3, s3_bucket, iris, "iris", ["iris-v1", "iris-v2"],
                   FIXED, traffic=split)  # fmt: skip
    wait_for(lambda: get(cluster, namespace, "models", "iris")["status"].get("traffic"),
             timeout=60, what="the split to be in effect")  # fmt: skip
    ip, host = address(cluster, namespace, "iris"), service_host("iris", namespace)
    # The Service's endpoints move to the activators, then kube-proxy follows (all rules at
    # once): until then requests reach iris-v1's pods directly. An answer of iris-v2 is
    # proof that the activators are in the path.
    wait_for(lambda: send(ip, host, "iris", iris.rows[:1]).version == "iris-v2", timeout=60,
             interval=0.1, what="iris-v2 to answer through the activators")  # fmt: skip
    # Half by name, half by the ClusterIP as Host: both reach the split.
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda i: send(ip, host if i % 2 else ip, "iris", iris.rows[:1]),
                                range(1000)))  # fmt: skip
    assert [a for a in answers if a.status != 200] == []
    activators = cluster.apps.read_namespaced_deployment(ACTIVATOR, OPERATOR_NAMESPACE)
    replicas = activators.spec.replicas
    assert replicas == 2
    got = sum(a.version == "iris-v2" for a in answers)
    assert abs(got - 100) <= replicas, f"iris-v2 got {got} of 1,000 requests at 10%"
    assert {a.version for a in answers} == {"iris-v1", "iris-v2"}


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


def canary_rolled_back(
    cluster: Cluster, namespace: str, s3: S3, bucket: str, iris: Trained, candidate: Trained
) -> tuple[dict, Load, float]:
    """iris-v1 stable, ``candidate`` as iris-v2 at 50% under a rollout's analysis, and a
    load until the canary is rolled back and 20 answers came after that: (the Model as it
    was rolled back, the load, when)."""
    rollout = {"analysis": {"windowSeconds": 10, "minRequests": 20}}
    versions_ready(cluster, namespace, s3, bucket, iris, "iris", ["iris-v1"], FIXED,
                   defaultVersion="iris-v1")  # fmt: skip
    uri, sha = upload(s3, bucket, "iris/v2", candidate)
    create(cluster, namespace, version_manifest("iris-v2", "iris", uri, sha, predictor=FIXED))
    wait_condition(cluster, namespace, "modelversions", "iris-v2", "Ready", "True")
    patch_model(cluster, namespace, "iris", {"traffic": HALVES, "rollout": rollout})
    ip, host = address(cluster, namespace, "iris"), service_host("iris", namespace)
    with Load(ip, host, "iris", iris.rows[:2], concurrency=4) as load:
        model = wait_for(
            lambda: (m := get(cluster, namespace, "models", "iris"))["status"].get("rollout", {})
            .get("phase") == "RolledBack" and m, timeout=120, what="the canary to be rolled back",
        )  # fmt: skip
        rolled_back = time.monotonic()
        wait_for(lambda: len(load.since(rolled_back + 3)) >= 20, timeout=30,
                 what="answers after the rollback")  # fmt: skip
    return model, load, rolled_back


def rolled_back_events(cluster: Cluster, namespace: str) -> list[str]:
    return [e.message for e in cluster.core.list_namespaced_event(namespace).items
            if e.reason == "RolledBack" and e.involved_object.name == "iris"]  # fmt: skip


def test_a_canary_that_answers_500s_is_rolled_back(
    cluster, namespace, s3, s3_bucket, iris, tmp_path
):
    broken = broken_iris(tmp_path, iris)
    model, load, rolled_back = canary_rolled_back(cluster, namespace, s3, s3_bucket, iris, broken)
    assert any(a.status == 500 for a in load.answers), "the canary answered 500s"
    status = model["status"]
    assert status["traffic"] == [{"version": "iris-v1", "percent": 100}]
    assert status["rollout"]["reason"].startswith("error rate: "), status["rollout"]
    assert status["rollout"]["candidateErrorRate"] > status["rollout"]["stableErrorRate"]
    late = load.since(rolled_back + 3)
    assert all(a.status == 200 and a.version == "iris-v1" for a in late)
    assert [m.startswith("iris-v2: error rate: ") for m in rolled_back_events(
        cluster, namespace)] == [True]  # fmt: skip
    # GitOps-safe: the spec still says 50/50; the operator never wrote it.
    assert get(cluster, namespace, "models", "iris")["spec"]["traffic"] == HALVES


def test_a_canary_walks_its_steps_to_all_the_traffic(cluster, namespace, s3, s3_bucket, iris):
    """``rollout.steps``: while the analysis passes, the candidate's share moves one step a
    window (10, 50, then 100%) and the rollout succeeds, with an Event at each step, and
    no request fails on the way."""
    # Two copies of one model: the analysis judges their errors only. Their p99s, each from
    # ~20 requests in a window, differ by a single slow request on a busy node (seen: 2.5 s
    # against 0.5 s); the p99 judgement has a test of its own, with a slower candidate.
    analysis = {"windowSeconds": 10, "minRequests": 20, "latencyToleranceMs": 600000}
    rollout = {"steps": [10, 50, 100], "analysis": analysis}
    split = [{"version": "iris-v1", "percent": 90}, {"version": "iris-v2", "percent": 10}]
    versions_ready(cluster, namespace, s3, s3_bucket, iris, "iris", ["iris-v1", "iris-v2"],
                   FIXED, defaultVersion="iris-v1")  # fmt: skip
    patch_model(cluster, namespace, "iris", {"traffic": split, "rollout": rollout})
    ip, host = address(cluster, namespace, "iris"), service_host("iris", namespace)
    shares: list[int] = []

    def walked() -> dict | None:
        model = get(cluster, namespace, "models", "iris")
        share = {t["version"]: t["percent"] for t in model["status"].get("traffic") or []}
        if share.get("iris-v2") is not None and (not shares or shares[-1] != share["iris-v2"]):
            shares.append(share["iris-v2"])
        return model if (model["status"].get("rollout") or {}).get("phase") == "Succeeded" else None

    with Load(ip, host, "iris", iris.rows[:1], concurrency=4) as load:
        model = wait_for(walked, timeout=180, interval=0.5, what="the rollout to succeed")
        done = time.monotonic()
        wait_for(lambda: len(load.since(done + 2)) >= 20, timeout=30, what="answers after it")
    assert shares == [10, 50, 100]
    assert model["status"]["traffic"] == [{"version": "iris-v2", "percent": 100}]
    assert load.failures() == [], load.failures()[:3]
    assert {a.version for a in load.since(done + 2)} == {"iris-v2"}
    events = [(e.reason, e.message) for e in cluster.core.list_namespaced_event(namespace).items
              if e.involved_object.name == "iris" and e.reason.startswith("Rollout")]  # fmt: skip
    assert [r for r, _ in events].count("RolloutStep") == 1, events  # to 50%; 100% ends it
    assert ("RolloutSucceeded", "iris-v2 takes all the traffic") in events
    # GitOps-safe: the spec still holds the split it was given.
    assert get(cluster, namespace, "models", "iris")["spec"]["traffic"] == split


def slow_iris(folder: Path) -> Trained:
    """Iris answered by 1,500 trees: the same classes, ~45 ms a call instead of ~0.3 ms."""
    from sklearn.datasets import load_iris
    from sklearn.ensemble import RandomForestClassifier

    x, y = load_iris(return_X_y=True)
    forest = RandomForestClassifier(n_estimators=1500, max_depth=4, random_state=0).fit(x, y)
    path = folder / "model.joblib"
    joblib.dump(forest, path)
    rows = x[:2].tolist()
    return Trained("slow", path, forest, rows, x[:2])


def test_a_canary_slower_at_p99_is_rolled_back(cluster, namespace, s3, s3_bucket, iris, tmp_path):
    slow = slow_iris(tmp_path)
    model, load, rolled_back = canary_rolled_back(cluster, namespace, s3, s3_bucket, iris, slow)
    assert load.failures() == [], "a slow canary answers, only slowly"
    state = model["status"]["rollout"]
    assert state["reason"].startswith("latency: "), state
    assert state["candidateP99Ms"] > 1.5 * state["stableP99Ms"]
    assert model["status"]["traffic"] == [{"version": "iris-v1", "percent": 100}]
    assert {a.version for a in load.since(rolled_back + 3)} == {"iris-v1"}
    assert [m.startswith("iris-v2: latency: ") for m in rolled_back_events(
        cluster, namespace)] == [True]  # fmt: skip


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
