"""The activator's proxy in-process, with real HTTP upstreams: predictor processes started
as pods start them, and scripted loopback servers for behaviours a predictor never shows.

The proxy's view of the cluster is fed directly here (routes, pods and conditions set by
the test, as the watcher would set them from the API server; the watcher itself is tested
against the real API server in tests/e2e/test_activator_watch.py), and its wakes go to a
recorder that plays the operator: it starts a predictor and lists its pod.
"""

from __future__ import annotations

import asyncio
import functools
import json
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import numpy as np
from prometheus_client.parser import text_string_to_metric_families

from modelops_contracts.serving import (
    AUTH_MODE_ENV,
    AUTH_RESOURCE_ENV,
    AUTH_REVIEWER_ENV,
    REVIEW_PATH,
    STATS_PATH,
    ActivatorStats,
    Route,
)
from modelops_runtime.activator.listener import Connection
from modelops_runtime.activator.proxy import Activator
from modelops_runtime.activator.settings import ActivatorSettings
from modelops_runtime.activator.view import Blocker, ClusterView, Pod
from modelops_runtime.auth import ApiReviewer, TokenReviews
from tests.integration.servers import Server, free_port
from tests.integration.upstreams import Seen, answer, upstream
from tests.models import Trained
from tests.stub_api_server import AUDIENCE, StubApiServer

HOST = "http://iris.ads.svc.cluster.local"
ADMIN = "http://activator:9090"


class Recorder:
    """Plays the operator's part of a wake: records it and runs ``then``."""

    def __init__(self, then: Callable[[str, str], Any] | None = None) -> None:
        self.wakes: list[tuple[str, str]] = []
        self._then = then

    async def request_wake(self, namespace: str, version: str) -> None:
        self.wakes.append((namespace, version))
        if self._then is not None:
            self._then(namespace, version)


class Loopback(httpx.AsyncBaseTransport):
    """Sends each request to the activator's port on loopback, the admin one for host
    ``activator``, keeping the Host header the URL gave it (the Service it is for)."""

    def __init__(self, port: int, admin_port: int) -> None:
        self._ports = {"activator": admin_port}
        self._port = port
        self._inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        port = self._ports.get(request.url.host, self._port)
        request.url = request.url.copy_with(host="127.0.0.1", port=port)
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


@asynccontextmanager
async def activator(
    view: ClusterView,
    waker: Recorder | None = None,
    reviews: TokenReviews | None = None,
    **settings: Any,
) -> AsyncIterator[tuple[httpx.AsyncClient, Activator]]:
    """The activator's proxy behind its own server side on two loopback ports, as its
    process serves them (uvicorn's process handling aside: test_activator_process.py);
    the admin port is ``settings["admin_port"]`` when given."""
    app = Activator(view, waker or Recorder(), ActivatorSettings(**settings), reviews=reviews)
    loop = asyncio.get_running_loop()
    connections: set[Connection] = set()
    tasks: set[asyncio.Task[None]] = set()
    servers = [
        await loop.create_server(
            functools.partial(Connection, handler, app.settings, app.buffered, connections, tasks),
            "127.0.0.1",
            bound,
        )
        for handler, bound in ((app.proxy, 0), (app.admin, settings.get("admin_port", 0)))
    ]
    port, admin_port = (server.sockets[0].getsockname()[1] for server in servers)
    transport = Loopback(port, admin_port)
    async with httpx.AsyncClient(transport=transport, base_url=HOST, timeout=120) as client:
        try:
            yield client, app
        finally:
            for server in servers:
                server.close()
            for connection in list(connections):
                connection.shutdown()
            await app.close()


def predictor(start: Callable[..., Server], trained: Trained, version: str) -> Server:
    server = start(str(trained.path), "iris", "--version", version)
    server.wait_until_ready()
    return server


def address(server: Server) -> str:
    return f"127.0.0.1:{server.port}"


def infer_body(trained: Trained) -> dict[str, Any]:
    rows = np.asarray(trained.local_input, dtype=float)
    return {"inputs": [{"name": "x", "shape": list(rows.shape), "datatype": "FP64",
                        "data": rows.ravel().tolist()}]}  # fmt: skip


async def test_a_split_by_percent_reaches_each_version_in_proportion(
    start: Callable[..., Server], iris: Trained
) -> None:
    v1, v2 = predictor(start, iris, "iris-v1"), predictor(start, iris, "iris-v2")
    view = ClusterView()
    view.set_routes("ads", "iris", [Route("iris-v1", 80), Route("iris-v2", 20)])
    view.set_pods("ads", "iris-v1", [Pod(address(v1))])
    view.set_pods("ads", "iris-v2", [Pod(address(v2))])
    body = infer_body(iris)
    async with activator(view) as (client, _):
        answered: Counter[str] = Counter()
        for _ in range(50):  # 1,000 requests, 20 at a time
            replies = await asyncio.gather(
                *(client.post("/v2/models/iris/infer", json=body) for _ in range(20))
            )
            assert {r.status_code for r in replies} == {200}
            answered.update(r.json()["model_version"] for r in replies)
        stats = ActivatorStats.from_json((await client.get(f"{ADMIN}{STATS_PATH}")).content)
    assert abs(answered["iris-v1"] - 800) <= 50
    assert abs(answered["iris-v2"] - 200) <= 50
    by_version = {v.version: v for v in stats.versions}
    assert by_version["iris-v1"].requests == answered["iris-v1"]
    assert by_version["iris-v2"].errors == 0
    assert by_version["iris-v1"].latency_counts[-1] == answered["iris-v1"]


async def test_answers_pass_through_unchanged_binary_bodies_included(
    start: Callable[..., Server], iris: Trained
) -> None:
    pod = predictor(start, iris, "iris-v1")
    view = ClusterView()
    view.set_routes("ads", "iris", [Route("iris-v1", 100)])
    view.set_pods("ads", "iris-v1", [Pod(address(pod))])
    rows = np.asarray(iris.local_input, dtype=np.float64)
    tensor = {"name": "x", "shape": list(rows.shape), "datatype": "FP64",
              "parameters": {"binary_data_size": rows.nbytes}}  # fmt: skip
    wanted = {"name": "predict", "parameters": {"binary_data": True}}
    header = json.dumps({"inputs": [tensor], "outputs": [wanted]})
    binary = header.encode() + rows.tobytes()
    binary_headers = {"inference-header-content-length": str(len(header)),
                      "content-type": "application/octet-stream"}  # fmt: skip
    requests: list[tuple[str, str, Any]] = [
        ("POST", "/v2/models/iris/infer", {"content": binary, "headers": binary_headers}),
        ("POST", "/v1/models/iris:predict", {"json": {"instances": iris.rows}}),
        ("POST", "/v1/models/iris:predict", {"json": {"instances": [[1, 2]]}}),  # a 400
        ("POST", "/v1/models/other:predict", {"json": {"instances": iris.rows}}),  # a 404
        ("GET", "/v2/models/iris/versions/iris-v9", {}),  # a 404 naming both versions
        ("GET", "/v2/models/iris?x=1", {}),
    ]
    async with (
        activator(view) as (client, _),
        httpx.AsyncClient(base_url=f"http://{address(pod)}") as direct,
    ):
        for method, path, extra in requests:
            through = await client.request(method, path, **extra)
            straight = await direct.request(method, path, **extra)
            assert through.status_code == straight.status_code, path
            assert through.content == straight.content, path
            expected = {k: v for k, v in straight.headers.items() if k != "date"}
            assert {k: v for k, v in through.headers.items() if k != "date"} == expected


async def test_odd_statuses_and_repeated_headers_pass_through() -> None:
    async def teapot(seen: Seen) -> bytes:
        return answer(
            418,
            b"\x00\x01binary\xff",
            ("content-type", "application/x-odd"),
            ("set-cookie", "a=1"),
            ("set-cookie", "b=2"),
            ("x-echo", seen.headers.get("x-custom", "")),
        )

    async with upstream(teapot) as pod:
        view = ClusterView()
        view.set_routes("ads", "iris", [Route("iris-v1", 100)])
        view.set_pods("ads", "iris-v1", [Pod(pod.address)])
        async with activator(view) as (client, _):
            reply = await client.post(
                "/anything?q=1", content=b"\x00payload", headers={"x-custom": "kept"}
            )
    assert reply.status_code == 418
    assert reply.content == b"\x00\x01binary\xff"
    assert reply.headers.get_list("set-cookie") == ["a=1", "b=2"]
    assert reply.headers["x-echo"] == "kept"
    assert reply.headers["content-type"] == "application/x-odd"
    assert pod.seen[0].path == "/anything?q=1"
    assert pod.seen[0].body == b"\x00payload"


async def test_the_least_busy_pod_gets_the_next_request() -> None:
    release = {name: asyncio.Event() for name in ("a", "b")}

    def holding(name: str) -> Callable[[Seen], Any]:
        async def behaviour(_: Seen) -> bytes:
            await release[name].wait()
            return answer(200, name.encode())

        return behaviour

    async with upstream(holding("a")) as a, upstream(holding("b")) as b:
        view = ClusterView()
        view.set_routes("ads", "iris", [Route("iris-v1", 100)])
        view.set_pods("ads", "iris-v1", [Pod(a.address), Pod(b.address)])
        async with activator(view) as (client, app):
            first = [asyncio.create_task(client.post("/x")) for _ in range(4)]
            await _until(lambda: len(a.seen) + len(b.seen) == 4)
            spread = (len(a.seen), len(b.seen))
            release["b"].set()  # b answers its two; a still holds two
            await _until(lambda: app.in_flight.get(b.address) == 0)
            later = [asyncio.create_task(client.post("/x")) for _ in range(2)]
            await _until(lambda: len(b.seen) == 4)
            release["a"].set()
            replies = await asyncio.gather(*first, *later)
    assert spread == (2, 2)
    assert len(a.seen) == 2  # both later requests went to b, the idle one
    assert [r.status_code for r in replies] == [200] * 6


async def test_a_held_request_wakes_the_version_once_and_reaches_the_new_pod(
    start: Callable[..., Server], iris: Trained
) -> None:
    view = ClusterView()
    view.set_routes("ads", "iris", [Route("iris-v1", 100)])
    started: list[Server] = []

    def operator(namespace: str, version: str) -> None:
        """Scale up: a pod starts and its address is listed at once, not ready yet (as an
        EndpointSlice lists a new pod). Its readiness is never reported: the activator's
        own probe must find it ready."""
        pod = start(str(iris.path), "iris", "--version", version)
        started.append(pod)
        view.set_pods(namespace, version, [Pod(address(pod), ready=False)])

    waker = Recorder(operator)
    async with activator(view, waker) as (client, app):
        before = time.monotonic()
        replies = await asyncio.gather(
            *(client.post("/v1/models/iris:predict", json={"instances": iris.rows})
              for _ in range(20))
        )  # fmt: skip
        waited = time.monotonic() - before
        stats = app.stats()
        metrics = await scrape(client)
    assert waker.wakes == [("ads", "iris-v1")]  # one wake for twenty requests
    assert [r.status_code for r in replies] == [200] * 20
    for reply in replies:
        assert reply.json()["predictions"] == iris.local_predict().tolist()
        assert 0 < float(reply.headers["x-modelops-cold-start"]) <= waited
    assert (stats.versions[0].wakes, stats.versions[0].held) == (1, 0)
    assert metrics[("modelops_activator_wakes_total", ("ads", "iris-v1"))] == 1
    assert metrics[("modelops_activator_wake_seconds_count", ("ads", "iris-v1"))] == 1
    assert metrics[("modelops_activator_requests_total", ("200", "ads", "iris-v1"))] == 20


async def test_a_version_that_cannot_start_fails_held_and_new_requests_at_once() -> None:
    view = ClusterView()
    view.set_routes("ads", "iris", [Route("iris-v1", 100)])
    async with activator(view, hold_seconds=60) as (client, app):
        held = [asyncio.create_task(client.post("/v1/models/iris:predict")) for _ in range(3)]
        await _until(lambda: app.stats().versions and app.stats().versions[0].held == 3)
        before = time.monotonic()
        view.set_blocker(
            "ads",
            "iris-v1",
            Blocker("ResourcesAvailable", "ImagePullBackOff", "Back-off pulling image x"),
        )
        replies = await asyncio.gather(*held)
        took = time.monotonic() - before
        new = await client.post("/v1/models/iris:predict")
    assert took < 30  # answered when the reason was known, not at the 60 s bound
    for reply in [*replies, new]:
        assert reply.status_code == 503
        assert reply.headers["retry-after"] == "5"
        assert reply.json()["reason"] == "VersionCannotStart"
        assert reply.json()["error"] == (
            "version ads/iris-v1 cannot start a pod: ResourcesAvailable is False: "
            "ImagePullBackOff: Back-off pulling image x"
        )


async def test_a_route_to_a_version_that_does_not_exist_is_a_503_naming_it() -> None:
    """A Model left pinned to a deleted version (pruned from Git): its callers, held ones
    too, hear which version is missing instead of waiting for the bound."""
    view = ClusterView()
    view.set_routes("ads", "iris", [Route("iris-v1", 100)])
    view.replace("modelversions", None, set())  # the first list: no ModelVersion here
    view.set_exists("ads", "iris-v1", True)
    async with activator(view, hold_seconds=60) as (client, app):
        held = asyncio.create_task(client.post("/v1/models/iris:predict"))
        await _until(lambda: app.stats().versions and app.stats().versions[0].held == 1)
        view.set_exists("ads", "iris-v1", False)  # deleted while a request waits for it
        replies = [await held, await client.post("/v1/models/iris:predict")]
    for reply in replies:
        assert reply.status_code == 503
        assert reply.headers["retry-after"] == "5"
        assert reply.json() == {
            "reason": "VersionMissing",
            "error": "version ads/iris-v1 does not exist, but a route names it: check the "
            "Model's defaultVersion and traffic",
        }


async def test_a_version_heard_of_just_after_its_route_is_served() -> None:
    """Routes and versions arrive on different watches: a route may name a version a moment
    before the activator hears of it, and that is no reason to refuse."""

    async def served(_: Seen) -> bytes:
        return answer(200, b"served")

    async with upstream(served) as pod:
        view = ClusterView()
        view.set_routes("ads", "iris", [Route("iris-v2", 100)])
        view.replace("modelversions", None, set())
        async with activator(view, hold_seconds=60) as (client, app):
            sent = asyncio.create_task(client.post("/x"))
            await _until(lambda: app.stats().versions and app.stats().versions[0].held == 1)
            assert not sent.done()  # held, not refused, while the version is unheard of
            view.set_exists("ads", "iris-v2", True)
            view.set_pods("ads", "iris-v2", [Pod(pod.address)])
            reply = await sent
    assert (reply.status_code, reply.content) == (200, b"served")


async def test_a_version_with_no_ready_pod_by_the_bound_is_a_504_saying_what_it_waited_for() -> (
    None
):
    view = ClusterView()
    view.set_routes("ads", "iris", [Route("iris-v1", 100)])
    view.set_pods("ads", "iris-v1", [Pod(f"127.0.0.1:{free_port()}", ready=False)])
    async with activator(view, hold_seconds=0.5) as (client, app):
        reply = await client.post("/v1/models/iris:predict")
    assert reply.status_code == 504
    assert reply.json()["reason"] == "NoReadyPod"
    assert reply.json()["error"] == (
        "waited 0.5s for a ready pod of version ads/iris-v1 (a wake was requested); "
        "its EndpointSlices list 1 pod(s), none ready"
    )
    assert app.stats().versions[0].errors == 1


async def test_a_wake_is_asked_for_again_while_requests_still_wait() -> None:
    """The operator keeps a woken version up only for a lease after each ask: a pod slow to
    start (or to say why it cannot) must not be scaled away under a waiting request."""
    view = ClusterView()
    view.set_routes("ads", "iris", [Route("iris-v1", 100)])
    waker = Recorder()
    async with activator(view, waker, hold_seconds=2.0, wake_renew_seconds=0.3) as (
        client,
        app,
    ):
        reply = await client.post("/v1/models/iris:predict")
        asked_while_holding = len(waker.wakes)
        await asyncio.sleep(0.7)  # nothing waits now: no more asks
        stats = app.stats()
    assert reply.status_code == 504
    # At 0, 0.3, ... 1.8 s on quiet cores; a loaded loop wakes late, so fewer, but never
    # one alone (the code before asked once per wake).
    assert 3 <= asked_while_holding <= 7
    assert set(waker.wakes) == {("ads", "iris-v1")}
    assert len(waker.wakes) == asked_while_holding
    assert stats.versions[0].wakes == 1  # renewals of one wake, not new wakes


async def test_a_predictor_has_its_callers_tokens_reviewed_by_the_activator(
    start: Callable[..., Server], iris: Trained
) -> None:
    """kubernetes auth with no credential in the predictor: it sends each new token to the
    activator's review route over HTTP. The API server behind the activator is a stand-in
    (tests/stub_api_server.py) so that reviews can be counted; on the cluster the same path
    runs against the real one (tests/e2e/test_serving_auth.py)."""
    stub, admin_port = StubApiServer(), free_port()
    reviews = TokenReviews(ApiReviewer(stub))  # type: ignore[arg-type]
    async with activator(ClusterView(), reviews=reviews, admin_port=admin_port) as (client, _):
        env = {AUTH_MODE_ENV: "kubernetes", AUTH_RESOURCE_ENV: "ads/ctr",
               AUTH_REVIEWER_ENV: f"http://127.0.0.1:{admin_port}{REVIEW_PATH}",
               "MODELOPS_KUBE_API": f"https://127.0.0.1:{free_port()}"}  # fmt: skip
        server = start(str(iris.path), "iris", env=env)
        await asyncio.to_thread(server.wait_until_ready)
        url = f"http://127.0.0.1:{server.port}/v1/models/iris:predict"
        body = {"instances": iris.rows[:2]}

        async def call(token: str | None) -> httpx.Response:
            headers = {"authorization": f"Bearer {token}"} if token else {}
            async with httpx.AsyncClient(timeout=30) as direct:
                return await direct.post(url, json=body, headers=headers)

        allowed = [await call("alice-token") for _ in range(3)]
        refused, unbound, missing = [
            await call(t) for t in ("bob-token", "alice-cluster-token", None)
        ]
        malformed = await client.post(f"{ADMIN}{REVIEW_PATH}", content=b'{"token": 1}')
        wrong_method = await client.get(f"{ADMIN}{REVIEW_PATH}")
        reviewed = stub.reviews()
        stub.down = True
        unavailable = await call("carol-token")
    assert [r.status_code for r in allowed] == [200, 200, 200]
    assert allowed[0].json()["predictions"] == iris.local_predict()[:2].tolist()
    assert reviewed == 3  # alice once (then the predictor's cache), bob, the unbound one
    assert (refused.status_code, refused.json()["reason"]) == (403, "Forbidden")
    assert "bob may not predict on Model ads/ctr" in refused.json()["error"]
    assert (unbound.status_code, unbound.headers["www-authenticate"]) == (401, "Bearer")
    assert f"--audience {AUDIENCE}" in unbound.json()["error"]
    assert missing.status_code == 401
    assert (malformed.status_code, malformed.json()["reason"]) == (400, "InvalidReview")
    assert wrong_method.status_code == 405
    assert (unavailable.status_code, unavailable.json()["reason"]) == (503, "AuthUnavailable")


async def test_a_token_the_review_refuses_wakes_nothing(
    start: Callable[..., Server], iris: Trained
) -> None:
    """kubernetes auth at zero: the activator reviews the caller's token before it holds
    the request or asks for a wake (a wrong token would otherwise cost a cold start). The
    API server is the stand-in of tests/stub_api_server.py."""
    view = ClusterView()
    view.set_routes("ads", "ctr", [Route("ctr-v1", 100)], auth="kubernetes", model="ctr")

    def operator(namespace: str, version: str) -> None:
        pod = start(str(iris.path), "iris", "--version", version)
        view.set_pods(namespace, version, [Pod(address(pod), ready=False)])

    waker = Recorder(operator)
    stub = StubApiServer()
    reviews = TokenReviews(ApiReviewer(stub))  # type: ignore[arg-type]
    url = "http://ctr.ads.svc.cluster.local/v1/models/iris:predict"
    body = {"instances": iris.rows[:1]}
    async with activator(view, waker, reviews) as (client, app):
        refused = {
            token: await client.post(url, json=body, headers={"authorization": f"Bearer {token}"})
            for token in ("not-a-token", "alice-cluster-token", "bob-token")
        }
        no_bearer = await client.post(url, json=body, headers={"authorization": "Basic eA=="})
        woken_before = list(waker.wakes)
        allowed = await client.post(url, json=body, headers={"authorization": "Bearer alice-token"})
        stats = app.stats()
    assert {t: r.status_code for t, r in refused.items()} == {
        "not-a-token": 401, "alice-cluster-token": 401, "bob-token": 403}  # fmt: skip
    assert refused["not-a-token"].headers["www-authenticate"] == "Bearer"
    assert no_bearer.status_code == 401
    assert woken_before == []  # nothing woken, held or counted for them
    assert allowed.status_code == 200
    assert waker.wakes == [("ads", "ctr-v1")]
    assert stats.versions[0].requests == 1


async def test_too_many_held_requests_are_refused_with_retry_after() -> None:
    view = ClusterView()
    view.set_routes("ads", "iris", [Route("iris-v1", 100)])
    async with activator(view, max_held=2, hold_seconds=5) as (client, app):
        held = [asyncio.create_task(client.post("/x")) for _ in range(2)]
        await _until(lambda: app.stats().versions and app.stats().versions[0].held == 2)
        refused = await client.post("/x")
        view.set_blocker("ads", "iris-v1", Blocker("ArtifactVerified", "ChecksumMismatch", ""))
        await asyncio.gather(*held)
    assert refused.status_code == 503
    assert refused.json()["reason"] == "TooManyWaiting"
    assert refused.headers["retry-after"] == "5"


async def test_a_pod_that_refuses_the_connection_is_skipped_for_another() -> None:
    async def ok(_: Seen) -> bytes:
        return answer(200, b"ok")

    async with upstream(ok) as good:
        view = ClusterView()
        view.set_routes("ads", "iris", [Route("iris-v1", 100)])
        dead = f"127.0.0.1:{free_port()}"  # nothing listens: the connection is refused
        view.set_pods("ads", "iris-v1", [Pod(dead), Pod(good.address)])
        async with activator(view) as (client, _):
            replies = [await client.post("/x", content=b"once") for _ in range(6)]
    assert [r.status_code for r in replies] == [200] * 6
    assert [s.body for s in good.seen] == [b"once"] * 6


async def test_a_request_is_not_sent_twice_when_the_pod_fails_after_receiving_it() -> None:
    async def cut(_: Seen) -> None:
        return None  # read the request, then close without answering

    async def ok(_: Seen) -> bytes:
        return answer(200, b"ok")

    async with upstream(cut) as breaking, upstream(ok) as good:
        view = ClusterView()
        view.set_routes("ads", "iris", [Route("iris-v1", 100)])
        view.set_pods("ads", "iris-v1", [Pod(breaking.address)])
        async with activator(view) as (client, _):
            view.set_pods("ads", "iris-v1", [Pod(breaking.address), Pod(good.address)])
            app_answers = []
            while not breaking.seen:
                app_answers.append(await client.post("/predict", content=b"only-once"))
    failed = app_answers[-1]
    assert failed.status_code == 502
    assert failed.json()["reason"] == "UpstreamBroken"
    assert len(breaking.seen) == 1
    assert len(good.seen) == len(app_answers) - 1  # the failed one never reached it


async def test_an_unknown_or_unnamed_service_is_a_4xx_with_a_message() -> None:
    view = ClusterView()
    async with activator(view) as (client, _):
        unknown = await client.post("/x")
        unnamed = await client.post("http://localhost:8080/x")
        stats = await client.get(f"{ADMIN}/readyz")
    assert unknown.status_code == 404
    assert "no modelops Service ads/iris" in unknown.json()["error"]
    assert unnamed.status_code == 400
    assert "X-Modelops-Service" in unnamed.json()["error"]
    assert stats.status_code == 200


async def scrape(client: httpx.AsyncClient) -> dict[tuple[str, tuple[str, ...]], float]:
    text = (await client.get(f"{ADMIN}/metrics")).text
    return {
        (sample.name, tuple(v for _, v in sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def _until(check: Callable[[], Any], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


async def test_a_pod_that_does_not_answer_in_time_is_a_504_and_is_not_retried() -> None:
    async def silent(_: Seen) -> bytes:
        await asyncio.sleep(30)
        return answer(200, b"too late")

    async def ok(_: Seen) -> bytes:
        return answer(200, b"ok")

    async with upstream(silent) as slow, upstream(ok) as good:
        view = ClusterView()
        view.set_routes("ads", "iris", [Route("iris-v1", 100)])
        view.set_pods("ads", "iris-v1", [Pod(slow.address)])
        async with activator(view, timeout_seconds=0.3) as (client, _):
            view.set_pods("ads", "iris-v1", [Pod(slow.address), Pod(good.address)])
            replies = []
            while not slow.seen:
                replies.append(await client.post("/predict"))
    assert replies[-1].status_code == 504
    assert replies[-1].json()["reason"] == "UpstreamTimeout"
    assert "did not answer within 0.3s" in replies[-1].json()["error"]
    assert len(good.seen) == len(replies) - 1


def _chunked(body: bytes, size: int = 16 * 1024) -> bytes:
    pieces = (body[i : i + size] for i in range(0, len(body), size))
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"


async def test_an_answer_over_the_cap_is_a_502_declared_chunked_or_to_the_close() -> None:
    cap = 64 * 1024
    over = b"a" * (cap + 1)

    async def big(seen: Seen) -> bytes:
        ok = b"HTTP/1.1 200 OK\r\n"
        if seen.path == "/declared":  # says it at once, sends little
            return ok + b"content-length: 10000000\r\n\r\n" + b"x" * 10
        if seen.path == "/chunked":
            return ok + b"transfer-encoding: chunked\r\n\r\n" + _chunked(over)
        if seen.path == "/to-the-close":  # no length: the body ends with the connection
            return ok + b"\r\n" + over
        return answer(200, b"f" * (cap - 100))  # the head fits in the rest

    async with upstream(big) as pod:
        view = ClusterView()
        view.set_routes("ads", "iris", [Route("iris-v1", 100)])
        view.set_pods("ads", "iris-v1", [Pod(pod.address)])
        async with activator(view, max_answer_bytes=cap, timeout_seconds=5) as (client, _):
            replies = {}
            for path in ("/fits", "/declared", "/chunked", "/to-the-close", "/fits"):
                replies[path] = await client.get(path)
    for path in ("/declared", "/chunked", "/to-the-close"):
        assert replies[path].status_code == 502, path
        assert replies[path].json() == {
            "error": f"pod {pod.address} of version iris-v1 answered more than {cap} bytes "
            "(max_answer_bytes)",
            "reason": "AnswerTooLarge",
        }
    # The connection of a refused answer is not used again: what was left of it would
    # have been read as the next answer.
    assert replies["/fits"].status_code == 200
    assert replies["/fits"].content == b"f" * (cap - 100)


async def test_an_answer_past_the_shared_budget_is_a_503_and_a_small_one_still_passes() -> None:
    async def sized(seen: Seen) -> bytes:
        return answer(200, b"z" * int(seen.path.strip("/")))

    async with upstream(sized) as pod:
        view = ClusterView()
        view.set_routes("ads", "iris", [Route("iris-v1", 100)])
        view.set_pods("ads", "iris-v1", [Pod(pod.address)])
        settings = {"max_buffered_bytes": 100_000, "timeout_seconds": 5}
        async with activator(view, **settings) as (client, _):
            large = await client.get("/300000")
            small = await client.get("/60000")
    assert large.status_code == 503
    assert large.headers["retry-after"] == "1"
    assert large.json() == {
        "error": f"pod {pod.address} of version iris-v1: the activator holds all the bodies "
        "it may (100000 bytes), so an answer over 65536 bytes must wait",
        "reason": "Overloaded",
    }
    assert small.status_code == 200
    assert len(small.content) == 60_000
