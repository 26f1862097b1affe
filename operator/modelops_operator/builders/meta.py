"""Metadata shared by every child: name, namespace, labels, owner."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from modelops_operator.api import API_VERSION


@dataclass(frozen=True)
class Owner:
    """The object a child belongs to; deleting it deletes the child."""

    kind: str
    name: str
    namespace: str
    uid: str

    def reference(self) -> dict[str, Any]:
        return {
            "apiVersion": API_VERSION,
            "kind": self.kind,
            "name": self.name,
            "uid": self.uid,
            "controller": True,
            "blockOwnerDeletion": True,
        }


def metadata(owner: Owner, name: str, labels: dict[str, str]) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": owner.namespace,
        "labels": dict(labels),
        "ownerReferences": [owner.reference()],
    }
