"""kopf registrations: indexes of what exists, and one reconcile path per resource.

create, update and resume share the handler; a timer re-runs it for drift (a deleted or
edited child comes back) and for status (pods becoming ready or failing). Children are
looked up in in-memory indexes fed by watches, so a steady state costs no API calls.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import kopf

from modelops_operator import names
from modelops_operator.api import GROUP, MODEL, MODEL_VERSION, VERSION
from modelops_operator.conditions import READY, is_true
from modelops_operator.reconcile import Outcome, reconcile_model, reconcile_version
from modelops_operator.serving import VersionSummary
from modelops_operator.settings import Settings

SETTINGS = Settings.from_env()
MANAGED = {names.MANAGED_BY: names.MANAGER}
MV = (GROUP, VERSION, MODEL_VERSION.plural)
MDL = (GROUP, VERSION, MODEL.plural)


def _children(kind: str) -> Callable[..., object]:
    def index(*, body: kopf.Body, name: str, namespace: str | None, **_: Any) -> object:
        return {(namespace, kind, name): dict(body)}

    return index


deployments = kopf.index("apps", "v1", "deployments", id="deployments", labels=MANAGED)(
    _children("Deployment")
)
services = kopf.index("v1", "services", id="services", labels=MANAGED)(_children("Service"))


@kopf.index("v1", "pods", labels={**MANAGED, names.COMPONENT: names.PREDICTOR})
def pods(*, namespace: str | None, labels: kopf.Labels, body: kopf.Body, **_: Any) -> object:
    return {(namespace, labels.get(names.VERSION_LABEL, "")): {"status": dict(body.status)}}


@kopf.index(*MDL)
def models(*, namespace: str | None, name: str, spec: kopf.Spec, **_: Any) -> object:
    return {(namespace, name): {"spec": dict(spec)}}


@kopf.index(*MV)
def versions(*, body: kopf.Body, name: str, namespace: str | None, **_: Any) -> object:
    if body.metadata.get("deletionTimestamp"):  # going away: never chosen to serve
        return None
    ready = is_true(list(body.status.get("conditions") or []), READY)
    created = str(body.metadata.creation_timestamp)
    return {(namespace, str(body.spec.get("model"))): VersionSummary(name, created, ready)}


def _one(indexes: dict[str, Any], index: str, key: Any) -> Any:
    """The single value under ``key`` in the index named ``index`` (kopf passes indexes
    to handlers as keyword arguments named after the index functions)."""
    return next(iter(indexes[index].get(key, [])), None)


def _apply(outcome: Outcome, body: kopf.Body, patch: kopf.Patch) -> None:
    patch.status.update(outcome.status)
    for type_, reason, message in outcome.events:
        kopf.event(body, type=type_, reason=reason, message=message)


@kopf.on.resume(*MV)
@kopf.on.create(*MV)
@kopf.on.update(*MV)
@kopf.timer(*MV, interval=SETTINGS.resync_seconds, initial_delay=SETTINGS.resync_seconds)
def version(
    *, body: kopf.Body, name: str, namespace: str | None, patch: kopf.Patch, **kw: Any
) -> None:
    child = names.predictor(name)
    kinds = (("Deployment", "deployments"), ("Service", "services"))
    live = {kind: _one(kw, index, (namespace, kind, child)) for kind, index in kinds}
    model = _one(kw, "models", (namespace, body.spec.get("model")))
    pods = list(kw["pods"].get((namespace, name), []))
    _apply(reconcile_version(body, live, pods, model, SETTINGS), body, patch)


@kopf.on.resume(*MDL)
@kopf.on.create(*MDL)
@kopf.on.update(*MDL)
@kopf.timer(*MDL, interval=SETTINGS.resync_seconds, initial_delay=SETTINGS.resync_seconds)
def model(
    *, body: kopf.Body, name: str, namespace: str | None, patch: kopf.Patch, **kw: Any
) -> None:
    service = _one(kw, "services", (namespace, "Service", names.model_service(name)))
    versions = list(kw["versions"].get((namespace, name), []))
    _apply(reconcile_model(body, versions, service, SETTINGS), body, patch)
