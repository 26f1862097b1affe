"""A stand-in for the API server's TokenReview and SubjectAccessReview, so that the
kubernetes auth mode's decisions and cache can be counted call by call (the real API
server judges the same code in tests/e2e/test_predictor_auth.py and test_serving_auth.py)."""

from __future__ import annotations

import threading
from typing import Any

from modelops_runtime.kube import KubeError

AUDIENCE = "modelops.dev/ads/ctr"
TOKENS = {  # token -> (user, the audiences it is bound to)
    "alice-token": ("alice", [AUDIENCE]),
    "bob-token": ("bob", [AUDIENCE]),
    "alice-cluster-token": ("alice", ["https://kubernetes.default.svc"]),
}


class StubApiServer:
    """Knows three tokens: alice may predict, bob may not, alice's cluster token is bound
    to the API server's audience only; anything else is unknown. Like the API server, a
    review naming audiences authenticates a token only for those it is bound to."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.down = False
        self.gate = threading.Event()
        self.gate.set()

    def request(self, method: str, path: str, body: Any = None, **_: Any) -> Any:
        assert self.gate.wait(10)
        self.calls.append((path, body))
        if self.down:
            raise KubeError("the Kubernetes API server at https://10.0.0.1 did not answer")
        if path.endswith("/tokenreviews"):
            user, bound = TOKENS.get(body["spec"]["token"], (None, []))
            if user is None:
                return {"status": {"authenticated": False, "error": "invalid bearer token"}}
            wanted = body["spec"].get("audiences") or bound
            common = [a for a in bound if a in wanted]
            if not common:
                error = f"token audiences {bound} is invalid for the target audiences {wanted}"
                return {"status": {"authenticated": False, "error": error}}
            return {"status": {"authenticated": True, "user": {"username": user},
                               "audiences": common}}  # fmt: skip
        attributes = body["spec"]["resourceAttributes"]
        assert attributes == {
            "namespace": "ads",
            "verb": "create",
            "group": "modelops.dev",
            "resource": "models",
            "subresource": "predict",
            "name": "ctr",
        }
        return {"status": {"allowed": body["spec"]["user"] == "alice"}}

    def reviews(self) -> int:
        return sum(1 for path, _ in self.calls if path.endswith("/tokenreviews"))
