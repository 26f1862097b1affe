"""The apply layer's decisions (write or not, retry or show), and the operator's settings."""

from __future__ import annotations

from decimal import Decimal

import kopf
import pytest

from modelops_operator.diff import covers, digest, owned_by, quantity
from modelops_operator.kube import KubeError, Ref
from modelops_operator.settings import Settings
from modelops_operator.sync import retried


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


def test_values_the_api_server_normalises_or_drops_count_as_equal():
    desired = {"resources": {"limits": {"cpu": "0.5", "memory": "1Gi"}}, "env": [{"value": ""}]}
    live = {"resources": {"limits": {"cpu": "500m", "memory": "1073741824"}}, "env": [{}]}
    assert covers(live, desired)
    assert not covers({"resources": {"limits": {"cpu": "600m", "memory": "1Gi"}}}, desired)
    assert covers({}, {"labels": {}})


def test_quantities():
    assert quantity("500m") == Decimal("0.5")
    assert quantity("1Gi") == 2**30
    assert quantity("2") == quantity(2) == 2
    assert quantity("http") is None
    assert quantity("1Zi") is None


def test_digest_follows_content_not_key_order():
    assert digest({"a": 1, "b": [1, 2]}) == digest({"b": [1, 2], "a": 1})
    assert digest({"a": 1}) != digest({"a": 2})


def test_refusals_and_transient_errors():
    assert not KubeError(422, "invalid").transient
    assert not KubeError(403, "exceeded quota").transient
    for status in (0, 409, 429, 500, 503, 504):
        assert KubeError(status, "x").transient


def test_a_transient_error_is_retried_by_kopf_in_a_change_handler():
    def flaky():
        raise KubeError(503, "etcd leader changed")

    with pytest.raises(kopf.TemporaryError, match="etcd leader changed"):
        retried(flaky)


def test_a_transient_error_is_tried_again_in_place_in_a_watch_handler(monkeypatch):
    monkeypatch.setattr("modelops_operator.sync.IN_PLACE_DELAYS", (0.0, 0.0))
    calls = []

    def flaky_twice():
        calls.append(1)
        if len(calls) < 3:
            raise KubeError(0, "connection reset")

    retried(flaky_twice, in_place=True)
    assert len(calls) == 3


def test_a_refusal_is_never_retried():
    calls = []

    def refused():
        calls.append(1)
        raise KubeError(422, "spec.replicas: Invalid value")

    with pytest.raises(KubeError):
        retried(refused, in_place=True)
    assert calls == [1]


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


def test_each_install_serves_its_own_namespaces():
    default = Settings.from_env({})
    e2e = Settings.from_env({"MODELOPS_INSTANCE": "e2e"})
    assert (default.instance, default.peering) == ("default", "modelops-default")
    assert (e2e.instance, e2e.peering) == ("e2e", "modelops-e2e")
    assert default.serves("")
    assert default.serves("default")
    assert not default.serves("e2e")
    assert e2e.serves("e2e")
    assert not e2e.serves("")
    assert not e2e.serves("other")
    assert Settings.from_env({"MODELOPS_PEERING": ""}).peering == ""
    # Namespaced, it acts only in its watchNamespaces (its own is watched for the
    # activator's endpoints alone); cluster-wide, everywhere.
    scoped = Settings.from_env({"MODELOPS_WATCH_NAMESPACES": "a,b", "POD_NAMESPACE": "sys"})
    assert (scoped.acts_in("a"), scoped.acts_in("b")) == (True, True)
    assert (scoped.acts_in("sys"), scoped.acts_in("c")) == (False, False)
    assert default.acts_in("sys")
    # kopf's marks are each install's own: a finalizer one install needs is never
    # dropped by another that does not.
    assert default.finalizer == "modelops.dev/finalizer"
    assert e2e.finalizer == "e2e.instances.modelops.dev/finalizer"
    assert e2e.storage_prefix != default.storage_prefix


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
