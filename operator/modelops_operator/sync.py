"""How a reconcile's outcome reaches the cluster, and the rules every reconcile runs under:
one at a time per object, and transient API failures retried rather than shown.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable, Mapping
from typing import Any, TypeVar

import kopf

from modelops_operator import kube
from modelops_operator.outcome import Outcome

Key = tuple[str, str]
V = TypeVar("V")
COMPONENT = "modelops"
RETRY_DELAY = 5.0
IN_PLACE_DELAYS = (0.5, 2.0)

_log = logging.getLogger("modelops.operator")
_locks: dict[Hashable, threading.Lock] = {}
_locks_guard = threading.Lock()


def first(index: Mapping[Any, Any], key: Any) -> Any:
    """The single value an index holds under ``key``, or None."""
    return next(iter(index.get(key, ())), None)


def serialized(key: Hashable) -> threading.Lock:
    """The lock that keeps two reconciles of one object (say, its own update and a
    child's event, handled on two threads) from interleaving their reads and writes."""
    with _locks_guard:
        return _locks.setdefault(key, threading.Lock())


_written: dict[tuple[str, str, str], tuple[str, dict[str, Any]]] = {}
_written_guard = threading.Lock()


def fresh(body: dict[str, Any]) -> dict[str, Any]:
    """``body`` as an index holds it, with the status this process last wrote to it when
    the index has not seen that write yet. Reconciles run on a child's event and on the
    object's own; without this, the second would judge from the status before the
    first's write, and post the same Event again.

    Whether the index has seen the write is told by resourceVersion order: etcd's
    revisions, which every API server hands out in increasing order (a version that is
    not a number drops the remembered status at once)."""
    meta = body["metadata"]
    key = (str(body.get("kind")), str(meta.get("namespace")), str(meta.get("name")))
    with _written_guard:
        found = _written.get(key)
        if found is None:
            return body
        written, status = found
        seen = str(meta.get("resourceVersion") or "")
        if not (seen.isdigit() and written.isdigit()) or int(seen) >= int(written):
            del _written[key]  # the index has the write (or we cannot tell): trust it
            return body
    return {**body, "status": status}


def deliver(body: dict[str, Any], outcome: Outcome) -> None:
    """Write the outcome: the status fields that changed, then the Events (best effort)."""
    meta = body["metadata"]
    ref = kube.Ref(body["apiVersion"], body["kind"], meta["namespace"], meta["name"])
    if outcome.status:
        try:
            after = kube.patch_status(ref, outcome.status)
        except kube.KubeError as err:
            if err.status != 404:
                raise
            # Deleted since the watch showed it (its namespace going, say): nothing to say.
            _log.info("%s %s/%s is gone: its status is not written", ref.kind, ref.namespace,
                      ref.name)  # fmt: skip
            return
        with _written_guard:
            _written[(ref.kind, ref.namespace, ref.name)] = (
                str(after["metadata"].get("resourceVersion") or ""),
                after.get("status") or {},
            )
    for type_, reason, message in outcome.events:
        try:
            kube.post_event(body, type_, reason, message, COMPONENT)
        except kube.KubeError as err:  # an Event is a courtesy: never retry the reconcile
            _log.warning("could not post Event %s on %s: %s", reason, meta["name"], err)


def retried(step: Callable[[], None], in_place: bool = False) -> None:
    """Run ``step``; a transient API failure is retried, never written as a condition.
    In a change handler kopf retries it (``TemporaryError``); in a watch-event handler,
    which kopf does not retry, it is tried again here a few times, then left to the
    next event or the safety resync."""
    delays = IN_PLACE_DELAYS if in_place else ()
    for attempt in range(len(delays) + 1):
        try:
            step()
            return
        except kube.KubeError as err:
            if not err.transient:
                raise
            if attempt < len(delays):
                time.sleep(delays[attempt])
                continue
            if in_place:
                _log.warning("giving up after transient API errors: %s", err)
                return
            raise kopf.TemporaryError(f"transient API error: {err}", delay=RETRY_DELAY) from err
