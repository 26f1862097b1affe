"""The kubernetes auth mode against the real API server: a predictor process checks each
caller's token with a TokenReview and a SubjectAccessReview, authenticating its reviews as
a reviewer account (``system:auth-delegator``) the way a pod uses its own."""

from __future__ import annotations

import http.client
import json
from pathlib import Path

from kubernetes import client

from modelops_contracts.serving import AUTH_MODE_ENV, AUTH_RESOURCE_ENV, STATS_PATH, token_audience
from tests.e2e.conftest import Cluster
from tests.e2e.kube import wait_for
from tests.e2e.runtime_fixtures import ApiServer, ServiceAccount, may
from tests.integration.servers import Server, free_port
from tests.models import Trained


def predict(server: Server, rows: list, token: str | None) -> tuple[int, dict, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    try:
        conn.request("POST", "/v1/models/iris:predict", json.dumps({"instances": rows}), headers)
        response = conn.getresponse()
        return response.status, json.loads(response.read()), dict(response.getheaders())
    finally:
        conn.close()


def get(server: Server, path: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def test_rbac_decides_who_may_predict(
    cluster: Cluster,
    quiet_namespace: str,
    api_server: ApiServer,
    service_account: ServiceAccount,
    iris: Trained,
    tmp_path: Path,
) -> None:
    ns = quiet_namespace
    reviewer = service_account(ns, "predictor", cluster_role="system:auth-delegator")
    predict_on_iris = client.V1PolicyRule(
        api_groups=["modelops.dev"],
        resources=["models/predict"],
        verbs=["create"],
        resource_names=["iris"],
    )
    audience = (token_audience(ns, "iris"),)
    caller = service_account(ns, "caller", rules=[predict_on_iris], audiences=audience).read_text()
    stranger = service_account(ns, "stranger", audiences=audience).read_text()
    # The caller's own token for the API server: RBAC would allow it, its audience does not.
    caller_cluster_token = service_account(ns, "caller-2", rules=[predict_on_iris]).read_text()
    wanted = {"namespace": ns, "verb": "create", "group": "modelops.dev", "resource": "models"}
    wait_for(
        lambda: may(cluster, f"system:serviceaccount:{ns}:caller", ns, wanted | {
            "subresource": "predict", "name": "iris"}),
        timeout=30,
        what="the caller's RoleBinding to reach the authorizer",
    )  # fmt: skip
    env = {AUTH_MODE_ENV: "kubernetes", AUTH_RESOURCE_ENV: f"{ns}/iris", **api_server.env(reviewer)}
    server = Server(str(iris.path), "iris", tmp_path, env=env)
    try:
        server.wait_until_ready()
        allowed = predict(server, iris.rows, caller)
        refused = predict(server, iris.rows, stranger)
        missing = predict(server, iris.rows, None)
        forged = predict(server, iris.rows, caller[:-4] + "AAAA")
        unbound = predict(server, iris.rows, caller_cluster_token)
        open_routes = [get(server, p) for p in ("/v2/health/ready", "/v2/models/iris", STATS_PATH)]
    finally:
        server.stop()
    log = server.log.read_text()
    assert allowed[0] == 200, allowed
    assert allowed[1]["predictions"] == iris.local_predict().tolist()
    assert refused[0] == 403
    assert refused[1]["reason"] == "Forbidden"
    assert (
        f"system:serviceaccount:{ns}:stranger may not predict on Model {ns}/iris"
        in (refused[1]["error"])
    )
    assert f"--audience {audience[0]}" in unbound[1]["error"]
    for unauthenticated in (missing, forged, unbound):
        assert unauthenticated[0] == 401
        assert unauthenticated[2].get("www-authenticate") == "Bearer"
    assert open_routes == [200, 200, 200]
    assert caller not in log  # tokens are never logged
    assert stranger not in log


def test_an_unreachable_api_server_is_a_503_not_a_401(
    api_server: ApiServer, iris: Trained, tmp_path: Path
) -> None:
    token = tmp_path / "token"
    token.write_text("reviewer-token")
    env = {
        AUTH_MODE_ENV: "kubernetes",
        AUTH_RESOURCE_ENV: "ads/iris",
        **api_server.env(token),
        "MODELOPS_KUBE_API": f"https://127.0.0.1:{free_port()}",  # nothing listens there
    }
    server = Server(str(iris.path), "iris", tmp_path, env=env)
    try:
        server.wait_until_ready()
        status, body, _ = predict(server, iris.rows, "some-caller-token")
    finally:
        server.stop()
    assert status == 503
    assert body["reason"] == "AuthUnavailable"
    assert "did not answer" in body["error"]
