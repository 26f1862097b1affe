"""Who may call predict: enforced by the predictor itself, so no path to a pod bypasses it.

- ``none``: anyone.
- ``apiKey``: a key from a folder (a mounted Secret, one key per file), sent as
  ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``. The folder is read again when
  it changes (the kubelet swaps its ``..data`` link when the Secret changes), so keys
  rotate without a restart. Keys are compared in constant time.
- ``kubernetes``: a bearer token bound to this Model's audience (``token_audience``) that
  the API server vouches for (TokenReview with that audience) of a caller RBAC lets
  ``create`` ``models/predict`` (group ``modelops.dev``) on this Model
  (SubjectAccessReview). In a cluster the activator runs the reviews for the predictor
  (``RemoteReviewer``), so a predictor pod, where model code runs, holds no Kubernetes
  credential; run by hand, the predictor asks the API server itself (``ApiReviewer``).
  Decisions are cached by the token's hash (allowed for a minute, refused for a few
  seconds); the reviews run in threads with a timeout; a reviewer that cannot be reached
  is a 503, never a 401.

Keys and tokens are never logged and never kept, only their hashes.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import os
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from modelops_contracts.serving import (
    API_KEY_HEADER,
    PREDICT_GROUP,
    PREDICT_RESOURCE,
    PREDICT_SUBRESOURCE,
    PREDICT_VERB,
    TOKEN_HEADER,
    token_audience,
)
from modelops_runtime.errors import AuthUnavailable, Forbidden, ModelopsError, Unauthorized
from modelops_runtime.kube import KubeClient, KubeConfig, KubeError
from modelops_runtime.settings import Settings

log = logging.getLogger("modelops.auth")

Guard = Callable[[dict[str, str]], Awaitable[None]]
_KEY_HEADER = API_KEY_HEADER.lower()
_TOKEN_HEADER = TOKEN_HEADER.lower()


def bearer(headers: Mapping[str, str]) -> str:
    """The token of an ``Authorization: Bearer`` header, or ''."""
    value = headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def caller_token(headers: Mapping[str, str]) -> str:
    """A kubernetes-auth caller's token: ``Authorization: Bearer``, else ``TOKEN_HEADER``."""
    return bearer(headers) or headers.get(_TOKEN_HEADER, "").strip()


def guard_for(settings: Settings) -> Guard | None:
    """The check predict routes run first, as the settings ask (None: nobody is checked)."""
    if settings.auth_mode == "apiKey":
        assert settings.api_keys_dir is not None
        return ApiKeys(settings.api_keys_dir).check
    if settings.auth_mode == "kubernetes":
        namespace, model = settings.auth_resource.split("/")
        reviewer: Reviewer = (
            RemoteReviewer(settings.auth_reviewer)
            if settings.auth_reviewer
            else ApiReviewer(KubeClient(KubeConfig.from_env()))
        )
        return KubernetesAuth(namespace, model, TokenReviews(reviewer)).check
    return None


# --- apiKey ------------------------------------------------------------------------------


class ApiKeys:
    """The keys in a folder, read again when the folder changes (checked at most every
    ``recheck_seconds``): a Secret mounted as a volume, rotated by the kubelet."""

    def __init__(self, folder: Path, recheck_seconds: float = 1.0) -> None:
        self.folder = folder
        self._recheck = recheck_seconds
        self._checked = float("-inf")
        self._signature: object = None
        self._keys: tuple[bytes, ...] = ()

    def keys(self) -> tuple[bytes, ...]:
        now = time.monotonic()
        if now - self._checked >= self._recheck:
            self._checked = now
            signature = self._folder_signature()
            if signature != self._signature:
                self._keys = self._read()
                self._signature = signature
                log.info(
                    "API keys read", extra={"folder": str(self.folder), "keys": len(self._keys)}
                )
        return self._keys

    def _folder_signature(self) -> object:
        """What changes when the keys may have: the kubelet's ``..data`` link target, or
        else each file's name, size and modification time."""
        try:
            return os.readlink(self.folder / "..data")
        except OSError:
            pass
        try:
            return tuple(
                sorted(
                    (entry.name, entry.stat().st_mtime_ns, entry.stat().st_size)
                    for entry in os.scandir(self.folder)
                    if not entry.name.startswith(".")
                )
            )
        except OSError:
            return None

    def _read(self) -> tuple[bytes, ...]:
        keys = []
        try:
            entries = sorted(os.scandir(self.folder), key=lambda e: e.name)
        except OSError:
            return ()
        for entry in entries:
            if entry.name.startswith(".") or not entry.is_file():
                continue  # the kubelet's ..data and timestamped folders
            try:
                key = Path(entry.path).read_bytes().strip()
            except OSError:
                continue
            if key:
                keys.append(key)
        return tuple(keys)

    async def check(self, headers: dict[str, str]) -> None:
        given = bearer(headers) or headers.get(_KEY_HEADER, "").strip()
        if not given:
            raise Unauthorized(
                f"this model needs an API key: send 'Authorization: Bearer <key>' or "
                f"'{API_KEY_HEADER}: <key>'"
            )
        keys = self.keys()
        if not keys:
            raise AuthUnavailable(
                f"the predictor has no API key to check against: {self.folder} holds none "
                f"(is the Secret mounted there?)"
            )
        candidate = given.encode()
        match = False
        for key in keys:  # every key, always: the time taken says nothing about which
            match |= hmac.compare_digest(candidate, key)
        if not match:
            raise Unauthorized("the API key is not valid for this model")


# --- kubernetes --------------------------------------------------------------------------


class Reviewer(Protocol):
    def review(self, namespace: str, model: str, token: str) -> ModelopsError | None:
        """In a thread: None when the token's caller may predict on the Model, else the
        refusal to answer. Raises AuthUnavailable when it cannot tell."""


@dataclass(frozen=True)
class Decision:
    refusal: ModelopsError | None
    expires: float


class TokenReviews:
    """A reviewer's decisions, answered from a short cache keyed by the sha256 of the Model
    and the token; concurrent requests with the same new token share one review."""

    def __init__(
        self,
        reviewer: Reviewer,
        *,
        allow_seconds: float = 60.0,
        deny_seconds: float = 5.0,
        max_entries: int = 10_000,
        max_pending: int = 256,
    ) -> None:
        self._reviewer = reviewer
        self._allow_seconds, self._deny_seconds = allow_seconds, deny_seconds
        self._max_entries = max_entries
        self._max_pending = max_pending
        """Distinct reviews under way at once: a flood of made-up tokens (each a review of
        the API server) is refused past it rather than queued without end."""
        self._cache: dict[bytes, Decision] = {}
        self._pending: dict[bytes, asyncio.Future[Decision]] = {}
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="auth-review")

    async def decide(self, namespace: str, model: str, token: str) -> ModelopsError | None:
        key = hashlib.sha256(f"{namespace}/{model}\0{token}".encode()).digest()
        decision = self._cache.get(key)
        if decision is None or decision.expires <= time.monotonic():
            decision = await self._decide(key, namespace, model, token)
        return decision.refusal

    async def _decide(self, key: bytes, namespace: str, model: str, token: str) -> Decision:
        pending = self._pending.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        if len(self._pending) >= self._max_pending:
            raise AuthUnavailable(
                f"{len(self._pending)} token reviews are already under way; try again shortly"
            )
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Decision] = loop.create_future()
        self._pending[key] = future
        try:
            refusal = await loop.run_in_executor(
                self._pool, self._reviewer.review, namespace, model, token
            )
            ttl = self._allow_seconds if refusal is None else self._deny_seconds
            decision = Decision(refusal, time.monotonic() + ttl)
            self._remember(key, decision)
            future.set_result(decision)
            return decision
        except BaseException as err:
            future.set_exception(err)
            future.exception()  # retrieved: whoever shares it gets it raised
            raise
        finally:
            del self._pending[key]

    def _remember(self, key: bytes, decision: Decision) -> None:
        cache = self._cache
        if len(cache) >= self._max_entries:
            now = time.monotonic()
            for stale in [k for k, d in cache.items() if d.expires <= now]:
                del cache[stale]
            while len(cache) >= self._max_entries:
                del cache[next(iter(cache))]  # the oldest
        cache[key] = decision

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


class KubernetesAuth:
    """The predictor's check: the caller's bearer token, decided for this Model by
    ``reviews`` (a reviewer behind a cache)."""

    def __init__(self, namespace: str, model: str, reviews: TokenReviews) -> None:
        self.namespace, self.model = namespace, model
        self.reviews = reviews

    async def check(self, headers: dict[str, str]) -> None:
        token = caller_token(headers)
        if not token:
            raise Unauthorized(
                "this model needs a Kubernetes bearer token: send 'Authorization: Bearer "
                "<token>' (for example a service account token from 'kubectl create token')"
            )
        refusal = await self.reviews.decide(self.namespace, self.model, token)
        if refusal is not None:
            raise refusal

    def close(self) -> None:
        self.reviews.close()


class ApiReviewer:
    """Reviews with the API server: TokenReview for the Model's audience, then
    SubjectAccessReview of ``create models/predict`` on the Model. The account that runs
    it needs ``system:auth-delegator``: in a cluster, the activator's (never a predictor
    pod's, where model code runs)."""

    def __init__(self, client: KubeClient, timeout: float = 5.0) -> None:
        self._client = client
        self._timeout = timeout

    def review(self, namespace: str, model: str, token: str) -> ModelopsError | None:
        audience = token_audience(namespace, model)
        try:
            review = self._client.request(
                "POST",
                "/apis/authentication.k8s.io/v1/tokenreviews",
                {
                    "apiVersion": "authentication.k8s.io/v1",
                    "kind": "TokenReview",
                    "spec": {"token": token, "audiences": [audience]},
                },
                timeout=self._timeout,
            )
            status = review.get("status") or {}
            if not status.get("authenticated") or audience not in (status.get("audiences") or []):
                why = status.get("error") or "the API server does not recognise it"
                return Unauthorized(
                    f"the bearer token was not accepted: {why}; a token for this model is "
                    f"bound to the audience {audience} (kubectl create token ACCOUNT "
                    f"--audience {audience})"
                )
            user = status.get("user") or {}
            username = str(user.get("username", ""))
            access = self._client.request(
                "POST",
                "/apis/authorization.k8s.io/v1/subjectaccessreviews",
                {
                    "apiVersion": "authorization.k8s.io/v1",
                    "kind": "SubjectAccessReview",
                    "spec": {
                        "user": username,
                        "uid": user.get("uid", ""),
                        "groups": user.get("groups") or [],
                        "extra": user.get("extra") or {},
                        "resourceAttributes": {
                            "namespace": namespace,
                            "verb": PREDICT_VERB,
                            "group": PREDICT_GROUP,
                            "resource": PREDICT_RESOURCE,
                            "subresource": PREDICT_SUBRESOURCE,
                            "name": model,
                        },
                    },
                },
                timeout=self._timeout,
            )
        except KubeError as err:
            log.error("cannot check a caller's token", extra={"error": str(err)})
            raise AuthUnavailable(
                f"cannot check the caller's token now: {err}; try again shortly"
            ) from err
        allowed = (access.get("status") or {}).get("allowed")
        if allowed:
            return None
        reason = (access.get("status") or {}).get("reason") or ""
        return Forbidden(
            f"{username} may not predict on Model {namespace}/{model}: RBAC must "
            f"allow it to {PREDICT_VERB} {PREDICT_RESOURCE}/{PREDICT_SUBRESOURCE} "
            f"(group {PREDICT_GROUP}) named {model} in namespace {namespace}"
            + (f" ({reason})" if reason else "")
        )


_REFUSALS: dict[int, type[ModelopsError]] = {401: Unauthorized, 403: Forbidden}


class RemoteReviewer:
    """Reviews by the activator (``REVIEW_PATH`` on its admin port): the predictor pod needs
    no Kubernetes credential at all. The activator answers only for the Model named and
    says no more than calling the Model with the token would."""

    def __init__(self, url: str, timeout: float = 5.0) -> None:
        self.url = url
        self._timeout = timeout

    def review(self, namespace: str, model: str, token: str) -> ModelopsError | None:
        body = json.dumps({"namespace": namespace, "model": model, "token": token}).encode()
        request = urllib.request.Request(
            self.url, body, {"content-type": "application/json"}, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as answer:
                found = json.loads(answer.read())
        except (OSError, ValueError) as err:  # URLError and HTTPError are OSErrors
            why = _reviewer_failure(err)
            log.error("cannot check a caller's token", extra={"error": why})
            raise AuthUnavailable(
                f"cannot check the caller's token now: {why}; try again shortly"
            ) from err
        if found.get("allowed") is True:
            return None
        refusal = _REFUSALS.get(found.get("status"), Unauthorized)
        return refusal(str(found.get("error") or "the token was not accepted"))


def _reviewer_failure(err: Exception) -> str:
    if isinstance(err, urllib.error.HTTPError):
        detail = err.read()[:300].decode("utf-8", "replace")
        return f"the token reviewer answered {err.code}: {detail}"
    return f"the token reviewer did not answer: {err}"
