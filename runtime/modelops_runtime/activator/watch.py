"""Feed the ClusterView from the API server by watching (list, then watch from the list's
resourceVersion; bookmarks keep it fresh; a 410 relists; a broken stream reconnects), and
ask for wakes by annotating the ModelVersion.

Watched, each by a thread of its own (blocking HTTP, off the event loop):

- Services labelled ``app.kubernetes.io/managed-by=modelops``: their routes annotation;
- EndpointSlices with that label (copied from the Service by the EndpointSlice
  controller) whose Service is a version's private one: the pods' addresses, ready and
  terminating;
- ModelVersions: the conditions that say the version cannot start.
"""

from __future__ import annotations

import asyncio
import datetime
import http.client
import logging
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlencode

from modelops_contracts.serving import (
    ACTIVATION_ANNOTATION,
    AUTH_ANNOTATION,
    MANAGED_BY_LABEL,
    MANAGER,
    MODEL_LABEL,
    PREDICTOR_PORT_NAME,
    PRIVATE_SUFFIX,
    ROUTES_ANNOTATION,
    WAKE_BLOCKERS,
    Route,
    routes_from_json,
)
from modelops_runtime.activator.view import Blocker, ClusterView, Key, Pod
from modelops_runtime.kube import KubeClient, KubeError, shutdown

log = logging.getLogger("modelops.activator")

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
_PRIVATE_TAIL = f"-predictor{PRIVATE_SUFFIX}"
_SELECTOR = f"{MANAGED_BY_LABEL}={MANAGER}"
MODELVERSIONS = "/apis/modelops.dev/v1alpha1"


# --- what each object tells (pure) -------------------------------------------------------


def service_routes(obj: dict[str, Any]) -> tuple[Key, tuple[Route, ...] | None]:
    meta = obj.get("metadata") or {}
    key = (str(meta.get("namespace", "")), str(meta.get("name", "")))
    annotation = (meta.get("annotations") or {}).get(ROUTES_ANNOTATION)
    if not annotation:
        return key, None
    try:
        return key, tuple(routes_from_json(annotation))
    except (ValueError, KeyError, TypeError) as err:
        log.warning(
            "a Service's routes annotation is not valid", extra={"service": key, "error": str(err)}
        )
        return key, None


def service_model(obj: dict[str, Any]) -> str:
    """The Model a Service belongs to (the label the operator puts on its Services)."""
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return str(labels.get(MODEL_LABEL) or "")


def service_auth(obj: dict[str, Any]) -> str:
    """The auth mode the operator wrote on a Service (its Model's); "none" if absent."""
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    return str(annotations.get(AUTH_ANNOTATION) or "none")


def service_addresses(obj: dict[str, Any]) -> tuple[str, ...]:
    """A Service's cluster IPs (none for a headless one)."""
    spec = obj.get("spec") or {}
    found = spec.get("clusterIPs") or [spec.get("clusterIP")]
    return tuple(str(ip) for ip in found if ip and ip != "None")


def slice_pods(obj: dict[str, Any]) -> tuple[Key, str | None, tuple[Pod, ...]]:
    """(namespace, slice name), the version whose private Service it belongs to (None for
    any other slice) and the pods it lists."""
    meta = obj.get("metadata") or {}
    key = (str(meta.get("namespace", "")), str(meta.get("name", "")))
    service = str((meta.get("labels") or {}).get(SERVICE_NAME_LABEL, ""))
    if not service.endswith(_PRIVATE_TAIL) or len(service) == len(_PRIVATE_TAIL):
        return key, None, ()
    version = service[: -len(_PRIVATE_TAIL)]
    ports = obj.get("ports") or []
    port = next((p.get("port") for p in ports if p.get("name") == PREDICTOR_PORT_NAME), None)
    if port is None and ports:
        port = ports[0].get("port")
    if port is None:
        return key, version, ()
    pods = []
    for endpoint in obj.get("endpoints") or []:
        conditions = endpoint.get("conditions") or {}
        ready = conditions.get("ready") is not False  # unset reads as ready (the API's advice)
        terminating = conditions.get("terminating") is True
        for ip in endpoint.get("addresses") or []:
            address = f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"
            pods.append(Pod(address, ready=ready and not terminating, terminating=terminating))
    return key, version, tuple(pods)


def version_blocker(obj: dict[str, Any]) -> tuple[Key, Blocker | None]:
    meta = obj.get("metadata") or {}
    key = (str(meta.get("namespace", "")), str(meta.get("name", "")))
    for condition in (obj.get("status") or {}).get("conditions") or []:
        if condition.get("type") in WAKE_BLOCKERS and condition.get("status") == "False":
            return key, Blocker(
                str(condition["type"]),
                str(condition.get("reason", "")),
                str(condition.get("message", "")),
            )
    return key, None


# --- the watches --------------------------------------------------------------------------


class _Kind:
    def __init__(self, name: str, prefix: str, selector: str) -> None:
        self.name, self.prefix, self.selector = name, prefix, selector

    def path(self, namespace: str | None, **query: str) -> str:
        where = f"/namespaces/{quote(namespace)}" if namespace else ""
        if self.selector:
            query["labelSelector"] = self.selector
        return f"{self.prefix}{where}/{self.name}" + (f"?{urlencode(query)}" if query else "")


KINDS = (
    _Kind("services", "/api/v1", _SELECTOR),
    _Kind("endpointslices", "/apis/discovery.k8s.io/v1", _SELECTOR),
    _Kind("modelversions", MODELVERSIONS, ""),
)


class Watcher:
    """Three watches (per namespace when told which) feeding one view on one loop."""

    def __init__(
        self,
        client: KubeClient,
        view: ClusterView,
        loop: asyncio.AbstractEventLoop,
        namespaces: tuple[str, ...] = (),
        watch_seconds: int = 290,
    ) -> None:
        self._client, self._view, self._loop = client, view, loop
        self._scopes: tuple[str | None, ...] = namespaces or (None,)
        self._watch_seconds = watch_seconds
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._open: set[http.client.HTTPConnection] = set()
        self._listed: set[tuple[str, str | None]] = set()
        self.relists = 0
        """Full lists after the first (a 410, or a watch that could not resume)."""

    def start(self) -> None:
        for kind in KINDS:
            for scope in self._scopes:
                thread = threading.Thread(
                    target=self._run, args=(kind, scope), name=f"watch-{kind.name}", daemon=True
                )
                thread.start()
                self._threads.append(thread)

    def synced(self) -> bool:
        return len(self._listed) == len(KINDS) * len(self._scopes)

    def stop(self) -> None:
        self._stop.set()
        for conn in list(self._open):
            shutdown(conn)
        for thread in self._threads:
            thread.join(timeout=5)

    def _run(self, kind: _Kind, namespace: str | None) -> None:
        version = ""
        backoff = 0.5
        while not self._stop.is_set():
            try:
                if not version:
                    version = self._list(kind, namespace)
                version = self._watch(kind, namespace, version)
                backoff = 0.5
            except KubeError as err:
                if self._stop.is_set():
                    return
                if err.status == 410:
                    version = ""  # too old to resume: list again
                    continue
                log.warning(
                    "watch failed; retrying",
                    extra={"kind": kind.name, "namespace": namespace, "error": str(err)},
                )
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 30.0)
            except Exception:  # a bug must not end the watch for good
                log.exception("watch crashed; listing again", extra={"kind": kind.name})
                version = ""
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 30.0)

    def _list(self, kind: _Kind, namespace: str | None) -> str:
        items: list[dict[str, Any]] = []
        token = ""
        while True:
            query = {"limit": "500"} | ({"continue": token} if token else {})
            page = self._client.request("GET", kind.path(namespace, **query), timeout=30)
            items += page.get("items") or []
            token = (page.get("metadata") or {}).get("continue") or ""
            if not token:
                break
        resource_version = str((page.get("metadata") or {}).get("resourceVersion", ""))
        self._post(self._replace, kind.name, namespace, items)
        return resource_version

    def _watch(self, kind: _Kind, namespace: str | None, version: str) -> str:
        path = kind.path(
            namespace,
            watch="1",
            resourceVersion=version,
            allowWatchBookmarks="true",
            timeoutSeconds=str(self._watch_seconds),
        )
        opened: list[http.client.HTTPConnection] = []

        def remember(conn: http.client.HTTPConnection) -> None:
            opened.append(conn)
            self._open.add(conn)

        try:
            for event in self._client.stream(path, self._watch_seconds + 30, remember):
                kind_of_event = event.get("type")
                obj = event.get("object") or {}
                if kind_of_event == "ERROR":
                    code = int(obj.get("code") or 0)
                    raise KubeError(f"watch {kind.name}: {obj.get('message', obj)}", code, obj)
                new_version = (obj.get("metadata") or {}).get("resourceVersion")
                if new_version:
                    version = str(new_version)
                if kind_of_event in ("ADDED", "MODIFIED", "DELETED"):
                    self._post(self._apply, kind.name, obj, kind_of_event == "DELETED")
                if self._stop.is_set():
                    break
        finally:
            for conn in opened:
                self._open.discard(conn)
        return version

    def _post(self, function: Callable[..., None], *args: Any) -> None:
        self._loop.call_soon_threadsafe(function, *args)

    # on the loop ------------------------------------------------------------------------

    def _apply(self, kind: str, obj: dict[str, Any], deleted: bool) -> None:
        view = self._view
        if kind == "services":
            (namespace, name), routes = service_routes(obj)
            view.set_routes(namespace, name, None if deleted else routes,
                            service_addresses(obj), auth=service_auth(obj),
                            model=service_model(obj))  # fmt: skip
        elif kind == "endpointslices":
            (namespace, name), version, pods = slice_pods(obj)
            view.set_slice(namespace, name, None if deleted else version, pods)
        else:
            (namespace, name), blocker = version_blocker(obj)
            view.set_blocker(namespace, name, None if deleted else blocker)
            view.set_exists(namespace, name, not deleted)

    def _replace(self, kind: str, namespace: str | None, items: list[dict[str, Any]]) -> None:
        keys: set[Key] = set()
        for obj in items:
            meta = obj.get("metadata") or {}
            keys.add((str(meta.get("namespace", "")), str(meta.get("name", ""))))
            self._apply(kind, obj, deleted=False)
        self._view.replace(kind, namespace, keys)
        self._view.synced.add(kind)
        if (kind, namespace) in self._listed:
            self.relists += 1
        self._listed.add((kind, namespace))  # synced() is true once the view holds the list


class KubeWaker:
    """Asks for a wake by setting the ModelVersion's activation annotation to now."""

    def __init__(self, client: KubeClient) -> None:
        self._client = client

    async def request_wake(self, namespace: str, version: str) -> None:
        now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        patch = {"metadata": {"annotations": {ACTIVATION_ANNOTATION: now}}}
        path = f"{MODELVERSIONS}/namespaces/{quote(namespace)}/modelversions/{quote(version)}"
        started = time.monotonic()
        await asyncio.to_thread(
            self._client.request, "PATCH", path, patch, "application/merge-patch+json"
        )
        log.info(
            "wake requested",
            extra={
                "namespace": namespace,
                "version": version,
                "seconds": round(time.monotonic() - started, 4),
            },
        )
