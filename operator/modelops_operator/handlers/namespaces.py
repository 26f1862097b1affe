"""A namespace that becomes ours, and the activator's pods coming and going."""

from __future__ import annotations

from typing import Any

import kopf

from modelops_operator import kube, names
from modelops_operator.api import API_VERSION, MODEL, MODEL_VERSION, TRAINING_JOB
from modelops_operator.finalizers import waiting_on
from modelops_operator.handlers.indexes import ACTIVATOR_SLICES, KNOWN, SETTINGS
from modelops_operator.handlers.model import sync_model
from modelops_operator.handlers.modelversion import sync_version
from modelops_operator.sync import first, retried


def _sync_namespace(namespace: str | None) -> None:
    found = KNOWN.indexes
    for ns, version in [k for k in found.model_versions if namespace in (None, k[0])]:
        if _serves(ns):
            retried(lambda: sync_version(ns, version), in_place=True)  # noqa: B023
    for ns, model_name in [k for k in found.models if namespace in (None, k[0])]:
        if _serves(ns):
            retried(lambda: sync_model(ns, model_name), in_place=True)  # noqa: B023


def _serves(namespace: str) -> bool:
    label = first(KNOWN.indexes.namespace_instances, namespace)
    return label is not None and SETTINGS.serves(label)


@kopf.on.event("v1", "namespaces")
def namespace_changed(
    *, type: str | None, name: str, labels: kopf.Labels, meta: kopf.Meta, **_: Any
) -> None:  # fmt: skip
    """A namespace created or relabelled: its objects may have arrived before it did, when
    ``ours`` could not yet tell whose they are. (The first listing is left to resume.)
    A namespace being deleted: nothing to reconcile there; namespaced, its objects are
    let go (``_let_go``)."""
    if type not in ("ADDED", "MODIFIED") or not SETTINGS.serves(
        labels.get(names.INSTANCE_LABEL, "")
    ):  # fmt: skip
        return
    if meta.get("deletionTimestamp"):
        retried(lambda: _let_go(name), in_place=True)
        return
    _sync_namespace(name)


def _let_go(namespace: str) -> None:
    """Namespaced (watchNamespaces), take our finalizer off the objects of a watched
    namespace that is being deleted. kopf stops watching such a namespace as soon as it is
    marked, and its Role goes with it, so kopf may never release them and the namespace
    would stay Terminating; the namespace's own events (watched cluster-wide) come until it
    is gone, and the chart lets the operator patch these kinds anywhere. Cluster-wide,
    kopf releases them itself."""
    if not SETTINGS.namespaces or not SETTINGS.acts_in(namespace):
        return
    for kind in (MODEL, MODEL_VERSION, TRAINING_JOB):
        listed = kube.get(kube.Ref(API_VERSION, kind.kind, namespace)) or {}
        for item, kept in waiting_on(listed.get("items") or [], SETTINGS.finalizer):
            version = str(item["metadata"].get("resourceVersion", ""))
            kube.set_finalizers(kube.Ref.of(item), kept, version)


@kopf.on.event("discovery.k8s.io", "v1", "endpointslices", labels=ACTIVATOR_SLICES)
def activator_changed(*, type: str | None, namespace: str | None, **_: Any) -> None:
    """The activator's pods changed: every Service that points at it is rewritten."""
    if type is not None and namespace == SETTINGS.operator_namespace:
        _sync_namespace(None)
