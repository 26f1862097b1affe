"""A Model's decisions: the serving version, retention, its Service and its status."""

from __future__ import annotations

from modelops_contracts.serving import Route
from modelops_operator import names
from modelops_operator.api.model import TrafficTarget
from modelops_operator.conditions import Observation
from modelops_operator.meta import Owner
from modelops_operator.model.builders import model_service
from modelops_operator.model.status import (
    VersionSummary,
    expired,
    model_status,
    serving_version,
)

APPLIED = Observation.true("ServiceReady", "Applied", "routes")

V1 = VersionSummary("ctr-v1", "2026-01-01T00:00:01Z", ready=True)
V2 = VersionSummary("ctr-v2", "2026-01-01T00:00:02Z", ready=True)
V3 = VersionSummary("ctr-v3", "2026-01-01T00:00:03Z", ready=False)


def test_newest_ready_version_serves():
    assert serving_version(None, [V1, V2, V3]) == "ctr-v2"
    assert serving_version(None, [V3]) is None
    assert serving_version(None, []) is None


def test_pin_wins_even_when_not_ready_or_missing():
    assert serving_version("ctr-v1", [V1, V2]) == "ctr-v1"
    assert serving_version("ctr-v3", [V1, V2, V3]) == "ctr-v3"
    assert serving_version("ctr-v9", [V1]) == "ctr-v9"


def test_retention_keeps_the_newest_and_what_serves():
    assert expired([V1, V2, V3], None, set()) == []
    assert expired([V1, V2, V3], 2, set()) == ["ctr-v1"]
    assert expired([V3, V1, V2], 1, set()) == ["ctr-v1", "ctr-v2"]
    assert expired([V1, V2, V3], 1, {"ctr-v1"}) == ["ctr-v2"]
    assert expired([V1], 5, set()) == []


def status(pin=None, versions=(V1, V2, V3), traffic=(), current=None, service=APPLIED):
    return model_status(
        pin=pin, traffic=traffic, versions=list(versions), service=service, url="http://ctr",
        current=current or {}, generation=2, now="2026-01-01T00:00:00Z",
    )  # fmt: skip


def condition_of(found, type_):
    return next(c for c in found["conditions"] if c["type"] == type_)


def ready_of(found):
    return condition_of(found, "Ready")


def test_status_of_a_serving_model():
    found = status()
    assert found["servingVersion"] == "ctr-v2"
    assert found["url"] == "http://ctr"
    assert (found["versions"], found["readyVersions"]) == (3, 2)
    assert ready_of(found)["status"] == "True"
    assert "newest Ready" in condition_of(found, "ServingVersionReady")["message"]
    assert [c["type"] for c in found["conditions"]] == [
        "ServingVersionReady", "ServiceReady", "Ready",
    ]  # fmt: skip


def test_status_without_a_ready_version():
    found = status(versions=[V3])
    assert found["servingVersion"] is None
    assert found["url"] is None
    assert ready_of(found)["reason"] == "NoReadyVersion"


def test_status_of_bad_pins():
    assert ready_of(status(pin="ctr-v3"))["reason"] == "PinnedVersionNotReady"
    assert ready_of(status(pin="ctr-v9"))["reason"] == "PinnedVersionMissing"
    pinned = condition_of(status(pin="ctr-v1"), "ServingVersionReady")
    assert pinned["message"].startswith("ctr-v1 serves")


def test_a_refused_service_fails_ready_with_its_reason():
    refused = Observation.false("ServiceReady", "NotOwned", "Service ctr is not ours")
    found = status(service=refused)
    assert (ready_of(found)["status"], ready_of(found)["reason"]) == ("False", "NotOwned")


def test_a_split_waiting_for_its_candidate_informs_without_deciding_ready():
    split = (TrafficTarget("ctr-v1", 90), TrafficTarget("ctr-v2", 10))
    found = model_status(
        pin=None, traffic=split, versions=[V1, V2], service=APPLIED, url="u", current={},
        generation=1, now="t", serving="ctr-v1", routes=[Route("ctr-v1", 100)],
    )  # fmt: skip
    traffic = condition_of(found, "TrafficSplit")
    assert (traffic["status"], traffic["reason"]) == ("Unknown", "WaitingForPods")
    assert traffic["severity"] == "Info"
    assert ready_of(found)["status"] == "True"
    assert found["traffic"] == [{"version": "ctr-v1", "percent": 100}]
    assert condition_of(found, "ServingVersionReady")["message"] == (
        "ctr-v1 serves the model (the stable version of the split)"
    )
    cleared = status(current=found)
    assert all(c["type"] != "TrafficSplit" for c in cleared["conditions"])


def test_a_rollout_that_reached_all_the_traffic_says_so_not_that_the_stable_waits_for_pods():
    split = (TrafficTarget("ctr-v1", 90), TrafficTarget("ctr-v2", 10))
    done = {"phase": "Succeeded", "candidate": "ctr-v2", "stable": "ctr-v1", "step": 2}
    found = model_status(
        pin=None, traffic=split, versions=[V1, V2], service=APPLIED, url="u", current={},
        generation=1, now="t", serving="ctr-v1", routes=[Route("ctr-v2", 100)], rollout=done,
    )  # fmt: skip
    traffic = condition_of(found, "TrafficSplit")
    assert (traffic["status"], traffic["reason"]) == ("True", "RolloutSucceeded")
    assert traffic["message"] == "ctr-v2 passed every step; in effect: ctr-v2 100%"


def test_model_service_follows_the_serving_version():
    owner = Owner("Model", "ctr", "team", "uid-m")
    service = model_service(owner, [Route("ctr-v2", 90), Route("ctr-v3", 10)])
    assert service["metadata"]["name"] == "ctr"
    assert service["metadata"]["ownerReferences"][0]["kind"] == "Model"
    assert "selector" not in service["spec"]
    assert service["metadata"]["labels"][names.MODEL_LABEL] == "ctr"
    assert service["metadata"]["annotations"]["modelops.dev/routes"] == (
        '[{"version":"ctr-v2","percent":90},{"version":"ctr-v3","percent":10}]'
    )
