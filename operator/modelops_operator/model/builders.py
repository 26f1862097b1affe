"""A Model's child: the Service whose selector follows the serving version (pure)."""

from __future__ import annotations

from typing import Any

from modelops_operator import names
from modelops_operator.meta import Owner, service


def model_service(owner: Owner, serving_version: str) -> dict[str, Any]:
    """The Model's Service (owned by the Model): its selector is the serving version's pods."""
    return service(
        owner,
        names.model_service(owner.name),
        names.child_labels(owner.name),
        names.version_labels(owner.name, serving_version),
    )
