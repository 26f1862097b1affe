"""The Model recipe: its Service follows the serving version; retention deletes old
versions; status says which version serves and why."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from modelops_operator import kube, names
from modelops_operator.api import API_VERSION, MODEL, MODEL_VERSION
from modelops_operator.api.model import ModelSpec
from modelops_operator.api.schema import parse
from modelops_operator.conditions import Observation, changes
from modelops_operator.meta import Owner
from modelops_operator.model.builders import model_service
from modelops_operator.model.status import (
    SERVICE_READY,
    VersionSummary,
    expired,
    model_status,
    serving_version,
)
from modelops_operator.outcome import Blocked, Outcome, apply_child, utc_now
from modelops_operator.settings import Settings


def reconcile_model(
    body: Mapping[str, Any],
    versions: list[VersionSummary],
    live_service: dict[str, Any] | None,
    settings: Settings,
) -> Outcome:
    outcome = Outcome()
    owner = Owner.of(MODEL.kind, dict(body))
    spec = parse(ModelSpec, body.get("spec"))
    current = dict(body.get("status") or {})
    serving = serving_version(spec.default_version, versions)
    url = None
    service = Observation.unknown(SERVICE_READY, "NoServingVersion", "no version to route to")
    if serving:
        try:
            apply_child(model_service(owner, serving), live_service, outcome)
            url = names.predict_url(
                names.model_service(owner.name), owner.namespace, owner.name,
                settings.cluster_domain,
            )  # fmt: skip
            service = Observation.true(SERVICE_READY, "Applied", f"routes to {serving}")
        except Blocked as err:
            service = Observation.false(SERVICE_READY, err.reason, err.message)
    if serving and serving != current.get("servingVersion"):
        outcome.note("ServingVersionChanged", f"{serving} now serves {owner.name}")
    keep_last = spec.retention.keep_last if spec.retention else None
    for name in expired(versions, keep_last, {serving or ""}):
        if kube.delete(kube.Ref(API_VERSION, MODEL_VERSION.kind, owner.namespace, name)):
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
        generation=int(body["metadata"].get("generation") or 0),
        now=utc_now(),
    )
    outcome.status = changes(current, wanted)
    return outcome
