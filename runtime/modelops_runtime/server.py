"""Run the predictor with uvicorn: the same entry point locally and in pods.

On SIGTERM (a pod being deleted) the server drains: readiness fails at once, everything
that arrives is still answered until no prediction came for ``drain_seconds`` (endpoint
removal reaches kube-proxy and the activator asynchronously; at most three times that),
then the server stops taking connections, waits at most ``drain_timeout_seconds`` for the
requests it holds, and exits 0. A second SIGTERM ends the delay early; SIGINT (Ctrl+C)
stops at once, gracefully, without the delay.

Given a termination log (a pod's), a predictor whose artifact is refused writes the
refusal there as the fetch step's verdict and exits 1, so the operator can say why.
"""

from __future__ import annotations

import logging
from pathlib import Path

import uvicorn

from modelops_contracts.serving import PREDICTOR_KEEP_ALIVE_SECONDS
from modelops_contracts.verdict import Verdict
from modelops_runtime import logs
from modelops_runtime.app import create_app
from modelops_runtime.dataplane import DataPlane, ModelState
from modelops_runtime.draining import DrainingServer
from modelops_runtime.prefetch import Prefetch
from modelops_runtime.settings import Settings

log = logging.getLogger("modelops.predictor")


def serve(
    settings: Settings, termination_log: Path | None = None, prefetch: Prefetch | None = None
) -> int:
    """Serve until stopped: 0 after a drain, 1 when the artifact was refused and the
    refusal went to ``termination_log``. The load waits for ``prefetch``'s download."""
    logs.configure(settings.log_level)
    log.info(
        "predictor starting",
        extra={"model": settings.model_name, "uri": settings.model_uri, "port": settings.port},
    )
    refused: list[Verdict] = []

    def give_up(state: ModelState) -> None:
        verdict = Verdict.refused(state.reason, state.message)
        if termination_log is not None:
            termination_log.write_text(verdict.termination_message())
        refused.append(verdict)
        server.should_exit = True

    plane = DataPlane(settings, prefetch=prefetch)
    app = create_app(
        settings,
        plane=plane,
        freeze_heap=True,
        on_refused=give_up if termination_log is not None else None,
    )
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        loop="auto",
        http="auto",
        access_log=settings.access_log,
        log_config=None,
        timeout_graceful_shutdown=max(1, round(settings.drain_timeout_seconds)),
        timeout_keep_alive=int(PREDICTOR_KEEP_ALIVE_SECONDS),
    )

    def drain() -> None:
        app.pod.draining = True

    server = DrainingServer(config, settings.drain_seconds, drain, lambda: app.pod.last_request)
    server.run()
    log.info("predictor stopped", extra={"answered": app.pod.requests})
    return 1 if refused else 0
