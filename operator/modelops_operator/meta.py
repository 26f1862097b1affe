"""What every child shares: its metadata, its owner, and the shape of our Services."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from modelops_operator import names
from modelops_operator.api import API_VERSION


@dataclass(frozen=True)
class Owner:
    """The object a child belongs to; deleting it deletes the child."""

    kind: str
    name: str
    namespace: str
    uid: str

    @classmethod
    def of(cls, kind: str, body: dict[str, Any]) -> Owner:
        meta = body["metadata"]
        return cls(kind, meta["name"], meta["namespace"], meta["uid"])

    def reference(self) -> dict[str, Any]:
        return {
            "apiVersion": API_VERSION,
            "kind": self.kind,
            "name": self.name,
            "uid": self.uid,
            "controller": True,
            "blockOwnerDeletion": True,
        }

    def body(self) -> dict[str, Any]:
        """Enough of the owner's body to post an Event about it."""
        meta = {"name": self.name, "namespace": self.namespace, "uid": self.uid}
        return {"apiVersion": API_VERSION, "kind": self.kind, "metadata": meta}


def metadata(owner: Owner, name: str, labels: dict[str, str]) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": owner.namespace,
        "labels": dict(labels),
        "ownerReferences": [owner.reference()],
    }


def service(
    owner: Owner, name: str, labels: dict[str, str], selector: dict[str, str]
) -> dict[str, Any]:
    """A ClusterIP Service on the predictors' HTTP port."""
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
