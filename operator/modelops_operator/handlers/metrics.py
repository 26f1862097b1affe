"""``GET /metrics`` on the operator's metrics port: the state of the versions and
TrainingJobs this install serves (modelops_operator.metrics), read from the indexes on
the event loop that feeds them."""

from __future__ import annotations

import logging
from typing import Any

import kopf
from aiohttp import web

from modelops_operator.handlers.indexes import KNOWN, SETTINGS
from modelops_operator.metrics import Observed, exposition, registry_for
from modelops_operator.sync import first

_log = logging.getLogger("modelops.operator")


def _serves(namespace: str) -> bool:
    label = first(KNOWN.indexes.namespace_instances, namespace)
    return label is not None and SETTINGS.serves(label)


def _ours(index: Any) -> list[dict[str, Any]]:
    return [body for (namespace, _), bodies in list(index.items()) if _serves(namespace)
            for body in bodies if not body["metadata"].get("deletionTimestamp")]  # fmt: skip


def observe() -> Observed:
    found = KNOWN.indexes
    return Observed(versions=_ours(found.model_versions), training_jobs=_ours(found.training_jobs))


REGISTRY = registry_for(observe)


async def _metrics(_: web.Request) -> web.Response:
    content_type, body = exposition(REGISTRY)
    return web.Response(body=body, headers={"Content-Type": content_type})


@kopf.on.startup()
async def serve_metrics(memo: kopf.Memo, **_: Any) -> None:
    if not SETTINGS.metrics_port:
        return
    app = web.Application()
    app.router.add_get("/metrics", _metrics)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "0.0.0.0", SETTINGS.metrics_port).start()
    memo["metrics_runner"] = runner
    _log.info("metrics on :%d/metrics", SETTINGS.metrics_port)


@kopf.on.cleanup()
async def stop_metrics(memo: kopf.Memo, **_: Any) -> None:
    runner = memo.get("metrics_runner")
    if runner is not None:
        await runner.cleanup()
