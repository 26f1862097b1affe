"""The apply layer's comparison, and the operator's settings."""

from __future__ import annotations

import pytest

from modelops_operator.diff import covers, owned_by
from modelops_operator.kube import Ref
from modelops_operator.settings import Settings


def test_server_added_fields_do_not_count():
    desired = {"spec": {"replicas": 1, "template": {"containers": [{"name": "a", "image": "x"}]}}}
    container = {"name": "a", "image": "x", "imagePullPolicy": "IfNotPresent"}
    live = {
        "metadata": {"resourceVersion": "7"},
        "spec": {"replicas": 1, "strategy": {}, "template": {"containers": [container]}},
        "status": {"readyReplicas": 1},
    }
    assert covers(live, desired)


def test_changed_and_removed_values_count():
    desired = {"spec": {"replicas": 2, "env": [{"name": "A"}]}}
    assert not covers({"spec": {"replicas": 1, "env": [{"name": "A"}]}}, desired)
    assert not covers({"spec": {"replicas": 2, "env": [{"name": "A"}, {"name": "B"}]}}, desired)
    assert not covers({"spec": {"replicas": 2}}, desired)
    assert not covers({"spec": "oops"}, desired)


def test_owned_by_controller_reference_only():
    live = {"metadata": {"ownerReferences": [{"uid": "u1", "controller": True}]}}
    assert owned_by(live, "u1")
    assert not owned_by(live, "u2")
    assert not owned_by({"metadata": {"ownerReferences": [{"uid": "u1"}]}}, "u1")
    assert not owned_by({"metadata": {}}, "u1")


def test_ref_paths():
    assert Ref("v1", "Service", "ns", "s").path() == "/api/v1/namespaces/ns/services/s"
    assert Ref("apps/v1", "Deployment", "ns").path() == "/apis/apps/v1/namespaces/ns/deployments"
    assert (
        Ref("modelops.dev/v1alpha1", "ModelVersion", "ns", "v").path()
        == "/apis/modelops.dev/v1alpha1/namespaces/ns/modelversions/v"
    )


def test_settings_from_env():
    settings = Settings.from_env(
        {
            "MODELOPS_RUNTIMES": '{"1.0": "img:1", "2.0": "img:2"}',
            "MODELOPS_DEFAULT_RUNTIME": "2.0",
            "MODELOPS_WATCH_NAMESPACES": "a, b,",
            "MODELOPS_STORAGE_SECRET": "s3",
            "MODELOPS_RESYNC_SECONDS": "1.5",
        }
    )
    assert settings.runtimes == {"1.0": "img:1", "2.0": "img:2"}
    assert settings.default_runtime == "2.0"
    assert settings.namespaces == ("a", "b")
    assert settings.storage_secret == "s3"
    assert settings.resync_seconds == 1.5


def test_settings_defaults():
    settings = Settings.from_env({})
    assert settings.runtimes == {"dev": "localhost/modelops-runtime:dev"}
    assert settings.default_runtime == "dev"
    assert settings.namespaces == ()
    assert Settings.from_env({"MODELOPS_RUNTIMES": '{"x": "i"}'}).default_runtime == "x"


@pytest.mark.parametrize(
    "env",
    [
        {"MODELOPS_RUNTIMES": "[]"},
        {"MODELOPS_RUNTIMES": '{"a": "i"}', "MODELOPS_DEFAULT_RUNTIME": "b"},
    ],
)
def test_bad_settings_are_refused(env):
    with pytest.raises(ValueError, match="MODELOPS_"):
        Settings.from_env(env)
