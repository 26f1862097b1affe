"""The only module that talks to the Kubernetes API.

``ensure`` is the one reconcile step for every child: get → create if missing → report
``NotOwned`` if another owner has it → merge-patch the fields we own if they differ.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote

from modelops_operator.api import API_VERSION, MODEL, MODEL_VERSION
from modelops_operator.diff import covers, owned_by

Action = Literal["created", "updated", "unchanged"]
TIMEOUT = (5, 30)

_PLURALS = {
    ("v1", "Service"): "services",
    ("v1", "Pod"): "pods",
    ("apps/v1", "Deployment"): "deployments",
    (API_VERSION, MODEL.kind): MODEL.plural,
    (API_VERSION, MODEL_VERSION.kind): MODEL_VERSION.plural,
}


class KubeError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status


class NotOwned(Exception):
    """A child with our name exists and belongs to someone else: we leave it alone."""


@dataclass(frozen=True)
class Ref:
    api_version: str
    kind: str
    namespace: str
    name: str = ""

    @classmethod
    def of(cls, manifest: dict[str, Any]) -> Ref:
        meta = manifest["metadata"]
        return cls(
            manifest["apiVersion"], manifest["kind"], meta["namespace"], meta.get("name", "")
        )

    def path(self) -> str:
        prefix = "/api/v1" if self.api_version == "v1" else f"/apis/{self.api_version}"
        path = (
            f"{prefix}/namespaces/{quote(self.namespace)}/{_PLURALS[(self.api_version, self.kind)]}"
        )
        return f"{path}/{quote(self.name)}" if self.name else path


_local = threading.local()


def _client() -> Any:
    """One API client per thread (kopf runs sync handlers in a thread pool)."""
    if not hasattr(_local, "client"):
        from kubernetes import client, config

        try:
            config.load_incluster_config()  # type: ignore[no-untyped-call]
        except config.ConfigException:
            # KUBECONFIG read now: the client library reads it once, when imported.
            config.load_kube_config(config_file=os.environ.get("KUBECONFIG"))  # type: ignore[no-untyped-call]
        _local.client = client.ApiClient()
    return _local.client


def request(
    method: str,
    path: str,
    body: Any = None,
    content_type: str = "application/json",
    query: dict[str, str] | None = None,
) -> dict[str, Any]:
    from kubernetes.client.exceptions import ApiException

    api = _client()
    serialized = api.param_serialize(
        method, path, query_params=list((query or {}).items()), body=body,
        header_params={"Content-Type": content_type, "Accept": "application/json"},
        auth_settings=["BearerToken"],
    )  # fmt: skip
    try:
        response = api.call_api(*serialized, _request_timeout=TIMEOUT)
        response.read()
    except ApiException as err:
        raise KubeError(int(err.status or 0), _message(err.body)) from err
    if response.status >= 400:
        raise KubeError(int(response.status), _message(response.data))
    return dict(json.loads(response.data or b"{}"))


def _message(body: Any) -> str:
    try:
        return str(json.loads(body).get("message", body))
    except (TypeError, ValueError):
        return str(body)


def get(ref: Ref) -> dict[str, Any] | None:
    try:
        return request("GET", ref.path())
    except KubeError as err:
        if err.status == 404:
            return None
        raise


def list_objects(ref: Ref, labels: dict[str, str]) -> list[dict[str, Any]]:
    selector = ",".join(f"{k}={v}" for k, v in labels.items())
    found = request("GET", ref.path(), query={"labelSelector": selector})
    return list(found.get("items") or [])


def ensure(
    desired: dict[str, Any], live: dict[str, Any] | None = None
) -> tuple[Action, dict[str, Any]]:
    """Make the child match ``desired``; ``live`` is its last known state, if any."""
    ref = Ref.of(desired)
    if live is None:
        live = get(ref)
    if live is None:
        try:
            return "created", request(
                "POST", Ref(ref.api_version, ref.kind, ref.namespace).path(), desired
            )
        except KubeError as err:
            if err.status != 409:
                raise
            live = get(ref) or {}
    uid = desired["metadata"]["ownerReferences"][0]["uid"]
    if not owned_by(live, uid):
        raise NotOwned(
            f"{ref.kind} {ref.name} exists and is not owned by this object; delete or rename it"
        )
    if covers(live, desired):
        return "unchanged", live
    return "updated", request("PATCH", ref.path(), desired, "application/merge-patch+json")


def delete(ref: Ref) -> bool:
    try:
        request("DELETE", ref.path(), {"propagationPolicy": "Background"})
    except KubeError as err:
        if err.status == 404:
            return False
        raise
    return True
