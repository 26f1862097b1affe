"""Which objects being deleted still wait on our finalizer (pure)."""

from __future__ import annotations

from typing import Any


def waiting_on(
    items: list[dict[str, Any]], finalizer: str
) -> list[tuple[dict[str, Any], list[str]]]:
    """The items marked for deletion that carry ``finalizer``, each with the finalizers
    it keeps once ours is taken off (another controller's stay)."""
    found = []
    for item in items:
        meta = item.get("metadata") or {}
        finalizers = list(meta.get("finalizers") or [])
        if meta.get("deletionTimestamp") and finalizer in finalizers:
            found.append((item, [f for f in finalizers if f != finalizer]))
    return found
