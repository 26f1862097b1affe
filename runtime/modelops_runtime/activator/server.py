"""Run the activator: the proxy on its own server side (``listener``) inside uvicorn's
process handling (sockets, lifespan, signals), fed by watches on the API server (or, for
benchmarks and local runs, by a static file), draining on SIGTERM like the predictor."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from pathlib import Path
from typing import Any

import uvicorn

from modelops_contracts.serving import Route
from modelops_runtime import logs
from modelops_runtime.activator.listener import Connection
from modelops_runtime.activator.proxy import Activator
from modelops_runtime.activator.settings import ActivatorSettings
from modelops_runtime.activator.view import ClusterView, Pod
from modelops_runtime.draining import DrainingServer

log = logging.getLogger("modelops.activator")


class LoggingWaker:
    """The static mode's waker: nobody to ask, so it only says what it would ask."""

    async def request_wake(self, namespace: str, version: str) -> None:
        log.warning(
            "a wake is needed but no API server is watched (static mode)",
            extra={"namespace": namespace, "version": version},
        )


def load_static(view: ClusterView, path: Path) -> None:
    """Routes and pods from a JSON file::

    {"services": [{"namespace": "ns", "name": "ctr",
                   "routes": [{"version": "ctr-v1", "percent": 100}]}],
     "pods": [{"namespace": "ns", "version": "ctr-v1", "address": "127.0.0.1:8080"}]}
    """
    document = json.loads(path.read_text())
    for service in document.get("services", []):
        routes = [Route(str(r["version"]), int(r["percent"])) for r in service["routes"]]
        view.set_routes(service["namespace"], service["name"], routes)
    grouped: dict[tuple[str, str], list[Pod]] = {}
    for pod in document.get("pods", []):
        grouped.setdefault((pod["namespace"], pod["version"]), []).append(
            Pod(str(pod["address"]), ready=bool(pod.get("ready", True)))
        )
    for (namespace, version), pods in grouped.items():
        view.set_pods(namespace, version, pods)
    view.synced.update({"services", "endpointslices", "modelversions"})


def build(settings: ActivatorSettings) -> Activator:
    view = ClusterView()
    if settings.static is not None:
        load_static(view, settings.static)
        return Activator(view, LoggingWaker(), settings)
    from modelops_runtime.activator.watch import KubeWaker, Watcher
    from modelops_runtime.auth import ApiReviewer, TokenReviews
    from modelops_runtime.kube import KubeClient, KubeConfig

    client = KubeClient(KubeConfig.from_env())
    watchers: list[Watcher] = []

    async def start() -> None:
        watcher = Watcher(client, view, asyncio.get_running_loop(), settings.namespaces)
        watcher.start()
        watchers.append(watcher)

    async def stop() -> None:
        for watcher in watchers:
            await asyncio.to_thread(watcher.stop)

    return Activator(
        view,
        KubeWaker(client),
        settings,
        on_start=start,
        on_stop=stop,
        synced=lambda: bool(watchers) and watchers[0].synced(),
        reviews=TokenReviews(ApiReviewer(client)),
    )


def connections_for(activator: Activator) -> type[Connection]:
    """The protocol class uvicorn makes per connection (its ``http`` setting): the admin
    port's connections answer with ``Activator.admin``, the others with ``proxy``."""

    class ActivatorConnection(Connection):
        def __init__(self, config: Any, server_state: Any, app_state: Any, _loop: Any = None):
            super().__init__(
                activator.proxy,
                activator.settings,
                activator.buffered,
                server_state.connections,
                server_state.tasks,
            )

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            if transport.get_extra_info("sockname")[1] == activator.settings.admin_port:
                self.handler = activator.admin
                self.capped = False  # probes and token reviews get in whatever the load
            super().connection_made(transport)

    return ActivatorConnection


def listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def serve(settings: ActivatorSettings) -> None:
    logs.configure(settings.log_level)
    activator = build(settings)
    sockets = [listen(settings.host, settings.port), listen(settings.host, settings.admin_port)]
    log.info(
        "activator starting",
        extra={
            "port": settings.port,
            "admin_port": settings.admin_port,
            "static": str(settings.static or ""),
            "namespaces": list(settings.namespaces),
        },
    )
    config = uvicorn.Config(
        activator,
        loop="auto",
        http=connections_for(activator),
        log_config=None,
        timeout_graceful_shutdown=max(1, round(settings.timeout_seconds)),
    )

    def drain() -> None:
        activator.draining = True

    DrainingServer(config, settings.drain_seconds, drain, lambda: activator.last_request).run(
        sockets=sockets
    )
