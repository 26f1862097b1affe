"""A Model's child: the Service that routes to its serving version or its split (pure)."""

from __future__ import annotations

from typing import Any

from modelops_contracts.serving import Route
from modelops_operator import names
from modelops_operator.endpoints import routed_service
from modelops_operator.meta import Owner


def model_service(owner: Owner, routes: list[Route], auth: str = "none") -> dict[str, Any]:
    """The Model's Service (owned by the Model): no selector; its endpoints are the one
    version's ready pods, or the activator for a split or a version at zero."""
    return routed_service(
        owner, names.model_service(owner.name), names.child_labels(owner.name), routes, auth
    )
