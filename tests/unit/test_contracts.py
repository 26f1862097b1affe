"""The fetch verdict: one definition, written by the pod, read by the operator."""

from __future__ import annotations

import json

import pytest

from modelops_contracts.serving import PodStats
from modelops_contracts.verdict import TERMINATION_MESSAGE_LIMIT, Verdict


def test_a_verdict_survives_the_termination_message():
    sent = Verdict(
        reason="Verified", framework="sklearn", format="joblib", sha256="ab" * 32,
        recorded_versions={"sklearn": "1.7.2"}, runtime_versions={"sklearn": "1.7.2"},
        metrics={"auc": 0.91}, version_problems=("numpy 1 vs 2",),
    )  # fmt: skip
    assert Verdict.from_termination(sent.termination_message(), 0) == sent


def test_a_refusal_names_the_condition_it_speaks_to():
    assert Verdict.refused("ChecksumMismatch", "x").condition == "ArtifactVerified"
    assert Verdict.refused("VersionMismatch", "x").condition == "RuntimeCompatible"
    back = Verdict.from_termination(Verdict.refused("VersionMismatch", "1.5 vs 1.7").to_json(), 1)
    assert (back.reason, back.condition, back.verified) == (
        "VersionMismatch",
        "RuntimeCompatible",
        False,
    )


def test_a_long_refusal_is_cut_to_what_the_kubelet_keeps_and_stays_json():
    long = Verdict.refused("ArtifactInvalid", "x" * 10_000)
    message = long.termination_message()
    assert len(message) <= TERMINATION_MESSAGE_LIMIT
    assert json.loads(message)["reason"] == "ArtifactInvalid"


def test_a_crash_before_the_verdict_is_quoted():
    found = Verdict.from_termination("Traceback ...\nMemoryError", 137)
    assert (found.reason, found.verified) == ("VerificationFailed", False)
    assert found.message.endswith("MemoryError")


def test_pod_stats_survive_their_json():
    stats = PodStats(in_flight=3, requests=10, last_request=1_765_000_000.5, started=1.0)
    assert PodStats.from_json(stats.to_json()) == stats


@pytest.mark.parametrize(
    "changed",
    [
        {"in_flight": None},
        {"in_flight": "3"},
        {"in_flight": -1},
        {"in_flight": 2.5},
        {"requests": True},
        {"last_request": float("inf")},
        {"last_request": float("nan")},
        {"started": -5},
        {"draining": "yes"},
    ],
)
def test_pod_stats_a_pod_could_forge_are_a_value_error(changed):
    """A predictor pod runs its model's code: what it reports to the autoscaler is input,
    and a bad field must be the ValueError the reader skips, never a TypeError that would
    stop the version's autoscaler."""
    body = {"in_flight": 1, "requests": 2, "last_request": 3.0, "started": 4.0} | changed
    with pytest.raises(ValueError, match=next(iter(changed))):
        PodStats.from_json(json.dumps(body))
    with pytest.raises(ValueError, match="a JSON object"):
        PodStats.from_json("[1, 2]")
