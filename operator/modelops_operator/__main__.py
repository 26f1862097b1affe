"""``python -m modelops_operator``: run the operator with the settings from the environment."""

from __future__ import annotations

import asyncio
import logging
import os
import random
from typing import Any

import kopf

from modelops_operator import handlers  # noqa: F401 (registers the handlers)
from modelops_operator.handlers.indexes import SETTINGS


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    # Watches can stall silently: the server ends each watch, the client gives up later.
    settings.watching.server_timeout = SETTINGS.watch_server_timeout
    settings.watching.client_timeout = SETTINGS.watch_client_timeout
    settings.watching.connect_timeout = 30
    settings.networking.request_timeout = 60
    prefix = SETTINGS.storage_prefix
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=prefix)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=prefix, key="last-handled-configuration"
    )
    # kopf keeps a finalizer on objects with timers, to stop them before deletion.
    settings.persistence.finalizer = SETTINGS.finalizer
    # Our Events are posted by the reconcilers; kopf's own only when a handler fails.
    settings.posting.reporting_component = "modelops"
    settings.posting.level = logging.WARNING


def main() -> None:
    debug = os.environ.get("MODELOPS_DEBUG") == "1"
    kopf.configure(verbose=debug)
    if not debug:  # "Handler succeeded" for every object and event: Events tell the story
        logging.getLogger("kopf.objects").setLevel(logging.WARNING)
        logging.getLogger("aiohttp.access").setLevel(logging.WARNING)  # each liveness probe
    asyncio.run(
        kopf.operator(
            clusterwide=not SETTINGS.namespaces,
            # The operator's own namespace too: the activator's endpoints are there.
            namespaces=[*SETTINGS.namespaces, SETTINGS.operator_namespace]
            if SETTINGS.namespaces
            else [],
            liveness_endpoint=f"http://0.0.0.0:{SETTINGS.liveness_port}/healthz",
            peering_name=SETTINGS.peering or None,
            standalone=not SETTINGS.peering,
            priority=random.randint(0, 32767),
        )
    )


if __name__ == "__main__":
    main()
