"""A namespace that becomes ours, and the activator's pods coming and going."""

from __future__ import annotations

from typing import Any

import kopf

from modelops_operator import names
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
    *, type: str | None, name: str, labels: kopf.Labels, **_: Any
) -> None:  # fmt: skip
    """A namespace created or relabelled: its objects may have arrived before it did, when
    ``ours`` could not yet tell whose they are. (The first listing is left to resume.)"""
    if type in ("ADDED", "MODIFIED") and SETTINGS.serves(labels.get(names.INSTANCE_LABEL, "")):
        _sync_namespace(name)


@kopf.on.event("discovery.k8s.io", "v1", "endpointslices", labels=ACTIVATOR_SLICES)
def activator_changed(*, type: str | None, namespace: str | None, **_: Any) -> None:
    """The activator's pods changed: every Service that points at it is rewritten."""
    if type is not None and namespace == SETTINGS.operator_namespace:
        _sync_namespace(None)
