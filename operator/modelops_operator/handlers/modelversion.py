"""ModelVersion: one reconcile entry, run on its own changes and on its children's."""

from __future__ import annotations

from typing import Any

import kopf

from modelops_operator import names
from modelops_operator.api import MODEL_VERSION
from modelops_operator.endpoints import endpoints_of
from modelops_operator.handlers.indexes import (
    KNOWN,
    MODEL_VERSIONS,
    OF_A_VERSION,
    PRIVATE_SLICES,
    SETTINGS,
    ours,
)
from modelops_operator.handlers.scaling import SCALES
from modelops_operator.modelversion.reconcile import Known, reconcile_version
from modelops_operator.sync import deliver, first, fresh, retried, serialized


def activator_endpoints() -> list[Any]:
    return endpoints_of(list(KNOWN.indexes.activator_slices.get("activator", [])))


def sync_version(namespace: str, name: str) -> None:
    with serialized((MODEL_VERSION.kind, namespace, name)):  # reads and writes, one at a time
        found = KNOWN.indexes
        body = first(found.model_versions, (namespace, name))
        if body is None or body["metadata"].get("deletionTimestamp"):
            return
        body = fresh(body)
        public, private = names.predictor(name), names.private_service(name)
        known = Known(
            body=body,
            deployment=first(found.deployments, (namespace, public)),
            services={
                public: first(found.services, (namespace, public)),
                private: first(found.services, (namespace, private)),
            },
            endpoints=first(found.our_endpoints, (namespace, public)),
            private_slices=list(found.private_slices.get((namespace, name), [])),
            pods=list(found.predictor_pods.get((namespace, name), [])),
            model=first(found.models, (namespace, str(body["spec"].get("model")))),
            activator=activator_endpoints(),
            scale=SCALES.get((namespace, name)),
        )
        deliver(body, reconcile_version(known, SETTINGS))


@kopf.on.resume(*MODEL_VERSIONS, when=ours)
@kopf.on.create(*MODEL_VERSIONS, when=ours)
@kopf.on.update(*MODEL_VERSIONS, when=ours)
@kopf.timer(*MODEL_VERSIONS, interval=SETTINGS.resync_seconds, when=ours)
def model_version(*, namespace: str, name: str, **_: Any) -> None:
    retried(lambda: sync_version(namespace, name))


@kopf.on.event("apps", "v1", "deployments", labels=OF_A_VERSION, when=ours)
@kopf.on.event("v1", "services", labels=OF_A_VERSION, when=ours)
@kopf.on.event("v1", "pods", labels=OF_A_VERSION, when=ours)
@kopf.on.event("discovery.k8s.io", "v1", "endpointslices", labels=PRIVATE_SLICES, when=ours)
def predictor_changed(*, namespace: str, labels: kopf.Labels, **_: Any) -> None:
    version = labels[names.VERSION_LABEL]
    retried(lambda: sync_version(namespace, version), in_place=True)


@kopf.on.event("v1", "endpoints", labels=OF_A_VERSION, when=ours)
def public_endpoints_changed(*, namespace: str, labels: kopf.Labels, **_: Any) -> None:
    """Someone edited or deleted the endpoints the operator keeps: put them back."""
    version = labels.get(names.VERSION_LABEL)
    if version:
        retried(lambda: sync_version(namespace, version), in_place=True)
