"""Where a selectorless Service's requests go (pure): straight to the ready pods of the
one version it serves ("serve"), or to the activator ("proxy") while that version has no
ready pod or a traffic split is active — Knative's two modes, without Knative.

A Service in serve mode lists its version's ready pods (read from the private Service's
EndpointSlices), so kube-proxy takes requests to them with no extra hop; in proxy mode it
lists the activator's pods, and its routes annotation tells the activator where each
request goes. The operator writes a core ``Endpoints`` object: Kubernetes mirrors it into
the EndpointSlices kube-proxy reads, and the API server's service proxy (``modelops
predict``, ``kubectl get --raw .../proxy``) reads it as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from modelops_contracts.serving import AUTH_ANNOTATION, ROUTES_ANNOTATION, Route, routes_to_json
from modelops_operator import names
from modelops_operator.meta import Owner, metadata

SERVE, PROXY = "serve", "proxy"


@dataclass(frozen=True)
class Endpoint:
    """One address of a slice, with its conditions as the slice reports them."""

    ip: str
    ready: bool
    serving: bool = True
    terminating: bool = False
    pod: str = ""
    pod_namespace: str = ""
    node: str = ""


def endpoints_of(slices: list[dict[str, Any]]) -> list[Endpoint]:
    """The endpoints of a Service's slices (the pods' addresses; sorted, duplicates once)."""
    found: dict[str, Endpoint] = {}
    for piece in slices:
        for item in piece.get("endpoints") or []:
            conditions = item.get("conditions") or {}
            ref = item.get("targetRef") or {}
            for ip in item.get("addresses") or []:
                found[ip] = Endpoint(
                    ip=str(ip),
                    ready=conditions.get("ready") is not False,
                    serving=conditions.get("serving") is not False,
                    terminating=bool(conditions.get("terminating")),
                    pod=str(ref.get("name", "")),
                    pod_namespace=str(ref.get("namespace", "")),
                    node=str(item.get("nodeName", "")),
                )
    return [found[ip] for ip in sorted(found)]


def ready(endpoints: list[Endpoint]) -> list[Endpoint]:
    return [e for e in endpoints if e.ready]


def mode(routes: list[Route], target_ready: bool) -> str:
    """serve when one version takes everything and has a ready pod; else proxy."""
    single = len([r for r in routes if r.percent > 0]) == 1
    return SERVE if single and target_ready else PROXY


def endpoints_manifest(
    owner: Owner,
    service: str,
    labels: dict[str, str],
    endpoints: list[Endpoint],
    port: int,
) -> dict[str, Any]:
    """The Endpoints of ``service`` (named like it): ready addresses and the others."""

    def address(e: Endpoint) -> dict[str, Any]:
        found: dict[str, Any] = {"ip": e.ip}
        if e.node:
            found["nodeName"] = e.node
        if e.pod:  # the API server's service proxy goes only to addresses that are pods
            found["targetRef"] = {"kind": "Pod", "name": e.pod, "namespace": e.pod_namespace}
        return found

    subset: dict[str, Any] = {"ports": [{"name": "http", "port": port, "protocol": "TCP"}]}
    ready_ones = [address(e) for e in endpoints if e.ready]
    waiting = [address(e) for e in endpoints if not e.ready]
    if ready_ones:
        subset["addresses"] = ready_ones
    if waiting:
        subset["notReadyAddresses"] = waiting
    return {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": metadata(owner, service, labels),
        "subsets": [subset] if endpoints else [],
    }


def routed_service(
    owner: Owner, name: str, labels: dict[str, str], routes: list[Route], auth: str = "none"
) -> dict[str, Any]:
    """A Service with no selector: the operator writes its endpoints; the routes
    annotation says where its requests go when they pass through the activator, the auth
    one which credential the activator wants before it wakes anything for a request."""
    meta = metadata(owner, name, labels)
    meta["annotations"] = {ROUTES_ANNOTATION: routes_to_json(routes), AUTH_ANNOTATION: auth}
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta,
        "spec": {
            "type": "ClusterIP",
            "ports": [
                {"name": "http", "port": names.SERVICE_PORT, "targetPort": "http",
                 "protocol": "TCP"}
            ],
        },
    }  # fmt: skip
