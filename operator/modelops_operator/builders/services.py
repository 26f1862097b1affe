"""Services: one per version, and the Model's whose selector follows the serving version."""

from __future__ import annotations

from typing import Any

from modelops_operator import names
from modelops_operator.builders.meta import Owner, metadata


def _service(
    owner: Owner, name: str, labels: dict[str, str], selector: dict[str, str]
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(owner, name, labels),
        "spec": {
            "type": "ClusterIP",
            "selector": selector,
            "ports": [
                {
                    "name": "http",
                    "port": names.SERVICE_PORT,
                    "targetPort": "http",
                    "protocol": "TCP",
                }
            ],
        },
    }


def version_service(owner: Owner, model: str) -> dict[str, Any]:
    """The Service of one ModelVersion (owned by it)."""
    return _service(
        owner,
        names.predictor(owner.name),
        names.child_labels(model, owner.name),
        names.version_labels(model, owner.name),
    )


def model_service(owner: Owner, serving_version: str) -> dict[str, Any]:
    """The Model's Service (owned by the Model): its selector is the serving version's pods."""
    return _service(
        owner,
        names.model_service(owner.name),
        names.child_labels(owner.name),
        names.version_labels(owner.name, serving_version),
    )
