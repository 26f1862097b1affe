"""A reconcile that runs before the watch has brought back the last status write judges
from that write, not from the older status the index still holds."""

from __future__ import annotations

from typing import Any

import pytest

from modelops_operator import kube, sync
from modelops_operator.outcome import Outcome


def body(rv: str, status: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "modelops.dev/v1alpha1",
        "kind": "ModelVersion",
        "metadata": {"namespace": "ns", "name": f"iris-v{rv}", "resourceVersion": rv},
        "status": status,
    }


@pytest.fixture
def written(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """kube.patch_status answered as the API server does: the object after the write,
    with a later resourceVersion (no cluster in unit tests)."""
    writes: list[dict[str, Any]] = []

    def patch_status(ref: kube.Ref, status: dict[str, Any]) -> dict[str, Any]:
        writes.append(status)
        return {"metadata": {"resourceVersion": "12"}, "status": {"phase": "Verifying"}}

    monkeypatch.setattr(kube, "patch_status", patch_status)
    monkeypatch.setattr(kube, "post_event", lambda *args, **kwargs: None)
    return writes


def test_a_stale_body_gets_the_written_status_until_the_index_catches_up(
    written: list[dict[str, Any]],
) -> None:
    judged = body("10", {"phase": "Pending"})
    sync.deliver(judged, Outcome(status={"phase": "Verifying"}))
    assert written == [{"phase": "Verifying"}]
    assert sync.fresh(judged)["status"] == {"phase": "Verifying"}
    # A write in between (kopf's own annotations, say) reaches the index before ours.
    stale = body("10", {"phase": "Pending"})
    stale["metadata"]["resourceVersion"] = "11"
    assert sync.fresh(stale)["status"] == {"phase": "Verifying"}
    caught_up = body("10", {"phase": "Verifying"})
    caught_up["metadata"]["resourceVersion"] = "12"
    assert sync.fresh(caught_up) is caught_up
    # Once the index has it, the remembered status is dropped: a later change by
    # someone else (rv 13) is never hidden by it, nor is a stale body after that.
    assert sync.fresh(stale) is stale


def test_a_resource_version_that_is_not_a_number_trusts_the_index(
    written: list[dict[str, Any]],
) -> None:
    odd = body("11", {"phase": "Pending"})
    sync.deliver(odd, Outcome(status={"phase": "Verifying"}))
    odd["metadata"]["resourceVersion"] = "a1"
    assert sync.fresh(odd) is odd


def test_an_object_deleted_since_the_watch_showed_it_is_left_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Its status write finds it gone (404): no error for the handler, and no Event."""
    events: list[str] = []

    def gone(ref: kube.Ref, status: dict[str, Any]) -> dict[str, Any]:
        raise kube.KubeError(404, f'modelversions.modelops.dev "{ref.name}" not found')

    monkeypatch.setattr(kube, "patch_status", gone)
    monkeypatch.setattr(kube, "post_event", lambda _body, _type, reason, *_: events.append(reason))
    sync.deliver(
        body("5", {}), Outcome(status={"phase": "Ready"}, events=[("Normal", "Ready", "")])
    )
    assert events == []


def test_a_refused_status_write_still_fails_the_reconcile(monkeypatch: pytest.MonkeyPatch) -> None:
    def refused(ref: kube.Ref, status: dict[str, Any]) -> dict[str, Any]:
        raise kube.KubeError(422, "status.phase: Unsupported value")

    monkeypatch.setattr(kube, "patch_status", refused)
    with pytest.raises(kube.KubeError):
        sync.deliver(body("6", {}), Outcome(status={"phase": "Odd"}))
