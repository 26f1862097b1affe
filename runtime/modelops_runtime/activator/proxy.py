"""The activator's proxy: find the Service a request was sent to, pick a version by percent
and its least busy ready pod, and forward; hold requests for a version with no ready pod,
ask for a wake once, probe the new pod itself and forward the moment it is ready.

What it knows of the cluster comes from a ClusterView (fed by the watcher, or directly),
and a wake is asked of a Waker (the API server, or whatever a test or the static mode
gives), so this module is the proxy's logic alone.
"""

from __future__ import annotations

import asyncio
import logging
import time
from bisect import bisect_left
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Protocol

from modelops_contracts.serving import (
    API_KEY_HEADER,
    LATENCY_BUCKETS_MS,
    READINESS_PATH,
    REVIEW_PATH,
    STATS_PATH,
    TARGET_HEADER,
    TOKEN_HEADER,
    WOKE_HEADER,
    ActivatorStats,
    VersionTraffic,
)
from modelops_runtime.activator.balancer import Splitter, least_loaded
from modelops_runtime.activator.listener import RETRY_AFTER_BUSY_S, RawHeaders, error_answer
from modelops_runtime.activator.metrics import WAKE_BUCKETS_S, exposition, registry_for
from modelops_runtime.activator.review import review_answer
from modelops_runtime.activator.settings import ActivatorSettings
from modelops_runtime.activator.upstream import (
    SMALL_BODY,
    Answer,
    Broken,
    Buffered,
    ConnectFailed,
    Late,
    Overloaded,
    TooLarge,
    Upstreams,
)
from modelops_runtime.activator.view import ClusterView, Key
from modelops_runtime.auth import TokenReviews, caller_token
from modelops_runtime.errors import AuthUnavailable

log = logging.getLogger("modelops.activator")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_HOP_BY_HOP = frozenset(
    (b"connection", b"keep-alive", b"proxy-connection", b"te", b"trailer", b"transfer-encoding")
) | {b"upgrade", b"content-length"}
_TARGET = TARGET_HEADER.lower().encode()
_WOKE = WOKE_HEADER.lower().encode()
_LATENCY_BOUNDS_S = tuple(ms / 1000 for ms in LATENCY_BUCKETS_MS)
_AVOID_FAILED_S = 2.0
"""After a pod refused a connection, others are preferred for this long."""
RETRY_AFTER_S = 5
MISSING_GRACE_S = 2.0
"""How long a request for a version the activator has not seen waits for news of it."""


class Waker(Protocol):
    async def request_wake(self, namespace: str, version: str) -> None:
        """Ask the operator to start a pod of the version (the activation annotation)."""


class Refusal(Exception):
    """An answer of the activator's own: status, reason and a message that says why."""

    def __init__(
        self,
        status: int,
        reason: str,
        message: str,
        retry_after: int = 0,
        *,
        challenge: bool = False,
    ) -> None:
        super().__init__(message)
        self.status, self.reason, self.retry_after = status, reason, retry_after
        self.challenge = challenge  # a 401's WWW-Authenticate

    def answer(self) -> Answer:
        extra = [(b"retry-after", str(self.retry_after).encode())] if self.retry_after else []
        if self.challenge:
            extra.append((b"www-authenticate", b"Bearer"))
        return error_answer(self.status, self.reason, str(self), extra)


def own(
    status: int,
    body: bytes,
    content_type: bytes = b"application/json",
    extra: list[tuple[bytes, bytes]] | None = None,
) -> Answer:
    """An answer of the activator's own (not a pod's)."""
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    return Answer(status, headers + (extra or []), body)


_CREDENTIALS = {
    "apiKey": (b"authorization", API_KEY_HEADER.lower().encode()),
    "kubernetes": (b"authorization", TOKEN_HEADER.lower().encode()),
}


def shows_credential(auth: str, headers: RawHeaders) -> bool:
    """Whether a request carries the kind of credential its Model's auth mode asks for.
    Only its presence: the predictor checks an API key (the activator holds none); a
    Kubernetes token the activator also reviews before it wakes anything (``_reviewed``)."""
    wanted = _CREDENTIALS.get(auth)
    return wanted is None or any(name in wanted and value.strip() for name, value in headers)


def token_of(headers: RawHeaders) -> str:
    """A kubernetes-auth caller's token, read as the predictor reads it (``caller_token``)."""
    wanted = _CREDENTIALS["kubernetes"]
    found = {n.decode("latin-1"): v.decode("latin-1") for n, v in headers if n in wanted}
    return caller_token(found)


def unauthenticated(auth: str) -> Refusal:
    what = "an API key" if auth == "apiKey" else "a Kubernetes token for this Model"
    return Refusal(
        401, "Unauthorized", f"this model asks for {what}: none was sent", challenge=True
    )


class Version:
    """One version's traffic counters and its wake: held requests, probes, waiters."""

    def __init__(self, namespace: str, name: str) -> None:
        self.namespace, self.name = namespace, name
        self.requests = 0
        self.errors = 0
        self.codes: dict[int, int] = {}
        self.latency = [0] * (len(_LATENCY_BOUNDS_S) + 1)
        self.latency_sum = 0.0
        self.held = 0
        self.wakes = 0
        self.wake_counts = [0] * (len(WAKE_BUCKETS_S) + 1)
        self.wake_sum = 0.0
        self.wake_started: float | None = None
        self.wake_asked = 0.0
        """When the wake was last asked for (monotonic): renewed while requests wait."""
        self.wake_problem = ""
        self.candidates: list[str] = []
        """Addresses of ready pods to pick from (the slice says ready, or our probe did)."""
        self.probed: set[str] = set()
        self.probing: dict[str, asyncio.Task[None]] = {}
        self.waiters: list[asyncio.Future[None]] = []
        self.turn = 0

    def count(self, status: int, upstream_seconds: float | None) -> None:
        self.requests += 1
        self.codes[status] = self.codes.get(status, 0) + 1
        if status >= 500:
            self.errors += 1
        if upstream_seconds is not None:
            self.latency[bisect_left(_LATENCY_BOUNDS_S, upstream_seconds)] += 1
            self.latency_sum += upstream_seconds

    def traffic(self) -> VersionTraffic:
        cumulative, total = [], 0
        for count in self.latency:
            total += count
            cumulative.append(total)
        return VersionTraffic(
            namespace=self.namespace,
            version=self.name,
            requests=self.requests,
            errors=self.errors,
            latency_counts=tuple(cumulative),
            held=self.held,
            wakes=self.wakes,
        )

    def notify(self) -> None:
        for waiter in self.waiters:
            if not waiter.done():
                waiter.set_result(None)


def target_of(
    headers: dict[bytes, bytes], service_at: Callable[[str], Key | None] = lambda _: None
) -> Key:
    """The (namespace, Service) a request was sent to, from ``X-Modelops-Service:
    namespace/name`` or else the Host header: ``name.namespace[.svc[.cluster.domain]]``,
    or the Service's cluster IP (``service_at`` knows them), as curl sends it."""
    explicit = headers.get(_TARGET)
    if explicit is not None:
        namespace, _, name = explicit.decode("latin-1").strip().partition("/")
        if namespace and name and "/" not in name:
            return namespace, name
        raise Refusal(
            400, "UnknownService", f"{TARGET_HEADER} must be 'namespace/service', not {explicit!r}"
        )
    host = headers.get(b"host", b"").decode("latin-1").strip().lower()
    by_address = service_at(_address_of(host))
    if by_address is not None:
        return by_address
    parts = host.partition(":")[0].rstrip(".").split(".")
    if (len(parts) == 2 or (len(parts) >= 3 and parts[2] == "svc")) and all(parts[:2]):
        return parts[1], parts[0]
    raise Refusal(
        400,
        "UnknownService",
        f"cannot tell which Service this request is for from Host {host!r}: send it to "
        f"SERVICE.NAMESPACE[.svc[.cluster.local]] or add '{TARGET_HEADER}: namespace/service'",
    )


def _address_of(host: str) -> str:
    """The IP of a Host header without its port (``10.0.0.1:80``, ``[fd00::1]:80``)."""
    if host.startswith("["):
        return host[1:].partition("]")[0]
    return host if host.count(":") > 1 else host.partition(":")[0]


class Activator:
    """Proxied traffic on ``settings.port`` (``proxy``); /metrics, /modelops/stats,
    /healthz and /readyz on ``settings.admin_port`` only (``admin``)."""

    def __init__(
        self,
        view: ClusterView,
        waker: Waker,
        settings: ActivatorSettings,
        *,
        on_start: Callable[[], Awaitable[None]] | None = None,
        on_stop: Callable[[], Awaitable[None]] | None = None,
        synced: Callable[[], bool] = lambda: True,
        reviews: TokenReviews | None = None,
    ) -> None:
        self.view = view
        self.waker = waker
        self.reviews = reviews
        """Decides on tokens for the predictors of Models with kubernetes auth (review.py)."""
        self.settings = settings
        self.buffered = Buffered(settings.max_buffered_bytes)
        """Bodies held by all connections, client and pod sides together."""
        self.upstreams = Upstreams(
            settings.connect_timeout_seconds,
            max_answer=settings.max_answer_bytes,
            buffered=self.buffered,
        )
        self.versions: dict[Key, Version] = {}
        self.in_flight: dict[str, int] = {}
        self.draining = False
        self.last_request = 0.0  # wall clock of the latest proxied request: the drain's
        self._splitters: dict[Key, Splitter] = {}
        self._on_start, self._on_stop, self._synced = on_start, on_stop, synced
        self._tasks: set[asyncio.Task[Any]] = set()
        self.registry = registry_for(self)
        view.subscribe(self._view_changed)

    # --- the two ports (served by listener.Connection) -----------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI for uvicorn's lifespan only: the requests themselves reach ``proxy`` and
        ``admin`` through the activator's own server side (``listener``)."""
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        message = await receive()
        assert message["type"] == "lifespan.startup"
        if self._on_start is not None:
            await self._on_start()
        await send({"type": "lifespan.startup.complete"})
        await receive()
        await self.close()
        await send({"type": "lifespan.shutdown.complete"})

    async def admin(self, method: bytes, target: bytes, headers: RawHeaders, body: bytes) -> Answer:
        """The admin port's answer."""
        path = target.partition(b"?")[0].decode("latin-1")
        if path == REVIEW_PATH:
            return await review_answer(self.reviews, method, body)
        return self._admin(path)

    async def close(self) -> None:
        if self._on_stop is not None:
            await self._on_stop()
        for task in list(self._tasks):
            task.cancel()
        self.upstreams.close()
        if self.reviews is not None:
            self.reviews.close()

    # --- the proxied path ---------------------------------------------------------------

    async def proxy(self, method: bytes, target: bytes, headers: RawHeaders, body: bytes) -> Answer:
        """The proxied port's answer: the request forwarded to a pod of the version it is
        routed to, or the activator's own refusal."""
        self.last_request = time.time()
        found: dict[bytes, bytes] = {}
        forward: RawHeaders = []
        for name, value in headers:
            if name in (b"host", _TARGET):
                found[name] = value
            if name not in _HOP_BY_HOP:
                forward.append((name, value))
        try:
            namespace, service = target_of(found, self.view.service_at)
            version = self._version_for(namespace, service)
        except Refusal as refusal:
            return refusal.answer()
        auth = self.view.auth(namespace, service)
        model = self.view.model(namespace, service) if auth == "kubernetes" else ""
        return await self._forward(
            self._state(namespace, version), method, target, forward, body,
            auth=auth, model=model,
        )  # fmt: skip

    def _version_for(self, namespace: str, service: str) -> str:
        routes = self.view.routes(namespace, service)
        if routes is None:
            raise Refusal(
                404,
                "UnknownService",
                f"the activator knows no modelops Service {namespace}/{service} (no "
                f"app.kubernetes.io/managed-by=modelops Service with a routes annotation)",
            )
        key = (namespace, service)
        splitter = self._splitters.get(key)
        if splitter is None or splitter.routes is not routes:
            splitter = self._splitters[key] = Splitter(routes)
        version = splitter.next()
        if version is None:
            raise Refusal(
                503, "NoRoute", f"Service {namespace}/{service} routes no traffic to any version"
            )
        return version

    def _state(self, namespace: str, version: str) -> Version:
        key = (namespace, version)
        state = self.versions.get(key)
        if state is None:
            state = self.versions[key] = Version(namespace, version)
            self._refresh(state)
        return state

    async def _forward(
        self,
        state: Version,
        method: bytes,
        target: bytes,
        headers: RawHeaders,
        body: bytes,
        *,
        auth: str = "none",
        model: str = "",
    ) -> Answer:
        held_for: float | None = None
        tried: list[str] = []
        problem = ""
        while True:
            address = self._pick(state, tried)
            if address is None:
                if tried:
                    refusal = Refusal(
                        502,
                        "UpstreamUnreachable",
                        f"no pod of version {state.namespace}/{state.name} took the "
                        f"connection ({len(tried)} tried): {problem}",
                    )
                    return self._answered(state, refusal.answer(), None, held_for)
                if not shows_credential(auth, headers):
                    # Nothing is held, woken or counted for a caller with no credential:
                    # the pods would refuse it anyway, after a cold start paid for it.
                    return unauthenticated(auth).answer()
                if model and (denied := await self._reviewed(state.namespace, model, headers)):
                    return denied.answer()
                try:
                    started = time.monotonic()
                    address = await self._hold(state)
                    held_for = time.monotonic() - started
                except Refusal as refused:
                    return self._answered(state, refused.answer(), None, None)
            in_flight = self.in_flight
            in_flight[address] = in_flight.get(address, 0) + 1
            sent = time.perf_counter()
            try:
                answer = await self.upstreams.pool(address).request(
                    method, target, headers, body, self.settings.timeout_seconds
                )
            except ConnectFailed as err:
                tried.append(address)
                problem = str(err)
                continue  # nothing was sent: another pod may take it
            except (Broken, Late, TooLarge, Overloaded) as err:
                refusal = self._upstream_refusal(err, f"pod {address} of version {state.name}")
                return self._answered(state, refusal.answer(), None, held_for)
            finally:
                in_flight[address] -= 1
            return self._answered(state, answer, time.perf_counter() - sent, held_for)

    async def _reviewed(self, namespace: str, model: str, headers: RawHeaders) -> Refusal | None:
        """kubernetes auth, before a version is woken: the caller's token as the predictor
        would judge it (the same review, cached), so a wrong token wakes nothing either."""
        if self.reviews is None:
            return None
        token = token_of(headers)
        if not token:
            return unauthenticated("kubernetes")
        try:
            refused = await self.reviews.decide(namespace, model, token)
        except AuthUnavailable as err:
            return Refusal(503, "AuthUnavailable", str(err), RETRY_AFTER_S)
        if refused is None:
            return None
        return Refusal(refused.status, refused.reason, str(refused),
                       challenge=refused.status == 401)  # fmt: skip

    def _upstream_refusal(self, err: Exception, pod: str) -> Refusal:
        """The activator's answer when a pod's answer failed after the request was sent."""
        if isinstance(err, Late):
            return Refusal(504, "UpstreamTimeout", f"{pod} did not answer within "
                           f"{self.settings.timeout_seconds:g}s")  # fmt: skip
        if isinstance(err, TooLarge):
            return Refusal(502, "AnswerTooLarge", f"{pod} {err} (max_answer_bytes)")
        if isinstance(err, Overloaded):
            return Refusal(503, "Overloaded", f"{pod}: {err}, so an answer over {SMALL_BODY} "
                           "bytes must wait", RETRY_AFTER_BUSY_S)  # fmt: skip
        return Refusal(502, "UpstreamBroken", f"{pod}: {err}")

    def _answered(
        self, state: Version, answer: Answer, upstream_s: float | None, held_for: float | None
    ) -> Answer:
        state.count(answer.status, upstream_s)
        hop = _HOP_BY_HOP
        headers = [(k, v) for k, v in answer.headers if k.lower() not in hop]
        headers.append((b"content-length", str(len(answer.body)).encode()))
        if held_for is not None:
            headers.append((_WOKE, f"{held_for:.3f}".encode()))
        return Answer(answer.status, headers, answer.body, answer.held)

    def _pick(self, state: Version, tried: list[str]) -> str | None:
        candidates = state.candidates
        if tried:
            candidates = [a for a in candidates if a not in tried]
        if not candidates:
            return None
        state.turn += 1
        if len(candidates) == 1:
            return candidates[0]
        now = time.monotonic()
        healthy = [
            a for a in candidates if now - self.upstreams.pool(a).failed_at > _AVOID_FAILED_S
        ]
        return least_loaded(healthy or candidates, self.in_flight, state.turn)

    # --- holding and waking ---------------------------------------------------------------

    async def _hold(self, state: Version) -> str:
        """Wait for a ready pod of the version; the one to send to, or a Refusal."""
        where = f"{state.namespace}/{state.name}"
        self._refuse_if_cannot_start(state)
        if state.held >= self.settings.max_held:
            raise Refusal(
                503,
                "TooManyWaiting",
                f"{state.held} requests already wait for a pod of version {where}",
                RETRY_AFTER_S,
            )
        loop = asyncio.get_running_loop()
        started = loop.time()
        deadline = started + self.settings.hold_seconds
        state.held += 1
        if state.wake_started is None:
            self._start_wake(state)
        self._probe_new_pods(state)
        try:
            while True:
                address = self._pick(state, [])
                if address is not None:
                    return address
                self._refuse_if_cannot_start(state)
                now = loop.time()
                renew = self.settings.wake_renew_seconds
                if time.monotonic() - state.wake_asked >= renew:
                    self._ask_wake(state)  # else the operator's lease on the wake runs out
                until = min(deadline, now + renew - (time.monotonic() - state.wake_asked))
                if not self.view.exists(state.namespace, state.name):
                    # The route may be newer than our news of the version: a moment's grace.
                    if now - started >= MISSING_GRACE_S:
                        raise self._missing(state)
                    until = min(until, started + MISSING_GRACE_S)
                if deadline - now <= 0:
                    raise Refusal(504, "NoReadyPod", self._waited(state))
                waiter: asyncio.Future[None] = loop.create_future()
                state.waiters.append(waiter)
                try:
                    await asyncio.wait_for(waiter, until - now)
                except TimeoutError:
                    pass
                finally:
                    state.waiters.remove(waiter)
        finally:
            state.held -= 1
            if state.held == 0 and not state.candidates and state.wake_started is not None:
                state.wake_started = None  # given up: the next request asks again

    def _refuse_if_cannot_start(self, state: Version) -> None:
        """Pods that cannot start are said so at once, not at the wait bound."""
        blocker = self.view.blocker(state.namespace, state.name)
        if blocker is not None:
            raise Refusal(
                503,
                "VersionCannotStart",
                f"version {state.namespace}/{state.name} cannot start a pod: {blocker.describe()}",
                RETRY_AFTER_S,
            )

    def _missing(self, state: Version) -> Refusal:
        return Refusal(
            503,
            "VersionMissing",
            f"version {state.namespace}/{state.name} does not exist, but a route names it: "
            "check the Model's defaultVersion and traffic",
            RETRY_AFTER_S,
        )

    def _waited(self, state: Version) -> str:
        pods = self.view.pods(state.namespace, state.name)
        listed = (
            f"its EndpointSlices list {len(pods)} pod(s), none ready"
            if pods
            else "no pod of it was listed"
        )
        problem = state.wake_problem and f"; asking for the wake failed: {state.wake_problem}"
        return (
            f"waited {self.settings.hold_seconds:g}s for a ready pod of version "
            f"{state.namespace}/{state.name} (a wake was requested); {listed}{problem}"
        )

    def _start_wake(self, state: Version) -> None:
        state.wakes += 1
        state.wake_started = time.monotonic()
        state.wake_problem = ""
        log.info("waking a version", extra={"namespace": state.namespace, "version": state.name})
        self._ask_wake(state)

    def _ask_wake(self, state: Version) -> None:
        state.wake_asked = time.monotonic()

        async def ask() -> None:
            try:
                await self.waker.request_wake(state.namespace, state.name)
            except Exception as err:
                state.wake_problem = str(err)
                log.error(
                    "cannot ask for a wake",
                    extra={"namespace": state.namespace, "version": state.name, "error": str(err)},
                )

        self._spawn(ask())

    def _woke(self, state: Version) -> None:
        if state.wake_started is None:
            return
        seconds = time.monotonic() - state.wake_started
        state.wake_started = None
        state.wake_counts[bisect_left(WAKE_BUCKETS_S, seconds)] += 1
        state.wake_sum += seconds
        log.info(
            "version woke",
            extra={"namespace": state.namespace, "version": state.name, "seconds": seconds},
        )

    def _probe_new_pods(self, state: Version) -> None:
        """Probe every listed, not yet ready pod: it may serve before the slice says so."""
        for pod in self.view.pods(state.namespace, state.name):
            if pod.ready or pod.terminating or pod.address in state.probed:
                continue
            if pod.address not in state.probing:
                state.probing[pod.address] = self._spawn(self._probe(state, pod.address))

    async def _probe(self, state: Version, address: str) -> None:
        pool = self.upstreams.pool(address)
        request = [(b"host", address.encode()), (b"user-agent", b"modelops-activator")]
        try:
            while state.held > 0:
                listed = {p.address: p for p in self.view.pods(state.namespace, state.name)}
                pod = listed.get(address)
                if pod is None or pod.ready or pod.terminating:
                    return
                try:
                    answer = await pool.request(
                        b"GET", READINESS_PATH.encode(), request, b"", timeout=1.0
                    )
                    if answer.status == 200:
                        state.probed.add(address)
                        log.info(
                            "probe: pod ready before its EndpointSlice said so",
                            extra={"version": state.name, "address": address},
                        )
                        self._refresh(state)
                        return
                except (ConnectFailed, Broken, Late):
                    pass
                await asyncio.sleep(self.settings.probe_interval_seconds)
        finally:
            state.probing.pop(address, None)

    def _view_changed(self, key: Key) -> None:
        state = self.versions.get(key)
        if state is not None:
            self._refresh(state)
            if state.held:
                self._probe_new_pods(state)
        listed = {p.address for pods in self._all_pods() for p in pods}
        self.upstreams.forget(listed)

    def _all_pods(self) -> list[tuple[Any, ...]]:
        return [self.view.pods(*key) for key in self.versions]

    def _refresh(self, state: Version) -> None:
        pods = self.view.pods(state.namespace, state.name)
        listed = {p.address for p in pods if not p.terminating}
        state.probed &= listed
        state.candidates = [
            p.address for p in pods if not p.terminating and (p.ready or p.address in state.probed)
        ]
        if state.candidates:
            self._woke(state)
        if state.waiters:
            state.notify()

    def _spawn(self, coroutine: Any) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # --- admin ----------------------------------------------------------------------------

    def stats(self) -> ActivatorStats:
        return ActivatorStats(tuple(state.traffic() for state in self.versions.values()))

    def _admin(self, path: str) -> Answer:
        if path == STATS_PATH:
            return own(200, self.stats().to_json().encode())
        if path == "/metrics":
            content_type, body = exposition(self.registry)
            return own(200, body, content_type.encode())
        if path == "/healthz":
            return own(200, b'{"live":true}')
        if path == "/readyz":
            if self.draining:
                return own(503, b'{"ready":false,"reason":"Draining"}')
            if not self._synced():
                return own(503, b'{"ready":false,"reason":"NotSynced"}')
            return own(200, b'{"ready":true}')
        return Refusal(404, "NotFound", "admin routes: /metrics, /modelops/stats, /healthz, "
                       f"/readyz, {REVIEW_PATH}").answer()  # fmt: skip
