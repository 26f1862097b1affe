"""The rollout analysis' loop: while a Model rolls a candidate out, read what the
activator counted for the candidate and the stable version, and at the end of each
window judge them (``model.rollout``) and let the Model's reconcile act on it."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import aiohttp
import kopf

from modelops_contracts.serving import VersionTraffic
from modelops_operator.api.model import ModelSpec
from modelops_operator.api.schema import parse
from modelops_operator.autoscaler.traffic import read
from modelops_operator.handlers.indexes import MODELS, SETTINGS, ours
from modelops_operator.handlers.model import sync_model
from modelops_operator.handlers.modelversion import activator_endpoints
from modelops_operator.model.rollout import WAIT, judge, window
from modelops_operator.model.routing import split_of
from modelops_operator.sync import Key, retried

CHECK = 5.0


@dataclass(frozen=True)
class Start:
    """Where a window began: when, and the counters then."""

    at: float
    stable: VersionTraffic | None
    candidate: VersionTraffic | None
    pair: tuple[str, str]


WINDOWS: dict[Key, Start] = {}


def ours_and_rolling_out(**kwargs: Any) -> bool:
    spec = parse(ModelSpec, dict(kwargs["spec"]))
    return ours(**kwargs) and spec.rollout is not None and bool(spec.traffic)


@kopf.timer(*MODELS, interval=CHECK, when=ours_and_rolling_out)
async def analyse(*, namespace: str, name: str, spec: kopf.Spec, status: kopf.Status,
                  **_: Any) -> None:  # fmt: skip
    model = parse(ModelSpec, dict(spec))
    split = split_of(model)
    phase = (status.get("rollout") or {}).get("phase")
    if model.rollout is None or split is None or not split.candidates or phase in (
        "RolledBack", "Succeeded"):  # fmt: skip
        return
    pair = (split.stable, split.candidates[0])
    addresses = [e.ip for e in activator_endpoints() if e.ready]
    async with aiohttp.ClientSession() as session:
        counters = await read(session, addresses, SETTINGS.activator_admin_port)
    stable, candidate = counters.get((namespace, pair[0])), counters.get((namespace, pair[1]))
    key, now = (namespace, name), time.time()
    start = WINDOWS.get(key)
    if start is None or start.pair != pair:
        WINDOWS[key] = Start(now, stable, candidate, pair)
        return
    if now - start.at < model.rollout.analysis.window_seconds or stable is None or (
        candidate is None):  # fmt: skip
        return
    verdict = judge(model.rollout.analysis, window(start.candidate, candidate),
                    window(start.stable, stable))  # fmt: skip
    if verdict.outcome != WAIT:  # too few requests: the window grows until there are enough
        WINDOWS[key] = Start(now, stable, candidate, pair)
    await asyncio.to_thread(retried, lambda: sync_model(namespace, name, verdict), True)
