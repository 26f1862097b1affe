"""The activator's watcher against the real API server: objects the test makes in a
namespace no operator serves reach the activator's view through list + watch, a broken
stream resumes from its resourceVersion, and a wake is an annotation on the ModelVersion.
The watcher runs as a service account with only the Role the activator needs."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from kubernetes import client

from modelops_contracts.serving import (
    ACTIVATION_ANNOTATION,
    MANAGED_BY_LABEL,
    MANAGER,
    ROUTES_ANNOTATION,
    Route,
    private_service,
    routes_to_json,
)
from modelops_runtime.activator.view import Blocker, ClusterView, Pod
from modelops_runtime.activator.watch import KubeWaker, Watcher
from modelops_runtime.kube import KubeClient, KubeConfig, shutdown
from tests.e2e.conftest import Cluster
from tests.e2e.kube import wait_for
from tests.e2e.runtime_fixtures import ApiServer, ServiceAccount, may

ACTIVATOR_RULES = [
    client.V1PolicyRule(api_groups=[""], resources=["services"], verbs=["get", "list", "watch"]),
    client.V1PolicyRule(
        api_groups=["discovery.k8s.io"], resources=["endpointslices"], verbs=["list", "watch"]
    ),
    client.V1PolicyRule(
        api_groups=["modelops.dev"], resources=["modelversions"], verbs=["list", "watch", "patch"]
    ),
]
LABELS = {MANAGED_BY_LABEL: MANAGER}


def service(name: str, annotations: dict[str, str], selector: dict[str, str] | None = None) -> Any:
    return client.V1Service(
        metadata=client.V1ObjectMeta(name=name, labels=LABELS, annotations=annotations),
        spec=client.V1ServiceSpec(
            selector=selector,
            ports=[client.V1ServicePort(name="http", port=80, target_port=8080)],
        ),
    )


def endpoint_slice(version: str, endpoints: list[tuple[str, dict[str, bool]]]) -> dict[str, Any]:
    """A slice for a version's private Service, as the EndpointSlice controller writes one
    (the test writes it itself: no pod runs, and addresses are documentation addresses
    nothing is ever sent to)."""
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": f"{private_service(version)}-test",
            "labels": {
                **LABELS,
                "kubernetes.io/service-name": private_service(version),
                "endpointslice.kubernetes.io/managed-by": "modelops-tests",
            },
        },
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
        "endpoints": [{"addresses": [ip], "conditions": c} for ip, c in endpoints],
    }


async def until(check: Callable[[], Any], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


async def test_the_view_follows_services_slices_and_versions(
    cluster: Cluster,
    quiet_namespace: str,
    api_server: ApiServer,
    service_account: ServiceAccount,
) -> None:
    ns = quiet_namespace
    core = cluster.core
    discovery = client.DiscoveryV1Api(cluster.api)
    custom = client.CustomObjectsApi(cluster.api)
    token = service_account(ns, "activator", rules=ACTIVATOR_RULES)
    wait_for(
        lambda: may(cluster, f"system:serviceaccount:{ns}:activator", ns,
                    {"namespace": ns, "verb": "watch", "group": "modelops.dev",
                     "resource": "modelversions"}),
        timeout=30, what="the activator's Role to reach the authorizer",
    )  # fmt: skip
    kube = KubeClient(KubeConfig.from_env(api_server.env(token)))
    view = ClusterView()
    watcher = Watcher(kube, view, asyncio.get_running_loop(), namespaces=(ns,))
    # Made before the watch starts: found by the first list.
    core.create_namespaced_service(
        ns, service("iris", {ROUTES_ANNOTATION: routes_to_json([Route("iris-v1", 100)])})
    )
    watcher.start()
    try:
        await until(watcher.synced, "the first lists")
        assert view.routes(ns, "iris") == (Route("iris-v1", 100),)

        # A private Service with a selector: the EndpointSlice controller copies its
        # labels onto the slice it makes, which is what the watch selects on.
        core.create_namespaced_service(
            ns, service(private_service("iris-v1"), {}, {"modelops.dev/version": "iris-v1"})
        )

        def controller_slice() -> Any:
            slices = discovery.list_namespaced_endpoint_slice(
                ns, label_selector=f"kubernetes.io/service-name={private_service('iris-v1')}"
            ).items
            return slices[0] if slices else None

        made = await asyncio.to_thread(
            wait_for, controller_slice, timeout=30, what="the controller's EndpointSlice"
        )
        assert made.metadata.labels.get(MANAGED_BY_LABEL) == MANAGER

        # Pods appear (not ready yet), become ready, then one terminates.
        discovery.create_namespaced_endpoint_slice(
            ns, endpoint_slice("iris-v1", [("192.0.2.10", {"ready": False})])
        )
        await until(lambda: view.pods(ns, "iris-v1"), "the new pod")
        assert view.pods(ns, "iris-v1") == (Pod("192.0.2.10:8080", ready=False),)
        discovery.replace_namespaced_endpoint_slice(
            f"{private_service('iris-v1')}-test",
            ns,
            endpoint_slice(
                "iris-v1",
                [("192.0.2.10", {"ready": True}),
                 ("192.0.2.11", {"ready": False, "serving": True, "terminating": True})],
            ),
        )  # fmt: skip
        await until(lambda: len(view.pods(ns, "iris-v1")) == 2, "the ready pod")
        assert view.pods(ns, "iris-v1") == (
            Pod("192.0.2.10:8080", ready=True),
            Pod("192.0.2.11:8080", ready=False, terminating=True),
        )

        # The split changes: the annotation is re-read.
        core.patch_namespaced_service(
            "iris", ns, {"metadata": {"annotations": {ROUTES_ANNOTATION: routes_to_json(
                [Route("iris-v1", 90), Route("iris-v2", 10)])}}},
        )  # fmt: skip
        await until(lambda: len(view.routes(ns, "iris") or ()) == 2, "the new split")

        # A ModelVersion that cannot start, then a wake asked of it.
        custom.create_namespaced_custom_object(
            "modelops.dev", "v1alpha1", ns, "modelversions",
            {"apiVersion": "modelops.dev/v1alpha1", "kind": "ModelVersion",
             "metadata": {"name": "iris-v1"},
             "spec": {"model": "iris", "artifact": {"uri": "s3://models/iris.joblib"}}},
        )  # fmt: skip
        custom.patch_namespaced_custom_object_status(
            "modelops.dev", "v1alpha1", ns, "modelversions", "iris-v1",
            {"status": {"conditions": [
                {"type": "ResourcesAvailable", "status": "False", "reason": "ImagePullBackOff",
                 "message": "Back-off pulling image",
                 "lastTransitionTime": "2026-01-01T00:00:00Z"}]}},
        )  # fmt: skip
        await until(lambda: view.blocker(ns, "iris-v1"), "the version's blocker")
        assert view.blocker(ns, "iris-v1") == Blocker(
            "ResourcesAvailable", "ImagePullBackOff", "Back-off pulling image"
        )
        await KubeWaker(kube).request_wake(ns, "iris-v1")
        annotations = custom.get_namespaced_custom_object(
            "modelops.dev", "v1alpha1", ns, "modelversions", "iris-v1"
        )["metadata"]["annotations"]
        assert annotations[ACTIVATION_ANNOTATION].endswith("Z")

        # A broken stream resumes from where it was: no relist, nothing missed.
        for conn in list(watcher._open):
            shutdown(conn)
        core.delete_namespaced_service("iris", ns)
        await until(lambda: view.routes(ns, "iris") is None, "the deleted Service")
        discovery.delete_namespaced_endpoint_slice(f"{private_service('iris-v1')}-test", ns)
        await until(lambda: not view.pods(ns, "iris-v1"), "the deleted slice")
        assert watcher.relists == 0
    finally:
        await asyncio.to_thread(watcher.stop)
