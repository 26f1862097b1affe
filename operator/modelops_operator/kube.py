"""The only module that talks to the Kubernetes API.

Children are written with server-side apply under the operator's field manager, so a
field we stop wanting is removed by the API server, and a field someone else set is
left to them. ``apply`` writes only when the desired manifest changed or someone edited
a field we set (see ``diff``). Errors are split in two: ``Refused`` is the API server's
answer about the object itself (invalid, forbidden, over quota: a user must act), every
other failure is ``Transient`` (retried, never shown as the object's fault).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import quote

from modelops_operator.api import API_VERSION, MODEL, MODEL_VERSION, TRAINING_JOB
from modelops_operator.diff import covers, digest, owned_by

Action = Literal["created", "updated", "unchanged"]
FIELD_MANAGER = "modelops"
APPLIED = "modelops.dev/applied"
"""Annotation on each child: the digest of the manifest last applied."""
TIMEOUT = (5, 30)
USER_AGENT = "modelops"
# The API server's verdict on the request itself: retrying the same write will not help.
_REFUSALS = {400, 403, 404, 410, 413, 422}

_PLURALS = {
    ("v1", "Service"): "services",
    ("v1", "Pod"): "pods",
    ("v1", "Event"): "events",
    ("v1", "Endpoints"): "endpoints",
    ("v1", "ServiceAccount"): "serviceaccounts",
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"): "clusterrolebindings",
    ("apps/v1", "Deployment"): "deployments",
    ("batch/v1", "Job"): "jobs",
    ("discovery.k8s.io/v1", "EndpointSlice"): "endpointslices",
    ("batch/v1", "CronJob"): "cronjobs",
    (API_VERSION, MODEL.kind): MODEL.plural,
    (API_VERSION, MODEL_VERSION.kind): MODEL_VERSION.plural,
    (API_VERSION, TRAINING_JOB.kind): TRAINING_JOB.plural,
}


class KubeError(Exception):
    """An API request failed; ``status`` is its HTTP status (0: no answer)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}" if status else message)
        self.status = status
        self.message = message

    @property
    def transient(self) -> bool:
        return self.status not in _REFUSALS


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
            manifest["apiVersion"], manifest["kind"], meta.get("namespace", ""),
            meta.get("name", ""),
        )  # fmt: skip

    def path(self) -> str:
        """The object's path; a cluster-scoped kind has no namespace."""
        prefix = "/api/v1" if self.api_version == "v1" else f"/apis/{self.api_version}"
        plural = _PLURALS[(self.api_version, self.kind)]
        scope = f"/namespaces/{quote(self.namespace)}" if self.namespace else ""
        path = f"{prefix}{scope}/{plural}"
        return f"{path}/{quote(self.name)}" if self.name else path


_local = threading.local()
_INSTANCE = os.environ.get("POD_ID") or os.environ.get("HOSTNAME", "")
"""Which replica posts an Event (its pod's name)."""


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
        _local.client.user_agent = USER_AGENT
    return _local.client


def use_client(api_client: Any) -> None:
    """Talk to the API through ``api_client`` in this thread: a client configured otherwise
    than by the kubeconfig or the pod's account (an Airflow connection's)."""
    _local.client = api_client


def request(
    method: str,
    path: str,
    body: Any = None,
    content_type: str = "application/json",
    query: dict[str, str] | None = None,
    *,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    header_params = {"Content-Type": content_type, "Accept": "application/json", **(headers or {})}
    try:
        status, data = _call(
            _client(), method, path, query=list((query or {}).items()), headers=header_params,
            body=body,
        )  # fmt: skip
    except ApiException as err:
        raise KubeError(int(err.status or 0), _message(err.body)) from err
    except (HTTPError, OSError) as err:
        raise KubeError(0, f"no answer from the API server: {err}") from err
    if status >= 400:
        raise KubeError(status, _message(data))
    return dict(json.loads(data or b"{}"))


def _call(
    api: Any,
    method: str,
    path: str,
    *,
    query: list[tuple[str, str]],
    headers: dict[str, str],
    body: Any,
) -> tuple[int, Any]:
    """One request through either generation of the Kubernetes client: from v37 a call is
    serialized first (``param_serialize``); before, ``call_api`` takes it whole (Airflow's
    Kubernetes provider pins a client below v37)."""
    if hasattr(api, "param_serialize"):
        serialized = api.param_serialize(
            method, path, query_params=query, body=body, header_params=headers,
            auth_settings=["BearerToken"],
        )  # fmt: skip
        response = api.call_api(*serialized, _request_timeout=TIMEOUT)
        response.read()
        return int(response.status), response.data
    raw = api.call_api(
        path, method, query_params=query, header_params=headers, body=body,
        auth_settings=["BearerToken"], _preload_content=False, _request_timeout=TIMEOUT,
    )  # fmt: skip
    return int(raw.status), raw.data


def stream(path: str, query: dict[str, str] | None = None) -> Iterator[bytes]:
    """The body of a GET as it arrives, with no read timeout: a pod's log with
    ``follow=true`` streams until its container ends."""
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    api = _client()
    serialized = api.param_serialize(
        "GET", path, query_params=list((query or {}).items()),
        header_params={"Accept": "*/*"}, auth_settings=["BearerToken"],
    )  # fmt: skip
    try:
        response = api.call_api(*serialized, _request_timeout=(TIMEOUT[0], None))
    except ApiException as err:
        raise KubeError(int(err.status or 0), _message(err.body)) from err
    except (HTTPError, OSError) as err:
        raise KubeError(0, f"no answer from the API server: {err}") from err
    try:
        if response.status >= 400:
            raise KubeError(int(response.status), _message(response.read()))
        yield from response.response.stream(64 * 1024)
    except (HTTPError, OSError) as err:
        raise KubeError(0, f"the stream from the API server broke: {err}") from err
    finally:
        response.response.close()  # a stream left early must not go back to the pool


def _message(body: Any) -> str:
    try:
        return str(json.loads(body).get("message", body))
    except (TypeError, ValueError, AttributeError):
        return str(body)


def get(ref: Ref) -> dict[str, Any] | None:
    try:
        return request("GET", ref.path())
    except KubeError as err:
        if err.status == 404:
            return None
        raise


def apply(desired: dict[str, Any], live: dict[str, Any] | None) -> tuple[Action, dict[str, Any]]:
    """Make a child match ``desired`` (server-side apply, our field manager). ``live`` is
    its last known state from a watch; None means it was not seen, so it is read first:
    a child of that name that we do not own is ``NotOwned``, never overwritten. (An object
    with no owner, shared by a namespace's versions, is only ever applied.)"""
    ref = Ref.of(desired)
    if live is None:
        live = get(ref)
    owners = desired["metadata"].get("ownerReferences") or []
    if owners and live is not None and not owned_by(live, owners[0]["uid"]):
        raise NotOwned(
            f"{ref.kind} {ref.name} exists and is not owned by this object; delete or rename it"
        )
    stamped = _stamped(desired)
    if live is not None and _annotation(live) == _annotation(stamped) and covers(live, desired):
        return "unchanged", live
    result = request(
        "PATCH", ref.path(), stamped, "application/apply-patch+yaml",
        {"fieldManager": FIELD_MANAGER, "force": "true"},
    )  # fmt: skip
    return ("created" if live is None else "updated"), result


def _stamped(desired: dict[str, Any]) -> dict[str, Any]:
    meta = desired["metadata"]
    annotations = {**(meta.get("annotations") or {}), APPLIED: digest(desired)}
    return {**desired, "metadata": {**meta, "annotations": annotations}}


def _annotation(obj: dict[str, Any]) -> str | None:
    return ((obj.get("metadata") or {}).get("annotations") or {}).get(APPLIED)


def create(desired: dict[str, Any]) -> bool:
    """Create an object that is written once (a Job, whose pod template is immutable; a
    version a run produced); False when it exists already."""
    ref = Ref.of(desired)
    try:
        request("POST", Ref(ref.api_version, ref.kind, ref.namespace).path(), desired)
    except KubeError as err:
        if err.status == 409:
            return False
        raise
    return True


def merge_patch(path: str, body: dict[str, Any]) -> dict[str, Any]:
    """A JSON merge patch (a None value removes a field); the object after the write."""
    return request("PATCH", path, body, "application/merge-patch+json")


def set_finalizers(ref: Ref, finalizers: list[str], resource_version: str) -> None:
    """Replace the object's finalizers, if it has not changed since ``resource_version``
    (a conflict is a 409: the caller tries again on its next event)."""
    merge_patch(ref.path(), {"metadata": {"finalizers": finalizers or None,
                                          "resourceVersion": resource_version}})  # fmt: skip


def annotate(ref: Ref, annotations: dict[str, str]) -> None:
    """Add ``annotations`` to the object's metadata (others' stay)."""
    merge_patch(ref.path(), {"metadata": {"annotations": annotations}})


def suspend_job(ref: Ref) -> None:
    """Stop a Job's pods and keep the Job (and its record)."""
    merge_patch(ref.path(), {"spec": {"suspend": True}})


def patch_status(ref: Ref, status: dict[str, Any]) -> dict[str, Any]:
    """Merge ``status`` into the object's status subresource; the object after the write."""
    return merge_patch(ref.path() + "/status", {"status": status})


def delete(ref: Ref, resource_version: str = "") -> bool:
    """Delete an object; False when it is gone already, or (given the version it was seen
    at) when it changed since: someone else deleted it first, or it is being deleted."""
    body: dict[str, Any] = {"propagationPolicy": "Background"}
    if resource_version:
        body["preconditions"] = {"resourceVersion": resource_version}
    try:
        request("DELETE", ref.path(), body)
    except KubeError as err:
        if err.status == 404 or (err.status == 409 and resource_version):
            return False
        raise
    return True


def post_event(
    involved: dict[str, Any], type_: str, reason: str, message: str, component: str
) -> None:
    """A core/v1 Event about ``involved`` (a body with apiVersion, kind and metadata)."""
    meta = involved["metadata"]
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    event = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"generateName": f"{meta['name']}.", "namespace": meta["namespace"]},
        "involvedObject": {
            "apiVersion": involved["apiVersion"],
            "kind": involved["kind"],
            "name": meta["name"],
            "namespace": meta["namespace"],
            "uid": meta.get("uid", ""),
        },
        "type": type_,
        "reason": reason,
        "message": message[:1024],
        "source": {"component": component},
        "reportingComponent": component,
        "reportingInstance": _INSTANCE,
        "firstTimestamp": now,
        "lastTimestamp": now,
        "count": 1,
    }
    request("POST", Ref("v1", "Event", meta["namespace"]).path(), event)
