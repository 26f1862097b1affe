"""What a reconcile decided, and the one step that applies a child.

A reconcile returns an ``Outcome``: the status fields that change and the Events worth
telling the user. ``apply_child`` is the only way a reconcile writes a child; it turns
the API server's refusals into a ``Blocked`` the caller shows as a condition, and lets
transient failures rise (they are retried, never shown as the object's fault).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from modelops_operator import kube


@dataclass
class Outcome:
    """The status patch and the Events (type, reason, message) of one reconcile."""

    status: dict[str, Any] = field(default_factory=dict)
    events: list[tuple[str, str, str]] = field(default_factory=list)

    def note(self, reason: str, message: str, warning: bool = False) -> None:
        self.events.append(("Warning" if warning else "Normal", reason, message))


class Blocked(Exception):
    """A child cannot be applied until a user acts: the reason and message to show."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def apply_child(
    desired: dict[str, Any], live: dict[str, Any] | None, outcome: Outcome, quiet: bool = False
) -> dict[str, Any]:
    """Apply one child, noting an Event when it was created or changed (``quiet``: a
    child that changes as a matter of course, such as the endpoints, gets none)."""
    kind, name = desired["kind"], desired["metadata"]["name"]
    try:
        action, result = kube.apply(desired, live)
    except kube.NotOwned as err:
        raise Blocked("NotOwned", str(err)) from err
    except kube.KubeError as err:
        if err.transient:
            raise
        raise Blocked("ApplyRefused", f"the API server refused {kind} {name}: {err}") from err
    if action != "unchanged" and not quiet:
        outcome.note(action.capitalize(), f"{action} {kind} {name}")
    return result


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
