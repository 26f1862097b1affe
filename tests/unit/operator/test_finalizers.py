"""Objects of a namespace being deleted that still wait on the operator's finalizer."""

from __future__ import annotations

from modelops_operator.finalizers import waiting_on

OURS = "e2e.instances.modelops.dev/finalizer"


def item(name: str, finalizers: list[str], deleting: bool) -> dict:
    meta = {"name": name, "finalizers": finalizers, "resourceVersion": "7"}
    if deleting:
        meta["deletionTimestamp"] = "2026-12-07T16:12:01Z"
    return {"metadata": meta}


def test_only_objects_being_deleted_with_our_finalizer_keep_the_others_finalizers():
    items = [
        item("deleting-ours", [OURS], deleting=True),
        item("deleting-shared", ["backup.example.com/hold", OURS], deleting=True),
        item("deleting-theirs", ["backup.example.com/hold"], deleting=True),
        item("alive-ours", [OURS], deleting=False),
        {"metadata": {"name": "bare"}},
    ]
    found = [(i["metadata"]["name"], kept) for i, kept in waiting_on(items, OURS)]
    assert found == [("deleting-ours", []), ("deleting-shared", ["backup.example.com/hold"])]
