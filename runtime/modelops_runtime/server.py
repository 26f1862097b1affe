"""Run the predictor with uvicorn: the same entry point locally and in pods."""

from __future__ import annotations

import logging

import uvicorn

from modelops_runtime import logs
from modelops_runtime.app import create_app
from modelops_runtime.settings import Settings

log = logging.getLogger("modelops.predictor")


def serve(settings: Settings) -> None:
    logs.configure(settings.log_level)
    log.info(
        "predictor starting",
        extra={"model": settings.model_name, "uri": settings.model_uri, "port": settings.port},
    )
    config = uvicorn.Config(
        create_app(settings, freeze_heap=True),
        host=settings.host,
        port=settings.port,
        loop="auto",
        http="auto",
        access_log=settings.access_log,
        log_config=None,
        timeout_graceful_shutdown=20,
    )
    uvicorn.Server(config).run()
