"""The kubernetes auth mode's decisions and cache. The API server is a stand-in here (a
stub answering TokenReviews and SubjectAccessReviews) so the cache's arithmetic can be
counted call by call; tests/e2e/test_predictor_auth.py runs the same code against the
real API server."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from modelops_runtime.auth import ApiReviewer, KubernetesAuth, TokenReviews
from modelops_runtime.errors import AuthUnavailable, Forbidden, Unauthorized
from tests.stub_api_server import AUDIENCE, StubApiServer


def auth(stub: StubApiServer, **cache: float) -> KubernetesAuth:
    reviews = TokenReviews(ApiReviewer(stub), **cache)  # type: ignore[arg-type]
    return KubernetesAuth("ads", "ctr", reviews)


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


async def test_a_flood_of_new_tokens_is_refused_past_the_reviews_under_way() -> None:
    """Each new token costs a review of the API server: past ``max_pending`` reviews at once
    a new one is a 503 at once (nothing queued), and known tokens still pass."""
    stub = StubApiServer()
    checker = auth(stub, max_pending=2)
    await checker.check(bearer("alice-token"))  # cached before the flood
    stub.gate.clear()
    flood = [asyncio.create_task(checker.check(bearer(f"made-up-{i}"))) for i in range(2)]
    await asyncio.sleep(0.05)
    with pytest.raises(AuthUnavailable, match="2 token reviews are already under way"):
        await checker.check(bearer("made-up-2"))
    await checker.check(bearer("alice-token"))  # from the cache: no review needed
    stub.gate.set()
    for refused in await asyncio.gather(*flood, return_exceptions=True):
        assert isinstance(refused, Unauthorized)
    assert stub.reviews() == 1 + 2


async def test_the_cache_keeps_hashes_not_tokens_and_stays_bounded() -> None:
    checker = auth(StubApiServer(), max_entries=2)
    for token in ("alice-token", "bob-token", "carol-token"):
        with contextlib.suppress(Forbidden, Unauthorized):
            await checker.check(bearer(token))
    assert len(checker.reviews._cache) <= 2
    assert all(b"token" not in key for key in checker.reviews._cache)
