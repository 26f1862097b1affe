"""The ModelVersion recipe: spec → Deployment and Service → status.

One path for create, update, resume, the children's events and the safety resync.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from modelops_contracts.serving import Route
from modelops_operator import names
from modelops_operator.api import MODEL_VERSION
from modelops_operator.api.common import Predictor
from modelops_operator.api.model import ModelSpec
from modelops_operator.api.modelversion import ModelVersionSpec
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
from modelops_operator.modelversion.builders import (
    PredictorInputs,
    deployment,
    light_wake,
    merge_predictor,
    private_service,
    replicas,
    version_service,
)
from modelops_operator.modelversion.status import (
    RESOURCES_AVAILABLE,
    Observed,
    ready_condition,
    served_once,
    version_status,
)
from modelops_operator.outcome import Blocked, Outcome, apply_child, utc_now
from modelops_operator.settings import Settings


@dataclass(frozen=True)
class Scale:
    """The autoscaler's latest decision on a version."""

    replicas: int
    concurrency: float
    last_request: float = 0.0
    reason: str = ""


@dataclass(frozen=True)
class Known:
    """What the watches show of a ModelVersion's world."""

    body: Mapping[str, Any]
    deployment: dict[str, Any] | None = None
    services: Mapping[str, dict[str, Any] | None] = field(default_factory=dict)
    """By name: the public and the private Service."""
    endpoints: dict[str, Any] | None = None
    """The public Service's Endpoints, as the operator last wrote them."""
    private_slices: list[dict[str, Any]] = field(default_factory=list)
    pods: list[dict[str, Any]] = field(default_factory=list)
    model: Mapping[str, Any] | None = None
    activator: list[Endpoint] = field(default_factory=list)
    scale: Scale | None = None


def reconcile_version(known: Known, settings: Settings) -> Outcome:
    """Apply the Deployment, the Services and the public endpoints of a ModelVersion and
    judge its status."""
    outcome = Outcome()
    body = known.body
    owner = Owner.of(MODEL_VERSION.kind, dict(body))
    spec = parse(ModelVersionSpec, body.get("spec"))
    model = parse(ModelSpec, known.model.get("spec")) if known.model else ModelSpec()
    predictor = merge_predictor(spec.predictor, model.predictor)
    current = dict(body.get("status") or {})
    decided = known.scale.replicas if known.scale else _kept(known.deployment, predictor)
    wanted = replicas(predictor, served_once(current), decided)
    runtime = spec.runtime_version or settings.default_runtime
    image = settings.runtimes.get(runtime)
    found_deployment = known.deployment
    blocked = None
    if image is None:
        choices = ", ".join(sorted(settings.runtimes))
        blocked = Observation.false(
            RESOURCES_AVAILABLE,
            "UnknownRuntimeVersion",
            f"runtimeVersion {runtime!r} is not one of: {choices}",
        )
    else:
        inputs = PredictorInputs(
            owner, spec, predictor, image, wanted,
            settings.storage_secret, settings.image_pull_policy, model.auth,
            light_wake(current, found_deployment, wanted), settings.review_url,
        )  # fmt: skip
        try:
            _apply_endpoints(
                known, owner, spec.model, wanted=wanted, settings=settings, outcome=outcome,
                auth=model.auth.mode if model.auth else "none",
            )  # fmt: skip
            found_deployment = apply_child(deployment(inputs), found_deployment, outcome)
        except Blocked as err:
            blocked = Observation.false(RESOURCES_AVAILABLE, err.reason, err.message)
    url = names.predict_url(
        names.predictor(owner.name), owner.namespace, spec.model, settings.cluster_domain
    )
    facts: dict[str, Any] = {"url": url, "image": image}
    if known.scale is not None:
        facts["concurrency"] = round(known.scale.concurrency, 1)
        if known.scale.last_request:
            facts["lastRequestTime"] = _minute(known.scale.last_request)
    wanted_status = version_status(
        Observed(wanted, found_deployment, known.pods, blocked, _decision(body)),
        current,
        int(body["metadata"].get("generation") or 0),
        utc_now(),
        **facts,
    )
    _note_ready_change(current, wanted_status, outcome)
    _note_scale(current, wanted_status, known.scale, outcome)
    outcome.status = changes(current, wanted_status)
    return outcome


def _apply_endpoints(
    known: Known,
    owner: Owner,
    model: str,
    *,
    wanted: int,
    settings: Settings,
    outcome: Outcome,
    auth: str = "none",
) -> None:
    """The private Service, and the public one with its endpoints: the version's pods
    while some are ready and it is not going to zero, else the activator."""
    private, public = names.private_service(owner.name), names.predictor(owner.name)
    apply_child(private_service(owner, model), known.services.get(private), outcome)
    apply_child(version_service(owner, model, auth), known.services.get(public), outcome)
    pods = endpoints_of(known.private_slices)
    route = [Route(owner.name, 100)]
    if mode(route, bool(ready(pods)) and wanted > 0) == SERVE:
        chosen, port = pods, names.HTTP_PORT
    else:
        chosen, port = known.activator, settings.activator_port
    labels = names.child_labels(model, owner.name)
    manifest = endpoints_manifest(owner, public, labels, chosen, port)
    apply_child(manifest, known.endpoints, outcome, quiet=True)


def _kept(deployment: dict[str, Any] | None, predictor: Predictor) -> int | None:
    """Before the autoscaler's first decision (a restart), the size the Deployment has,
    within the bounds: never a jump to the minimum."""
    if deployment is None:
        return None
    low = 1 if predictor.min_replicas is None else predictor.min_replicas
    high = max(predictor.max_replicas or max(low, 1), low)
    size = int((deployment.get("spec") or {}).get("replicas") or 0)
    return min(max(size, low), high)


def _minute(unix: float) -> str:
    return datetime.fromtimestamp(unix, UTC).strftime("%Y-%m-%dT%H:%M:00Z")


def _note_scale(
    current: dict[str, Any], wanted: dict[str, Any], scale: Scale | None, outcome: Outcome
) -> None:
    """An Event only when the replica count changes, never one per tick."""
    before, after = current.get("desiredReplicas"), wanted.get("desiredReplicas")
    if before is None or before == after:
        return
    why = f" ({scale.reason}, {scale.concurrency:.1f} in flight)" if scale else ""
    outcome.note("Scaled", f"{before} -> {after} pods{why}")


def _note_ready_change(current: dict[str, Any], wanted: dict[str, Any], outcome: Outcome) -> None:
    old, new = ready_condition(current), ready_condition(wanted)
    if (old.get("status"), old.get("reason")) != (new.get("status"), new.get("reason")):
        outcome.note(
            str(new.get("reason")), str(new.get("message")), warning=new.get("status") == "False"
        )


def _decision(body: Mapping[str, Any]) -> dict[str, Any] | None:
    raw = (body["metadata"].get("annotations") or {}).get(names.PROMOTION_DECISION)
    try:
        found = json.loads(raw) if raw else None
    except ValueError:
        return None
    return found if isinstance(found, dict) else None
