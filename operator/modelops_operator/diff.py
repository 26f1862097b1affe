"""Does a live object already have every field we set? (pure; the apply layer's test)."""

from __future__ import annotations

from typing import Any


def covers(live: Any, desired: Any) -> bool:
    """True when ``live`` holds every value of ``desired``; fields the API server or other
    controllers added (defaults, status, annotations) are ignored. Lists must match item
    by item, so a removed container or env var counts as a difference."""
    if isinstance(desired, dict):
        return isinstance(live, dict) and all(covers(live.get(k), v) for k, v in desired.items())
    if isinstance(desired, list):
        return (
            isinstance(live, list)
            and len(live) == len(desired)
            and all(covers(a, b) for a, b in zip(live, desired, strict=True))
        )
    return bool(live == desired)


def owned_by(live: dict[str, Any], uid: str) -> bool:
    refs = (live.get("metadata") or {}).get("ownerReferences") or []
    return any(ref.get("uid") == uid and ref.get("controller") for ref in refs)
