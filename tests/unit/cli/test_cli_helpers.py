"""The deploy CLI's pure parts: version names, framework detection, instances, tables."""

from __future__ import annotations

import json

import pytest

from modelops_cli.deploy_command import framework_of
from modelops_cli.errors import CommandError
from modelops_cli.predict_command import read_instances
from modelops_cli.resources import not_found, version_name
from modelops_cli.versions_command import rows
from modelops_operator.api import MODEL, MODEL_VERSION, TRAINING_JOB


def test_version_names():
    assert version_name("ctr", "v4") == "ctr-v4"
    assert version_name("ctr", "ctr-v4") == "ctr-v4"


def test_framework_of_saved_models(ctr, iris, booster_json):
    assert framework_of(ctr.path, "joblib") == "xgboost"
    assert framework_of(iris.path, "joblib") == "sklearn"
    assert framework_of(booster_json.path, "xgboost-json") == "xgboost"


def test_read_instances(tmp_path):
    rows_file = tmp_path / "rows.json"
    rows_file.write_text(json.dumps([[1, 2]]))
    assert read_instances(rows_file) == [[1, 2]]
    rows_file.write_text(json.dumps({"instances": [{"a": 1}]}))
    assert read_instances(rows_file) == [{"a": 1}]
    rows_file.write_text(json.dumps({"rows": []}))
    with pytest.raises(CommandError, match="JSON list"):
        read_instances(rows_file)
    with pytest.raises(CommandError, match="cannot read"):
        read_instances(tmp_path / "missing.json")


def test_versions_table_marks_the_serving_version():
    model = {"spec": {"defaultVersion": "ctr-v1"}, "status": {"servingVersion": "ctr-v1"}}
    ready = {"type": "Ready", "status": "True", "reason": "Serving"}
    v1_status = {"phase": "Ready", "conditions": [ready]}
    versions = [
        {"metadata": {"name": "ctr-v1", "creationTimestamp": "t1"}, "status": v1_status},
        {"metadata": {"name": "ctr-v2", "creationTimestamp": "t2"}},
    ]
    table = rows(model, versions)
    assert table[0][0] == "VERSION"
    assert table[1][:4] == ["ctr-v1", "pinned", "Ready", "True"]
    assert table[2][:2] == ["ctr-v2", ""]


def test_serving_message():
    from modelops_cli.deploy_command import serving_message

    serving = {
        "metadata": {"name": "ctr"},
        "status": {"servingVersion": "ctr-v2", "url": "http://u"},
    }
    assert serving_message(serving, "ctr-v2") == "Model ctr serves ctr-v2 at http://u"
    pinned = {"metadata": {"name": "ctr"}, "spec": {"defaultVersion": "ctr-v1"}, "status": {}}
    assert "pinned version ctr-v1" in serving_message(pinned, "ctr-v2")
    assert "does not serve ctr-v2 yet" in serving_message({"metadata": {"name": "ctr"}}, "ctr-v2")


def test_a_missing_name_is_answered_with_what_exists_and_what_to_do():
    assert not_found(MODEL, "ads", "nope", ["ctr", "iris"]) == (
        "no Model `nope` in namespace `ads`; the Models there: ctr, iris "
        "(check the name, or give the Model's namespace with -n)"
    )
    assert not_found(MODEL, "ads", "nope", []) == (
        "no Model `nope` in namespace `ads`; there are no Models "
        "(deploy one with: modelops deploy FILE --model NAME -n ads)"
    )
    assert not_found(MODEL_VERSION, "ads", "ctr-v9", [], model="ctr") == (
        "no version `ctr-v9` of Model `ctr` in namespace `ads`; Model `ctr` has no versions "
        "(add one with: modelops deploy FILE --model ctr -n ads)"
    )
    many = not_found(TRAINING_JOB, "ads", "x", [f"t{i:02}" for i in range(25)])
    assert "t19 and 5 more (modelops train list -n ads shows them)" in many


@pytest.mark.parametrize(
    ("mode", "sent"),
    [("none", {}), ("apiKey", {"X-API-Key": "team-key"}),
     ("kubernetes", {"X-Modelops-Token": "audience-token"})],
)  # fmt: skip
def test_predict_sends_only_the_credential_the_model_asks_for(mode, sent):
    """The API key never goes to a Model that asks for none, nor a token to one that does
    not ask for a Kubernetes token."""
    import argparse

    from modelops_cli import predict_command

    args = argparse.Namespace(api_key="team-key", token="audience-token", service_account=None)
    assert predict_command.credentials(args, "ads", "ctr", mode) == sent


def test_predict_never_falls_back_to_the_kubeconfigs_token():
    """With no token and no service account, a kubernetes Model is a clear error saying how
    to get a token for its audience, not the kubeconfig user's token sent to its pods."""
    import argparse

    from modelops_cli import predict_command
    from modelops_cli.errors import CommandError

    args = argparse.Namespace(api_key=None, token=None, service_account=None)
    with pytest.raises(CommandError) as refused:
        predict_command.credentials(args, "ads", "ctr", "kubernetes")
    assert "kubectl create token ACCOUNT -n ads --audience modelops.dev/ads/ctr" in str(
        refused.value
    )
