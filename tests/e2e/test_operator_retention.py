"""``retention.keepLast`` through the operator: versions beyond the newest N that serve
nothing are deleted with a ``VersionDeleted`` Event; the pinned and the serving ones never
are."""

from __future__ import annotations

import pytest

from tests.e2e.kube import wait_for
from tests.e2e.operator_support import (
    create,
    custom,
    get,
    model_manifest,
    upload,
    version_exists,
    version_manifest,
    wait_condition,
)

pytestmark = pytest.mark.usefixtures("operator", "storage_secret")


def deleted_events(cluster, namespace) -> dict[str, int]:
    counts: dict[str, int] = {}
    for event in cluster.core.list_namespaced_event(namespace).items:
        if event.reason == "VersionDeleted" and event.involved_object.kind == "Model":
            name = event.message.split(":")[0].removeprefix("deleted ")
            counts[name] = counts.get(name, 0) + 1
    return counts


def test_keep_last_deletes_what_serves_nothing_never_the_pin(
    cluster, namespace, s3, s3_bucket, iris
):
    uri, sha = upload(s3, s3_bucket, "iris/v1", iris)
    create(cluster, namespace, model_manifest(
        "iris", defaultVersion="iris-v1", retention={"keepLast": 1}
    ))  # fmt: skip
    for name in ("iris-v1", "iris-v2", "iris-v3"):  # one after the other: creation order
        create(cluster, namespace, version_manifest(name, "iris", uri, sha))
        wait_condition(cluster, namespace, "modelversions", name, "Ready", "True")
    # keepLast 1 keeps v3 (newest); v1 is pinned; v2 serves nothing and goes.
    wait_for(lambda: not version_exists(cluster, namespace, "iris-v2"), timeout=60,
             what="iris-v2 to be deleted by retention")  # fmt: skip
    assert version_exists(cluster, namespace, "iris-v1")
    assert version_exists(cluster, namespace, "iris-v3")
    assert get(cluster, namespace, "models", "iris")["status"]["servingVersion"] == "iris-v1"
    wait_for(lambda: deleted_events(cluster, namespace).get("iris-v2") == 1, timeout=30,
             what="one VersionDeleted Event for iris-v2")  # fmt: skip

    # Unpinned, the newest Ready version (v3) serves, and v1 is beyond keepLast.
    custom(cluster).patch_namespaced_custom_object(
        "modelops.dev", "v1alpha1", namespace, "models", "iris", {"spec": {"defaultVersion": None}}
    )
    wait_for(lambda: not version_exists(cluster, namespace, "iris-v1"), timeout=60,
             what="iris-v1 to be deleted once it no longer serves")  # fmt: skip
    assert version_exists(cluster, namespace, "iris-v3")
    model = wait_condition(cluster, namespace, "models", "iris", "Ready", "True")
    assert model["status"]["servingVersion"] == "iris-v3"
    assert deleted_events(cluster, namespace) == {"iris-v2": 1, "iris-v1": 1}
