"""Run the predictor with uvicorn: the same entry point locally and in pods.

On SIGTERM (a pod being deleted) the server drains: readiness fails at once, everything
that arrives is still answered for ``drain_seconds`` (endpoint removal reaches kube-proxy
and the activator asynchronously), then the server stops taking connections, waits at
most ``drain_timeout_seconds`` for the requests it holds, and exits 0. A second SIGTERM
ends the delay early; SIGINT (Ctrl+C) stops at once, gracefully, without the delay.
"""

from __future__ import annotations

import logging

import uvicorn

from modelops_runtime import logs
from modelops_runtime.app import create_app
from modelops_runtime.draining import DrainingServer
from modelops_runtime.settings import Settings

log = logging.getLogger("modelops.predictor")


def serve(settings: Settings) -> None:
    logs.configure(settings.log_level)
    log.info(
        "predictor starting",
        extra={"model": settings.model_name, "uri": settings.model_uri, "port": settings.port},
    )
    app = create_app(settings, freeze_heap=True)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        loop="auto",
        http="auto",
        access_log=settings.access_log,
        log_config=None,
        timeout_graceful_shutdown=max(1, round(settings.drain_timeout_seconds)),
    )

    def drain() -> None:
        app.pod.draining = True

    DrainingServer(config, settings.drain_seconds, drain).run()
    log.info("predictor stopped", extra={"answered": app.pod.requests})
