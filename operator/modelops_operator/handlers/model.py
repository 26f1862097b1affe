"""Model: one reconcile entry, run on its own changes, its versions' and its Service's."""

from __future__ import annotations

import time
from typing import Any

import kopf

from modelops_operator import names
from modelops_operator.api import MODEL
from modelops_operator.handlers.indexes import (
    KNOWN,
    MODEL_VERSIONS,
    MODELS,
    OF_A_MODEL,
    PRIVATE_SLICES,
    SETTINGS,
    ours,
)
from modelops_operator.handlers.modelversion import activator_endpoints
from modelops_operator.model.reconcile import Known, reconcile_model
from modelops_operator.model.rollout import Verdict
from modelops_operator.sync import deliver, first, fresh, retried, serialized


def sync_model(namespace: str, name: str, verdict: Verdict | None = None) -> None:
    with serialized((MODEL.kind, namespace, name)):  # reads and writes, one at a time
        found = KNOWN.indexes
        body = first(found.models, (namespace, name))
        if body is None or body["metadata"].get("deletionTimestamp"):
            return
        body = fresh(body)
        versions = list(found.versions_of_models.get((namespace, name), []))
        service = names.model_service(name)
        known = Known(
            body=body,
            versions=versions,
            service=first(found.services, (namespace, service)),
            endpoints=first(found.our_endpoints, (namespace, service)),
            private_slices={
                v.name: list(found.private_slices.get((namespace, v.name), [])) for v in versions
            },
            activator=activator_endpoints(),
            verdict=verdict,
            now=time.time(),
        )
        deliver(body, reconcile_model(known, SETTINGS))


@kopf.on.resume(*MODELS, when=ours)
@kopf.on.create(*MODELS, when=ours)
@kopf.on.update(*MODELS, when=ours)
@kopf.timer(*MODELS, interval=SETTINGS.resync_seconds, when=ours)
def model(*, namespace: str, name: str, **_: Any) -> None:
    retried(lambda: sync_model(namespace, name))


@kopf.on.event(*MODEL_VERSIONS, when=ours)
def version_changed(*, namespace: str, spec: kopf.Spec, **_: Any) -> None:
    model_name = str(spec.get("model"))
    retried(lambda: sync_model(namespace, model_name), in_place=True)


@kopf.on.event("v1", "services", labels=OF_A_MODEL, when=ours)
@kopf.on.event("discovery.k8s.io", "v1", "endpointslices", labels=PRIVATE_SLICES, when=ours)
@kopf.on.event("v1", "endpoints", labels=OF_A_MODEL, when=ours)
def model_service_changed(*, namespace: str, labels: kopf.Labels, **_: Any) -> None:
    """The Model's Service or endpoints changed, or a version's pods did (which decide
    whether the Model's requests go to them directly)."""
    model_name = labels[names.MODEL_LABEL]
    retried(lambda: sync_model(namespace, model_name), in_place=True)
