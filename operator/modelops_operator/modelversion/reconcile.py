"""The ModelVersion recipe: spec → Deployment and Service → status.

One path for create, update, resume, the children's events and the safety resync.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from modelops_operator import names
from modelops_operator.api import MODEL_VERSION
from modelops_operator.api.model import ModelSpec
from modelops_operator.api.modelversion import ModelVersionSpec
from modelops_operator.api.schema import parse
from modelops_operator.conditions import Observation, changes
from modelops_operator.meta import Owner
from modelops_operator.modelversion.builders import (
    PredictorInputs,
    deployment,
    merge_predictor,
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


def reconcile_version(
    body: Mapping[str, Any],
    live: Mapping[str, dict[str, Any] | None],
    pods: list[dict[str, Any]],
    model_body: Mapping[str, Any] | None,
    settings: Settings,
) -> Outcome:
    """Apply the Deployment and Service of a ModelVersion and judge its status. ``live``
    holds the last known children by kind (None when not seen)."""
    outcome = Outcome()
    owner = Owner.of(MODEL_VERSION.kind, dict(body))
    spec = parse(ModelVersionSpec, body.get("spec"))
    model = parse(ModelSpec, model_body.get("spec")) if model_body else ModelSpec()
    predictor = merge_predictor(spec.predictor, model.predictor)
    current = dict(body.get("status") or {})
    wanted = replicas(predictor, served_once(current))
    runtime = spec.runtime_version or settings.default_runtime
    image = settings.runtimes.get(runtime)
    found_deployment = live.get("Deployment")
    blocked = None
    if image is None:
        known = ", ".join(sorted(settings.runtimes))
        blocked = Observation.false(
            RESOURCES_AVAILABLE,
            "UnknownRuntimeVersion",
            f"runtimeVersion {runtime!r} is not one of: {known}",
        )
    else:
        inputs = PredictorInputs(
            owner, spec, predictor, image, wanted,
            settings.storage_secret, settings.image_pull_policy,
        )  # fmt: skip
        try:
            found_deployment = apply_child(deployment(inputs), found_deployment, outcome)
            apply_child(version_service(owner, spec.model), live.get("Service"), outcome)
        except Blocked as err:
            blocked = Observation.false(RESOURCES_AVAILABLE, err.reason, err.message)
    url = names.predict_url(
        names.predictor(owner.name), owner.namespace, spec.model, settings.cluster_domain
    )
    wanted_status = version_status(
        Observed(wanted, found_deployment, pods, blocked, _decision(body)),
        current,
        int(body["metadata"].get("generation") or 0),
        utc_now(),
        url=url,
        image=image,
    )
    _note_ready_change(current, wanted_status, outcome)
    outcome.status = changes(current, wanted_status)
    return outcome


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
