"""The Model recipe: its Service follows the serving version; retention deletes old
versions; status says which version serves and why."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from modelops_contracts.serving import Route
from modelops_operator import kube, names
from modelops_operator.api import API_VERSION, MODEL, MODEL_VERSION
from modelops_operator.api.model import ModelSpec
from modelops_operator.api.schema import parse
from modelops_operator.conditions import Observation, changes
from modelops_operator.endpoints import (
    SERVE,
    Endpoint,
    endpoints_manifest,
    endpoints_of,
    mode,
    ready,
)
from modelops_operator.meta import Owner
from modelops_operator.model.builders import model_service
from modelops_operator.model.rollout import Verdict, advance, step_percent
from modelops_operator.model.routing import Split, split_of
from modelops_operator.model.routing import routes as route_shares
from modelops_operator.model.status import (
    SERVICE_READY,
    VersionSummary,
    expired,
    model_status,
    serving_version,
)
from modelops_operator.outcome import Blocked, Outcome, apply_child, utc_now
from modelops_operator.settings import Settings


@dataclass(frozen=True)
class Known:
    """What the watches show of a Model's world."""

    body: Mapping[str, Any]
    versions: list[VersionSummary] = field(default_factory=list)
    service: dict[str, Any] | None = None
    endpoints: dict[str, Any] | None = None
    private_slices: Mapping[str, list[dict[str, Any]]] = field(default_factory=dict)
    """By version: the slices of its private Service (its pods)."""
    activator: list[Endpoint] = field(default_factory=list)
    verdict: Verdict | None = None
    """The rollout analysis' last judgement, when a window just ended."""
    now: float = 0.0


def reconcile_model(known: Known, settings: Settings) -> Outcome:
    outcome = Outcome()
    body = known.body
    owner = Owner.of(MODEL.kind, dict(body))
    spec = parse(ModelSpec, body.get("spec"))
    current = dict(body.get("status") or {})
    generation = int(body["metadata"].get("generation") or 0)
    versions = known.versions
    split = split_of(spec)
    serving = split.stable if split else serving_version(spec.default_version, versions)
    rollout = _rollout(spec, split, current, known, generation)
    active = {v.name for v in versions if v.active}
    rolled_back = (rollout or {}).get("phase") == "RolledBack"
    step = step_percent(spec.rollout, rollout)
    routes = route_shares(spec, serving, active, rolled_back, step) if serving else []
    url = None
    service = Observation.unknown(SERVICE_READY, "NoServingVersion", "no version to route to")
    try:
        # Made before any version is Ready, so that the URL answers from the start: with
        # no route the activator says so (a 503 naming the Service), never a refused
        # connection.
        auth = spec.auth.mode if spec.auth else "none"
        apply_child(model_service(owner, routes, auth), known.service, outcome)
        _apply_endpoints(known, owner, routes, settings, outcome)
        if routes:
            url = names.predict_url(
                names.model_service(owner.name), owner.namespace, owner.name,
                settings.cluster_domain,
            )  # fmt: skip
            shares = ", ".join(f"{r.version} {r.percent}%" for r in routes)
            service = Observation.true(SERVICE_READY, "Applied", f"routes to {shares}")
    except Blocked as err:
        service = Observation.false(SERVICE_READY, err.reason, err.message)
    if serving and serving != current.get("servingVersion"):
        outcome.note("ServingVersionChanged", f"{serving} now serves {owner.name}")
    _note_rollout(current.get("rollout"), rollout, outcome)
    keep_last = spec.retention.keep_last if spec.retention else None
    protected = {serving or "", *(t.version for t in spec.traffic)}
    seen = {v.name: v.resource_version for v in versions}
    for name in expired(versions, keep_last, protected):
        ref = kube.Ref(API_VERSION, MODEL_VERSION.kind, owner.namespace, name)
        if kube.delete(ref, seen.get(name, "")):
            outcome.note(
                "VersionDeleted", f"deleted {name}: beyond retention.keepLast and serving nothing"
            )
    wanted = model_status(
        pin=spec.default_version,
        traffic=spec.traffic,
        versions=versions,
        service=service,
        url=url,
        current=current,
        generation=generation,
        now=utc_now(),
        serving=serving,
        routes=routes,
        rollout=rollout,
    )
    outcome.status = changes(current, wanted)
    return outcome


def _rollout(
    spec: ModelSpec, split: Split | None, current: dict[str, Any], known: Known, generation: int
) -> dict[str, Any] | None:
    """The rollout's state: started over when the spec changed (a rolled-back candidate
    stays rolled back until then), advanced by a judgement."""
    if spec.rollout is None or split is None or not split.candidates:
        return None
    state = current.get("rollout")
    if state is not None and current.get("observedGeneration") != generation:
        state = None
    return advance(spec.rollout, split, state, known.verdict, known.now or time.time())


def _apply_endpoints(
    known: Known, owner: Owner, routes: list[Route], settings: Settings, outcome: Outcome
) -> None:
    """The Model's endpoints: the one version's pods when it takes everything and has a
    ready pod, else the activator."""
    target = routes[0].version if routes else ""
    pods = endpoints_of(list(known.private_slices.get(target, [])))
    if mode(routes, bool(ready(pods))) == SERVE:
        chosen, port = pods, names.HTTP_PORT
    else:
        chosen, port = known.activator, settings.activator_port
    name = names.model_service(owner.name)
    manifest = endpoints_manifest(owner, name, names.child_labels(owner.name), chosen, port)
    apply_child(manifest, known.endpoints, outcome, quiet=True)


def _note_rollout(
    before: dict[str, Any] | None, after: dict[str, Any] | None, outcome: Outcome
) -> None:
    if not after or ((before or {}).get("phase") == after.get("phase") and (
        before or {}).get("step") == after.get("step")):  # fmt: skip
        return
    phase = after.get("phase")
    if phase == "RolledBack":
        outcome.note("RolledBack", f"{after.get('candidate')}: {after.get('reason')}",
                     warning=True)  # fmt: skip
    elif phase == "Succeeded":
        outcome.note("RolloutSucceeded", f"{after.get('candidate')} takes all the traffic")
    elif before and after.get("step") != before.get("step"):
        outcome.note("RolloutStep", f"{after.get('candidate')}: step {after.get('step')}, "
                     f"{after.get('reason')}")  # fmt: skip
