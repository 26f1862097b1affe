"""Errors the data plane turns into HTTP answers.

Each carries the HTTP status a client should see and a message that says what was
expected, so the endpoints translate them without knowing where they came from.
"""


class ModelopsError(Exception):
    """Base for every error that reaches a user with a status and a clear message."""

    status = 500
    reason = "InternalError"


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


class ModelFailed(ModelopsError):
    """The model raised on input that passed validation (a 500, with the model's reason)."""

    status = 500
    reason = "ModelError"


class ArtifactError(Exception):
    """An artifact cannot be fetched, verified or loaded; the message is for the user."""

    def __init__(self, message: str, reason: str = "ArtifactInvalid") -> None:
        super().__init__(message)
        self.reason = reason
