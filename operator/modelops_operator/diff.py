"""Is a child as we last applied it? (pure; the apply layer's decision to write or not)

A child is written again only when what we want of it changed (its digest differs from
the one it carries) or when someone changed a field we set (``covers`` fails). Values
the API server normalises (``0.5`` CPU becomes ``500m``) or drops (an empty string, an
empty map) compare equal, so a steady state causes no writes.
"""

from __future__ import annotations

import hashlib
import json
import re
from decimal import Decimal, InvalidOperation
from typing import Any

_QUANTITY = re.compile(r"^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)([a-zA-Z]*)$")
_SUFFIXES = {
    "": Decimal(1), "n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"),
    "k": Decimal(10**3), "M": Decimal(10**6), "G": Decimal(10**9), "T": Decimal(10**12),
    "P": Decimal(10**15), "E": Decimal(10**18), "Ki": Decimal(2**10), "Mi": Decimal(2**20),
    "Gi": Decimal(2**30), "Ti": Decimal(2**40), "Pi": Decimal(2**50), "Ei": Decimal(2**60),
}  # fmt: skip
EMPTY: tuple[Any, ...] = (None, "", {}, [])


def digest(manifest: dict[str, Any]) -> str:
    """A short fingerprint of a desired manifest."""
    text = json.dumps(manifest, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def quantity(value: Any) -> Decimal | None:
    """A Kubernetes quantity's value (``500m`` → 0.5), or None when it is not one."""
    match = _QUANTITY.match(str(value)) if isinstance(value, str | int | float) else None
    if not match or match.group(2) not in _SUFFIXES:
        return None
    try:
        return Decimal(match.group(1)) * _SUFFIXES[match.group(2)]
    except InvalidOperation:
        return None


def covers(live: Any, desired: Any) -> bool:
    """True when ``live`` holds every value of ``desired``; fields the API server or other
    controllers added (defaults, status, annotations) are ignored. Lists must match item
    by item, so a removed container or env var counts as a difference."""
    if desired in EMPTY and live in EMPTY:
        return True
    if isinstance(desired, dict):
        return isinstance(live, dict) and all(covers(live.get(k), v) for k, v in desired.items())
    if isinstance(desired, list):
        return (
            isinstance(live, list)
            and len(live) == len(desired)
            and all(covers(a, b) for a, b in zip(live, desired, strict=True))
        )
    if live == desired:
        return True
    number = quantity(desired)
    return number is not None and number == quantity(live)


def owned_by(live: dict[str, Any], uid: str) -> bool:
    refs = (live.get("metadata") or {}).get("ownerReferences") or []
    return any(ref.get("uid") == uid and ref.get("controller") for ref in refs)
