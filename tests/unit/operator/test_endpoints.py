"""Where a routed Service's requests go: the pods directly, or the activator."""

from __future__ import annotations

from modelops_contracts.serving import Route
from modelops_operator.endpoints import (
    PROXY,
    SERVE,
    endpoints_manifest,
    endpoints_of,
    mode,
    ready,
)
from modelops_operator.meta import Owner

SLICE = {
    "endpoints": [
        {"addresses": ["10.0.0.2"], "conditions": {"ready": True}, "nodeName": "n",
         "targetRef": {"kind": "Pod", "name": "p2", "namespace": "team"}},
        {"addresses": ["10.0.0.1"], "conditions": {"ready": False, "serving": False}},
    ]
}  # fmt: skip


def test_endpoints_keep_their_conditions():
    found = endpoints_of([SLICE])
    assert [e.ip for e in found] == ["10.0.0.1", "10.0.0.2"]
    assert [e.ip for e in ready(found)] == ["10.0.0.2"]
    assert found[1].pod == "p2"


def test_serve_only_one_version_with_ready_pods():
    assert mode([Route("v1", 100)], True) == SERVE
    assert mode([Route("v1", 100)], False) == PROXY
    assert mode([Route("v1", 90), Route("v2", 10)], True) == PROXY


def test_the_endpoints_are_named_like_their_service_ready_ones_apart():
    owner = Owner("ModelVersion", "ctr-v1", "team", "u")
    manifest = endpoints_manifest(owner, "ctr-v1-predictor", {"a": "b"},
                                  endpoints_of([SLICE]), 8080)  # fmt: skip
    assert (manifest["kind"], manifest["metadata"]["name"]) == ("Endpoints", "ctr-v1-predictor")
    assert manifest["metadata"]["ownerReferences"][0]["name"] == "ctr-v1"
    assert manifest["subsets"] == [
        {
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
            "addresses": [
                {
                    "ip": "10.0.0.2",
                    "nodeName": "n",
                    "targetRef": {"kind": "Pod", "name": "p2", "namespace": "team"},
                }
            ],
            "notReadyAddresses": [{"ip": "10.0.0.1"}],
        }
    ]
    assert endpoints_manifest(owner, "s", {}, [], 8080)["subsets"] == []
