"""The autoscaler's loop: a daemon per autoscaled version (kopf stops it when the version
goes, stops being autoscaled, or this replica pauses for its peer). A version at zero
sleeps until the activator asks for a wake; an active one is read every ``TICK``."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from typing import Any

import aiohttp
import kopf

from modelops_contracts.serving import ACTIVATION_ANNOTATION
from modelops_operator import names
from modelops_operator.api.model import ModelSpec
from modelops_operator.api.modelversion import ModelVersionSpec
from modelops_operator.api.schema import parse
from modelops_operator.autoscaler.decision import Observation, Policy, State, decide
from modelops_operator.autoscaler.stats import read
from modelops_operator.endpoints import endpoints_of, ready
from modelops_operator.handlers.indexes import KNOWN, MODEL_VERSIONS, ours
from modelops_operator.handlers.modelversion import sync_version
from modelops_operator.handlers.scaling import SCALES
from modelops_operator.modelversion.builders import merge_predictor
from modelops_operator.modelversion.reconcile import Scale
from modelops_operator.sync import Key, first, retried

TICK = 2.0
ASLEEP = 60.0
"""How long a version at zero sleeps between checks when nobody asks for it."""
STATUS_EVERY = 30.0
"""The status' concurrency figures are refreshed this often at most (a write each)."""

WAKES: dict[Key, asyncio.Event] = {}


def policy_of(namespace: str, body: dict[str, Any]) -> Policy:
    spec = parse(ModelVersionSpec, body.get("spec"))
    model = first(KNOWN.indexes.models, (namespace, spec.model))
    defaults = parse(ModelSpec, model.get("spec")) if model else ModelSpec()
    return Policy.of(merge_predictor(spec.predictor, defaults.predictor))


def ours_and_autoscaled(**kwargs: Any) -> bool:
    return ours(**kwargs) and not policy_of(kwargs["namespace"], dict(kwargs["body"])).fixed


def _wake_time(body: dict[str, Any]) -> float:
    raw = (body["metadata"].get("annotations") or {}).get(ACTIVATION_ANNOTATION)
    try:
        return datetime.fromisoformat(str(raw).replace("Z", "+00:00")).timestamp() if raw else 0.0
    except ValueError:
        return 0.0


@kopf.on.event(*MODEL_VERSIONS, annotations={ACTIVATION_ANNOTATION: kopf.PRESENT}, when=ours)
async def wake_requested(*, namespace: str, name: str, **_: Any) -> None:
    """The activator holds a request for this version: its daemon decides at once."""
    WAKES.setdefault((namespace, name), asyncio.Event()).set()


@kopf.daemon(*MODEL_VERSIONS, when=ours_and_autoscaled, cancellation_timeout=5.0)
async def autoscale(
    *, namespace: str, name: str, stopped: kopf.DaemonStopped, **_: Any
) -> None:  # fmt: skip
    key = (namespace, name)
    wake = WAKES.setdefault(key, asyncio.Event())
    state = State(started=time.time())
    written = 0.0
    async with aiohttp.ClientSession() as session:
        try:
            while not stopped:
                body = first(KNOWN.indexes.model_versions, key)
                if body is None:
                    return
                policy = policy_of(namespace, body)
                pods = ready(endpoints_of(list(KNOWN.indexes.private_slices.get(key, []))))
                deployment = first(KNOWN.indexes.deployments, (namespace, names.predictor(name)))
                current = int(((deployment or {}).get("spec") or {}).get("replicas") or 0)
                reading = await read(session, [p.ip for p in pods], names.HTTP_PORT)
                now = time.time()
                seen = Observation(now, reading.pods, reading.in_flight, reading.last_request,
                                   _wake_time(body))  # fmt: skip
                decision = decide(policy, state, seen, current)
                state = decision.state
                before = SCALES.get(key)
                SCALES[key] = Scale(decision.replicas, decision.stable_concurrency,
                                    state.last_request, decision.reason)  # fmt: skip
                if before is None or before.replicas != decision.replicas or (
                    now - written >= STATUS_EVERY and reading.pods
                ):  # fmt: skip
                    written = now
                    await asyncio.to_thread(retried, lambda: sync_version(namespace, name), True)
                pause = ASLEEP if decision.replicas == 0 and current == 0 else TICK
                wake.clear()
                await _sleep(wake, stopped, pause)
        finally:
            SCALES.pop(key, None)


async def _sleep(wake: asyncio.Event, stopped: kopf.DaemonStopped, seconds: float) -> None:
    """Until ``seconds`` pass, a wake is asked for, or the daemon is stopped."""
    waiters = [asyncio.ensure_future(wake.wait()), asyncio.ensure_future(stopped.wait())]
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
