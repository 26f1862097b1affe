"""Reading back what a pod wrote to its termination log (the fetch verdict, the training
result): one JSON object, each field checked for its type as it is read.

A pod's message is input the operator does not control (a user's image or code can write
it), so nothing here raises on it: a field of the wrong type, a number that is not finite
(``NaN`` and ``Infinity`` parse, and the API server refuses them in a status) or a message
nested past the parser's depth is ``MessageInvalid``, which the readers turn into a
refusal whose reason is ``TerminationMessageInvalid`` and whose message names the field.
"""

from __future__ import annotations

import json
import math
from typing import Any, Final

MESSAGE_INVALID: Final = "TerminationMessageInvalid"
"""The reason of a condition when a pod's termination message is not what it should be."""
EXIT_CODES = range(-255, 256)
"""An exit code as a report gives it: a process's (0 to 255) or a signal's (negative)."""


class MessageInvalid(ValueError):
    """A field of a pod's report does not have the type it must have."""


def report_in(message: str) -> dict[str, Any] | None:
    """The JSON object with a ``reason`` that ``message`` holds; None when it holds none
    (not JSON, not an object, no reason: a process that ended before it reported, whose
    message is then the end of its log)."""
    try:
        data = json.loads(message)
    except (ValueError, RecursionError):  # RecursionError: nested past the parser's depth
        return None
    return data if isinstance(data, dict) and "reason" in data else None


class Fields:
    """Typed reads of one report's fields; a field that is absent (or null) reads as empty,
    one of the wrong type raises ``MessageInvalid`` naming it and what it holds."""

    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data

    def reason(self) -> str:
        value = self._data.get("reason")
        if not isinstance(value, str) or not value:
            raise _invalid("reason", "a non-empty string", value)
        return value

    def text(self, key: str) -> str:
        value = self._data.get(key)
        if value is None:
            return ""
        if not isinstance(value, str):
            raise _invalid(key, "a string", value)
        return value

    def choice(self, key: str, allowed: tuple[str, ...]) -> str:
        value = self.text(key) or allowed[0]
        if value not in allowed:
            raise _invalid(key, f"one of {', '.join(allowed)}", value)
        return value

    def texts(self, key: str) -> dict[str, str]:
        """An object of strings."""
        found = self._object(key)
        for name, value in found.items():
            if not isinstance(value, str):
                raise _invalid(f"{key}.{name}", "a string", value)
        return found

    def numbers(self, key: str) -> dict[str, float]:
        """An object of finite numbers (true and false are not numbers here)."""
        found = self._object(key)
        numbers = {}
        for name, value in found.items():
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise _invalid(f"{key}.{name}", "a number", value)
            try:
                number = float(value)
            except OverflowError:  # an integer past what a float holds
                number = math.inf
            if not math.isfinite(number):
                raise _invalid(f"{key}.{name}", "a finite number", value)
            numbers[name] = number
        return numbers

    def strings(self, key: str) -> tuple[str, ...]:
        """A list of strings."""
        value = self._data.get(key)
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise _invalid(key, "a list of strings", value)
        return tuple(value)

    def exit_code(self, key: str) -> int:
        value = self._data.get(key)
        if value is None:
            return 0
        if not isinstance(value, int) or isinstance(value, bool) or value not in EXIT_CODES:
            raise _invalid(key, "an exit code (an integer from -255 to 255)", value)
        return value

    def _object(self, key: str) -> dict[str, Any]:
        value = self._data.get(key)
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise _invalid(key, "an object", value)
        return value


def _invalid(field: str, expected: str, value: Any) -> MessageInvalid:
    # A list or an object is named by its type: its repr could nest as deep as the parser
    # went, and recurse past what repr can.
    if isinstance(value, list | dict):
        shown = f"a JSON {'array' if isinstance(value, list) else 'object'}"
    else:
        shown = repr(value)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return MessageInvalid(f"{field!r} must be {expected}, not {shown}")
