"""Where a selectorless Service's requests go (pure): straight to the ready pods of the
one version it serves ("serve"), or to the activator ("proxy") while that version has no
ready pod or a traffic split is active — Knative's two modes, without Knative.

A Service in serve mode mirrors its version's private EndpointSlices, so kube-proxy takes
requests to the pods with no extra hop; in proxy mode its slice lists the activator's
pods, and its routes annotation tells the activator where each request goes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from modelops_contracts.serving import ROUTES_ANNOTATION, Route, routes_to_json
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
                    node=str(item.get("nodeName", "")),
                )
    return [found[ip] for ip in sorted(found)]


def ready(endpoints: list[Endpoint]) -> list[Endpoint]:
    return [e for e in endpoints if e.ready]


def mode(routes: list[Route], target_ready: bool) -> str:
    """serve when one version takes everything and has a ready pod; else proxy."""
    single = len([r for r in routes if r.percent > 0]) == 1
    return SERVE if single and target_ready else PROXY


def slice_manifest(
    owner: Owner,
    service: str,
    labels: dict[str, str],
    endpoints: list[Endpoint],
    port: int,
) -> dict[str, Any]:
    """The EndpointSlice the operator keeps for ``service``."""
    slice_labels = {
        **labels,
        names.SERVICE_NAME_LABEL: service,
        names.SLICE_MANAGED_BY: names.SLICE_MANAGER,
    }
    items = []
    for e in endpoints:
        item: dict[str, Any] = {
            "addresses": [e.ip],
            "conditions": {"ready": e.ready, "serving": e.serving, "terminating": e.terminating},
        }
        if e.node:
            item["nodeName"] = e.node
        items.append(item)
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": metadata(owner, names.endpoint_slice(service), slice_labels),
        "addressType": "IPv4",
        "endpoints": items,
        "ports": [{"name": "http", "port": port, "protocol": "TCP"}],
    }


def routed_service(
    owner: Owner, name: str, labels: dict[str, str], routes: list[Route]
) -> dict[str, Any]:
    """A Service with no selector: the operator writes its endpoints; the routes
    annotation says where its requests go when they pass through the activator."""
    meta = metadata(owner, name, labels)
    meta["annotations"] = {ROUTES_ANNOTATION: routes_to_json(routes)}
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
