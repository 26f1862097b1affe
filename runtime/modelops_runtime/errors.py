"""Errors the data plane turns into HTTP answers.

Each carries the HTTP status a client should see and a message that says what was
expected, so the endpoints translate them without knowing where they came from.
"""


class ModelopsError(Exception):
    """Base for every error that reaches a user with a status and a clear message."""

    status = 500
    reason = "InternalError"
    headers: tuple[tuple[str, str], ...] = ()
    """Headers the answer carries (``WWW-Authenticate`` on a 401)."""


class InvalidInput(ModelopsError):
    """The request does not fit what the model expects (a 400)."""

    status = 400
    reason = "InvalidInput"


class ModelNotFound(ModelopsError):
    """The request names a model this server does not serve (a 404)."""

    status = 404
    reason = "ModelNotFound"


class ModelNotReady(ModelopsError):
    """The model could not be loaded or refused to load (a 503, with why)."""

    status = 503
    reason = "ModelNotReady"


class Draining(ModelopsError):
    """The server was told to stop: not ready, though it still answers for a while."""

    status = 503
    reason = "Draining"


class ModelFailed(ModelopsError):
    """The model raised on input that passed validation (a 500, with the model's reason)."""

    status = 500
    reason = "ModelError"


class Unauthorized(ModelopsError):
    """No credential, or one that is not valid (a 401 that says which scheme to use)."""

    status = 401
    reason = "Unauthorized"

    def __init__(self, message: str, challenge: str = "Bearer") -> None:
        super().__init__(message)
        self.headers = (("www-authenticate", challenge),)


class Forbidden(ModelopsError):
    """A known caller that may not predict on this model (a 403 naming who and what)."""

    status = 403
    reason = "Forbidden"


class AuthUnavailable(ModelopsError):
    """Credentials cannot be checked now (the API server is unreachable, no keys are
    mounted): a 503 with why, never a 401 that would blame the caller."""

    status = 503
    reason = "AuthUnavailable"


class ArtifactError(Exception):
    """An artifact cannot be fetched, verified or loaded; the message is for the user."""

    def __init__(self, message: str, reason: str = "ArtifactInvalid") -> None:
        super().__init__(message)
        self.reason = reason
