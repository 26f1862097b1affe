"""The activator's token review route (``REVIEW_PATH`` on its admin port): predictors of
Models with ``kubernetes`` auth send a caller's token here instead of holding an account
that may review tokens themselves (``system:auth-delegator``), since model code runs in
their pods. The answer is only about the Model named, and says no more than calling that
Model with the token would."""

from __future__ import annotations

import json
import re

from modelops_contracts.serving import REVIEW_PATH
from modelops_runtime.activator.listener import error_answer
from modelops_runtime.activator.upstream import Answer
from modelops_runtime.auth import TokenReviews
from modelops_runtime.errors import AuthUnavailable

_NAME = re.compile(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?")
"""A Kubernetes object name (RFC 1123 subdomain): what a namespace and a Model are."""
_MAX_TOKEN_CHARS = 16 * 1024


def _asked(body: bytes) -> tuple[str, str, str] | None:
    """(namespace, model, token) from the request's JSON body, or None when malformed."""
    try:
        asked = json.loads(body)
    except ValueError:
        return None
    if not isinstance(asked, dict):
        return None
    namespace, model, token = (asked.get(k) for k in ("namespace", "model", "token"))
    if not (isinstance(namespace, str) and _NAME.fullmatch(namespace)):
        return None
    if not (isinstance(model, str) and _NAME.fullmatch(model)):
        return None
    if not (isinstance(token, str) and 0 < len(token) <= _MAX_TOKEN_CHARS):
        return None
    return namespace, model, token


async def review_answer(reviews: TokenReviews | None, method: bytes, body: bytes) -> Answer:
    """The answer to one review request (the decision itself is always a 200)."""
    if method != b"POST":
        return error_answer(405, "MethodNotAllowed", f"{REVIEW_PATH} takes POST",
                            [(b"allow", b"POST")])  # fmt: skip
    if reviews is None:
        return error_answer(503, "AuthUnavailable", "this activator reviews no tokens: it "
                            "runs from a static file, without an API server")  # fmt: skip
    asked = _asked(body)
    if asked is None:
        return error_answer(400, "InvalidReview", 'the body must be JSON {"namespace": name, '
                            '"model": name, "token": the caller\'s token}')  # fmt: skip
    try:
        refusal = await reviews.decide(*asked)
    except AuthUnavailable as err:
        return error_answer(503, "AuthUnavailable", str(err))
    if refusal is None:
        found: dict[str, object] = {"allowed": True}
    else:
        found = {"allowed": False, "status": refusal.status, "reason": refusal.reason,
                 "error": str(refusal)}  # fmt: skip
    body = json.dumps(found).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    return Answer(200, headers, body)
