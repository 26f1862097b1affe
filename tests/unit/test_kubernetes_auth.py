"""The kubernetes auth mode's decisions and cache. The API server is a stand-in here (a
stub answering TokenReviews and SubjectAccessReviews) so the cache's arithmetic can be
counted call by call; tests/e2e/test_predictor_auth.py runs the same code against the
real API server."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from typing import Any

import pytest

from modelops_runtime.auth import KubernetesAuth
from modelops_runtime.errors import AuthUnavailable, Forbidden, Unauthorized
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


def auth(stub: StubApiServer, **cache: float) -> KubernetesAuth:
    return KubernetesAuth("ads", "ctr", stub, **cache)  # type: ignore[arg-type]


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def test_an_allowed_caller_is_reviewed_once_then_cached() -> None:
    stub = StubApiServer()
    checker = auth(stub)
    for _ in range(3):
        await checker.check(bearer("alice-token"))
    assert stub.reviews() == 1


async def test_a_caller_rbac_refuses_gets_a_403_naming_who_and_what() -> None:
    checker = auth(StubApiServer())
    with pytest.raises(Forbidden) as refused:
        await checker.check(bearer("bob-token"))
    message = str(refused.value)
    assert "bob may not predict on Model ads/ctr" in message
    assert "create models/predict" in message


async def test_no_token_or_an_unknown_one_is_a_401_with_a_challenge() -> None:
    checker = auth(StubApiServer())
    with pytest.raises(Unauthorized) as missing:
        await checker.check({})
    with pytest.raises(Unauthorized) as unknown:
        await checker.check(bearer("mallory-token"))
    assert missing.value.headers == (("www-authenticate", "Bearer"),)
    assert "invalid bearer token" in str(unknown.value)
    assert "mallory-token" not in str(unknown.value)


async def test_a_token_not_bound_to_the_models_audience_is_a_401_saying_how_to_get_one():
    """A caller's cluster token (the API server's audience) is refused, though the same
    user may predict: a predictor that accepted it would hold a key to the cluster."""
    stub = StubApiServer()
    checker = auth(stub)
    with pytest.raises(Unauthorized) as refused:
        await checker.check(bearer("alice-cluster-token"))
    assert stub.calls[0][1]["spec"]["audiences"] == [AUDIENCE]
    assert f"--audience {AUDIENCE}" in str(refused.value)
    assert "alice-cluster-token" not in str(refused.value)


async def test_refusals_are_cached_for_less_time_than_permissions() -> None:
    stub = StubApiServer()
    checker = auth(stub, allow_seconds=60, deny_seconds=0)
    await checker.check(bearer("alice-token"))
    await checker.check(bearer("alice-token"))
    for _ in range(2):
        with pytest.raises(Forbidden):
            await checker.check(bearer("bob-token"))
    assert stub.reviews() == 1 + 2  # alice once, bob each time


async def test_an_unreachable_api_server_is_a_503_and_is_not_remembered() -> None:
    stub = StubApiServer()
    stub.down = True
    checker = auth(stub)
    with pytest.raises(AuthUnavailable) as unavailable:
        await checker.check(bearer("alice-token"))
    assert "did not answer" in str(unavailable.value)
    stub.down = False
    await checker.check(bearer("alice-token"))
    assert stub.reviews() == 2


async def test_concurrent_requests_with_one_new_token_share_one_review() -> None:
    stub = StubApiServer()
    stub.gate.clear()
    checker = auth(stub)
    checks = [asyncio.create_task(checker.check(bearer("alice-token"))) for _ in range(5)]
    await asyncio.sleep(0.05)
    stub.gate.set()
    await asyncio.gather(*checks)
    assert stub.reviews() == 1


async def test_the_cache_keeps_hashes_not_tokens_and_stays_bounded() -> None:
    checker = KubernetesAuth("ads", "ctr", StubApiServer(), max_entries=2)  # type: ignore[arg-type]
    for token in ("alice-token", "bob-token", "carol-token"):
        with contextlib.suppress(Forbidden, Unauthorized):
            await checker.check(bearer(token))
    assert len(checker._cache) <= 2
    assert all(b"token" not in key for key in checker._cache)
