"""The activator's pure parts: the split by percent, the least busy pod, which Service a
request is for, and what each watched object tells."""

from __future__ import annotations

from collections import Counter

import pytest

from modelops_contracts.serving import (
    AUTH_ANNOTATION,
    MODEL_LABEL,
    ROUTES_ANNOTATION,
    Route,
    routes_to_json,
)
from modelops_runtime.activator.balancer import Splitter, least_loaded
from modelops_runtime.activator.proxy import Refusal, shows_credential, target_of
from modelops_runtime.activator.view import Blocker, ClusterView, Pod
from modelops_runtime.activator.watch import (
    service_addresses,
    service_auth,
    service_model,
    service_routes,
    slice_pods,
    version_blocker,
)


@pytest.mark.parametrize(
    "percents", [(90, 10), (50, 50), (70, 20, 10), (99, 1), (33, 33, 34), (1, 0, 99)]
)
def test_the_split_is_within_five_percent_over_a_thousand_requests(percents) -> None:
    routes = [Route(f"v{i}", p) for i, p in enumerate(percents)]
    splitter = Splitter(routes)
    counts = Counter(splitter.next() for _ in range(1000))
    total = sum(percents)
    for route in routes:
        assert abs(counts[route.version] / 1000 - route.percent / total) <= 0.05
        assert abs(counts[route.version] - 1000 * route.percent / total) <= 1  # in fact exact


def test_the_split_interleaves_instead_of_sending_runs() -> None:
    splitter = Splitter([Route("a", 80), Route("b", 20)])
    picks = "".join(splitter.next() or "" for _ in range(10))
    assert picks.count("b") == 2
    assert "bb" not in picks


def test_no_route_with_a_percent_is_no_version() -> None:
    assert Splitter([Route("a", 0)]).next() is None
    assert Splitter([]).next() is None


def test_the_pod_with_fewest_in_flight_wins_and_ties_take_turns() -> None:
    pods = ["a:1", "b:1", "c:1"]
    assert least_loaded(pods, {"a:1": 3, "b:1": 1, "c:1": 2}, 0) == "b:1"
    assert [least_loaded(pods, {}, turn) for turn in range(3)] == pods


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({b"host": b"ctr.ads"}, ("ads", "ctr")),
        ({b"host": b"ctr.ads:80"}, ("ads", "ctr")),
        ({b"host": b"ctr.ads.svc"}, ("ads", "ctr")),
        ({b"host": b"ctr.ads.svc.cluster.local"}, ("ads", "ctr")),
        ({b"host": b"CTR.Ads.svc.cluster.local.:8080"}, ("ads", "ctr")),
        ({b"host": b"10.0.0.1:8080", b"x-modelops-service": b"ads/ctr-v2-predictor"},
         ("ads", "ctr-v2-predictor")),
    ],
)  # fmt: skip
def test_the_service_comes_from_host_or_the_header(headers, expected) -> None:
    assert target_of(headers) == expected


@pytest.mark.parametrize(
    ("host", "expected"),
    [(b"10.96.0.12", ("ads", "ctr")), (b"10.96.0.12:80", ("ads", "ctr")),
     (b"[fd00::12]:80", ("ads", "ctr-v2-predictor")), (b"fd00::12", ("ads", "ctr-v2-predictor"))],
)  # fmt: skip
def test_a_services_cluster_ip_as_host_names_the_service(host, expected) -> None:
    """curl to a ClusterIP sends the IP as Host: the Service with that IP is the target."""
    view = ClusterView()
    view.set_routes("ads", "ctr", [Route("ctr-v1", 100)], ["10.96.0.12"])
    view.set_routes("ads", "ctr-v2-predictor", [Route("ctr-v2", 100)], ["fd00::12"])
    assert target_of({b"host": host}, view.service_at) == expected


def test_a_gone_service_takes_its_cluster_ip_with_it() -> None:
    view = ClusterView()
    view.set_routes("ads", "ctr", [Route("ctr-v1", 100)], ["10.96.0.12"])
    view.set_routes("ads", "ctr", None)
    with pytest.raises(Refusal):
        target_of({b"host": b"10.96.0.12"}, view.service_at)
    view.set_routes("ads", "ctr", [Route("ctr-v1", 100)], ["10.96.0.13"])
    view.replace("services", "ads", set())
    assert view.service_at("10.96.0.13") is None


def test_a_service_tells_its_cluster_ips() -> None:
    assert service_addresses({"spec": {"clusterIP": "10.96.0.12",
                                       "clusterIPs": ["10.96.0.12", "fd00::12"]}}) == (
        "10.96.0.12", "fd00::12")  # fmt: skip
    assert service_addresses({"spec": {"clusterIP": "None"}}) == ()


@pytest.mark.parametrize(
    "headers",
    [
        {b"host": b"localhost:8080"},
        {b"host": b"10.0.0.1"},
        {b"host": b"[::1]:8080"},
        {b"host": b"ctr.ads.example.com"},
        {},
        {b"x-modelops-service": b"ctr"},
        {b"x-modelops-service": b"ads/ctr/x"},
    ],
)
def test_anything_else_is_a_400_that_says_what_to_send(headers) -> None:
    with pytest.raises(Refusal) as refused:
        target_of(headers)
    assert refused.value.status == 400
    assert "X-Modelops-Service" in str(refused.value)


def test_a_service_tells_its_routes() -> None:
    routes = [Route("ctr-v1", 90), Route("ctr-v2", 10)]
    service = {
        "metadata": {
            "namespace": "ads",
            "name": "ctr",
            "annotations": {ROUTES_ANNOTATION: routes_to_json(routes)},
        }
    }
    assert service_routes(service) == (("ads", "ctr"), tuple(routes))
    service["metadata"]["annotations"] = {ROUTES_ANNOTATION: "not json"}
    assert service_routes(service) == (("ads", "ctr"), None)


def test_a_private_services_slice_tells_its_pods() -> None:
    endpoint_slice = {
        "metadata": {
            "namespace": "ads",
            "name": "ctr-v1-predictor-private-x7k2p",
            "labels": {"kubernetes.io/service-name": "ctr-v1-predictor-private"},
        },
        "ports": [{"name": "metrics", "port": 9090}, {"name": "http", "port": 8080}],
        "endpoints": [
            {"addresses": ["10.1.0.4"], "conditions": {"ready": True}},
            {"addresses": ["10.1.0.5"], "conditions": {"ready": False}},
            {"addresses": ["10.1.0.6"], "conditions": {"ready": False, "terminating": True}},
            {"addresses": ["fd00::7"], "conditions": {}},
        ],
    }
    key, version, pods = slice_pods(endpoint_slice)
    assert (key, version) == (("ads", "ctr-v1-predictor-private-x7k2p"), "ctr-v1")
    assert pods == (
        Pod("10.1.0.4:8080", ready=True),
        Pod("10.1.0.5:8080", ready=False),
        Pod("10.1.0.6:8080", ready=False, terminating=True),
        Pod("[fd00::7]:8080", ready=True),
    )
    endpoint_slice["metadata"]["labels"] = {"kubernetes.io/service-name": "ctr"}
    assert slice_pods(endpoint_slice)[1] is None  # a public Service's slice: not pods of ours


def test_a_version_that_cannot_start_says_why() -> None:
    version = {
        "metadata": {"namespace": "ads", "name": "ctr-v1"},
        "status": {
            "conditions": [
                {"type": "Ready", "status": "False", "reason": "ImagePullBackOff"},
                {"type": "ArtifactVerified", "status": "True", "reason": "Verified"},
                {"type": "ResourcesAvailable", "status": "False", "reason": "ImagePullBackOff",
                 "message": "container predictor: Back-off pulling image"},
            ]
        },
    }  # fmt: skip
    assert version_blocker(version) == (
        ("ads", "ctr-v1"),
        Blocker(
            "ResourcesAvailable", "ImagePullBackOff", "container predictor: Back-off pulling image"
        ),
    )
    version["status"]["conditions"][2]["status"] = "Unknown"
    assert version_blocker(version)[1] is None


def test_the_view_merges_a_versions_slices_and_forgets_deleted_ones() -> None:
    view = ClusterView()
    changed: list[tuple[str, str]] = []
    view.subscribe(changed.append)
    view.set_slice("ads", "s1", "v1", [Pod("10.0.0.1:8080")])
    view.set_slice("ads", "s2", "v1", [Pod("10.0.0.2:8080", ready=False)])
    assert [p.address for p in view.pods("ads", "v1")] == ["10.0.0.1:8080", "10.0.0.2:8080"]
    view.replace("endpointslices", "ads", {("ads", "s2")})  # s1 was deleted unseen
    assert [p.address for p in view.pods("ads", "v1")] == ["10.0.0.2:8080"]
    assert changed == [("ads", "v1")] * 3


@pytest.mark.parametrize(
    ("auth", "headers", "shown"),
    [
        ("none", [], True),
        ("apiKey", [], False),
        ("apiKey", [(b"x-api-key", b"k")], True),
        ("apiKey", [(b"authorization", b"Bearer k")], True),
        ("apiKey", [(b"x-api-key", b"  ")], False),
        ("apiKey", [(b"x-modelops-token", b"t")], False),
        ("kubernetes", [(b"x-modelops-token", b"t")], True),
        ("kubernetes", [(b"authorization", b"Bearer t")], True),
        ("kubernetes", [(b"x-api-key", b"k"), (b"host", b"ctr.ads")], False),
    ],
)
def test_a_caller_must_show_the_credential_its_models_auth_asks_for(auth, headers, shown):
    """Before the activator holds a request and wakes a version for it (the predictor then
    judges the credential itself)."""
    assert shows_credential(auth, headers) is shown


def test_a_service_tells_its_models_auth_and_the_view_keeps_it_with_the_routes() -> None:
    service = {"metadata": {"annotations": {AUTH_ANNOTATION: "apiKey"}}}
    assert service_auth(service) == "apiKey"
    assert service_auth({"metadata": {}}) == "none"
    view = ClusterView()
    view.set_routes("ads", "ctr", [Route("ctr-v1", 100)], auth="apiKey")
    assert view.auth("ads", "ctr") == "apiKey"
    view.set_routes("ads", "ctr", [Route("ctr-v1", 100)])
    assert view.auth("ads", "ctr") == "none"
    view.set_routes("ads", "ctr", [Route("ctr-v1", 100)], auth="kubernetes")
    view.replace("services", "ads", set())
    assert view.auth("ads", "ctr") == "none"


def test_a_service_tells_its_model_so_a_token_is_reviewed_for_that_models_audience() -> None:
    labels = {MODEL_LABEL: "ctr", "modelops.dev/version": "ctr-v2"}
    version_service = {"metadata": {"name": "ctr-v2-predictor", "labels": labels,
                                    "annotations": {AUTH_ANNOTATION: "kubernetes"}}}  # fmt: skip
    assert service_model(version_service) == "ctr"
    assert service_model({"metadata": {}}) == ""
    view = ClusterView()
    view.set_routes("ads", "ctr-v2-predictor", [Route("ctr-v2", 100)], auth="kubernetes",
                    model="ctr")  # fmt: skip
    assert (view.auth("ads", "ctr-v2-predictor"), view.model("ads", "ctr-v2-predictor")) == (
        "kubernetes", "ctr")  # fmt: skip
    view.set_routes("ads", "ctr-v2-predictor", None)
    assert view.model("ads", "ctr-v2-predictor") == ""
