"""The reconcile recipes: spec → desired children → ``kube.ensure`` → status.

One path for create, update, resume and the drift timer. Each function returns the new
status and the Events worth telling the user; the handlers apply both through kopf.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from modelops_operator import kube, names
from modelops_operator.api import API_VERSION, MODEL, MODEL_VERSION
from modelops_operator.api.model import ModelSpec
from modelops_operator.api.modelversion import ModelVersionSpec
from modelops_operator.api.schema import parse
from modelops_operator.builders.meta import Owner
from modelops_operator.builders.predictor import (
    PredictorInputs,
    deployment,
    merge_predictor,
    replicas,
)
from modelops_operator.builders.services import model_service, version_service
from modelops_operator.conditions import READY, Observation, find
from modelops_operator.serving import VersionSummary, expired, model_status, serving_version
from modelops_operator.settings import Settings
from modelops_operator.status import Observed, changes, version_status


@dataclass
class Outcome:
    """What a reconcile decided: the status patch and the Events to post."""

    status: dict[str, Any] = field(default_factory=dict)
    events: list[tuple[str, str, str]] = field(default_factory=list)  # (type, reason, message)

    def note(self, reason: str, message: str, warning: bool = False) -> None:
        self.events.append(("Warning" if warning else "Normal", reason, message))


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def owner_of(kind: str, body: Mapping[str, Any]) -> Owner:
    meta = body["metadata"]
    return Owner(kind, meta["name"], meta["namespace"], meta["uid"])


def apply_child(
    desired: dict[str, Any], live: dict[str, Any] | None, outcome: Outcome
) -> dict[str, Any]:
    """``kube.ensure`` one child, noting an Event when it had to act."""
    action, result = kube.ensure(desired, live)
    if action != "unchanged":
        kind, name = desired["kind"], desired["metadata"]["name"]
        outcome.note(action.capitalize(), f"{action} {kind} {name}")
    return result


def reconcile_version(
    body: Mapping[str, Any],
    live: Mapping[str, dict[str, Any] | None],
    pods: list[dict[str, Any]],
    model_body: Mapping[str, Any] | None,
    settings: Settings,
) -> Outcome:
    """Deployment + Service of a ModelVersion, and its status. ``live`` holds the last known
    Deployment and Service by kind (None when not seen)."""
    outcome = Outcome()
    owner = owner_of(MODEL_VERSION.kind, body)
    spec = parse(ModelVersionSpec, body.get("spec"))
    model = parse(ModelSpec, model_body.get("spec")) if model_body else ModelSpec()
    predictor = merge_predictor(spec.predictor, model.predictor)
    runtime = spec.runtime_version or settings.default_runtime
    image = settings.runtimes.get(runtime)
    blocked = None
    found_deployment = live.get("Deployment")
    if image is None:
        known = ", ".join(sorted(settings.runtimes))
        blocked = Observation.false(
            READY, "UnknownRuntimeVersion", f"runtimeVersion {runtime!r} is not one of: {known}"
        )
    else:
        inputs = PredictorInputs(
            owner, spec, predictor, image, settings.storage_secret, settings.image_pull_policy
        )
        try:
            found_deployment = apply_child(deployment(inputs), found_deployment, outcome)
            apply_child(version_service(owner, spec.model), live.get("Service"), outcome)
        except kube.NotOwned as err:
            blocked = Observation.false(READY, "NotOwned", str(err))
        except kube.KubeError as err:
            blocked = Observation.false(
                READY, "ApplyFailed", f"the API server refused a child: {err}"
            )
    observed = Observed(replicas(predictor), found_deployment, pods, blocked)
    current = dict(body.get("status") or {})
    url = names.predict_url(
        names.predictor(owner.name), owner.namespace, spec.model, settings.cluster_domain
    )
    wanted = version_status(
        observed, current, int(body["metadata"].get("generation") or 0), now(), url=url, image=image
    )
    _note_ready_change(current, wanted, outcome)
    outcome.status = changes(current, wanted)
    return outcome


def _note_ready_change(current: dict[str, Any], wanted: dict[str, Any], outcome: Outcome) -> None:
    old = find(current.get("conditions") or [], READY) or {}
    new = find(wanted.get("conditions") or [], READY) or {}
    if (old.get("status"), old.get("reason")) != (new.get("status"), new.get("reason")):
        warning = new.get("status") == "False" and new.get("reason") != "ScaledToZero"
        outcome.note(str(new.get("reason")), str(new.get("message")), warning=warning)


def reconcile_model(
    body: Mapping[str, Any],
    versions: list[VersionSummary],
    live_service: dict[str, Any] | None,
    settings: Settings,
) -> Outcome:
    """The Model's Service follows the serving version; retention deletes old versions."""
    outcome = Outcome()
    owner = owner_of(MODEL.kind, body)
    spec = parse(ModelSpec, body.get("spec"))
    current = dict(body.get("status") or {})
    serving = serving_version(spec.default_version, versions)
    url = None
    if serving:
        try:
            apply_child(model_service(owner, serving), live_service, outcome)
            url = names.predict_url(
                names.model_service(owner.name),
                owner.namespace,
                owner.name,
                settings.cluster_domain,
            )
        except (kube.NotOwned, kube.KubeError) as err:
            reason = "NotOwned" if isinstance(err, kube.NotOwned) else "ApplyFailed"
            outcome.note(reason, str(err), warning=True)
    if serving != current.get("servingVersion") and serving:
        outcome.note("ServingVersionChanged", f"{serving} now serves {owner.name}")
    for name in expired(
        versions, spec.retention.keep_last if spec.retention else None, {serving or ""}
    ):
        if kube.delete(kube.Ref(API_VERSION, MODEL_VERSION.kind, owner.namespace, name)):
            outcome.note(
                "VersionDeleted", f"deleted {name}: beyond retention.keepLast and serving nothing"
            )
    wanted = model_status(
        pin=spec.default_version,
        traffic=spec.traffic,
        versions=versions,
        url=url,
        current=current,
        generation=int(body["metadata"].get("generation") or 0),
        now=now(),
    )
    outcome.status = changes(current, wanted)
    return outcome
