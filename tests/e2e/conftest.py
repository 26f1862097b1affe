"""Fixtures for end-to-end tests on a real cluster (``make cluster-up``; docs/development.md).

- ``cluster``: the running test cluster, for the whole session. Its kubeconfig comes from
  ``MODELOPS_KUBECONFIG`` or ``make -s kubeconfig``. Any context other than the test
  cluster's is refused, so a test can never touch a cluster it does not own.
- ``namespace``: a fresh namespace per test, labelled for the tests' operator install
  (``modelops.dev/instance=e2e``) and with the run's id (tests/e2e/run.py); deleted
  afterwards without waiting: the run waits for all of its namespaces once, at its end.
- ``s3`` / ``s3_bucket``: the cluster's S3 server (MinIO) and a bucket per test.
- ``runtime_image``: the predictor image, loaded into the cluster by ``make images``.

Every test in this folder is marked ``cluster`` and gets a timeout (pytest-timeout) of
``CLUSTER_TIMEOUT`` seconds unless it names its own. Without a cluster they are skipped,
unless ``MODELOPS_REQUIRE_CLUSTER=1`` (set by ``make test``): then a missing cluster fails
them. A cluster test that fails carries the operator's and the activators' logs and its
namespace's pods and events in its report.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlparse

import pytest
import yaml
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from tests.e2e.kube import wait_for
from tests.e2e.run import labels, once

REPO_ROOT = Path(__file__).resolve().parents[2]
CLUSTER_SH = REPO_ROOT / "hack" / "cluster.sh"
LOCAL_CONTEXT = "modelops-local"
LOCAL_SERVER = "https://10.250.0.1:6443"
DEFAULT_RUNTIME_IMAGE = "localhost/modelops-runtime:dev"
INSTANCE_LABEL = "modelops.dev/instance"
E2E_INSTANCE = "e2e"
"""The tests' operator serves only namespaces labelled for it, so another install on the
same cluster (say, the demo's) never acts on a test's objects."""


CLUSTER_TIMEOUT = 300
"""Seconds a cluster test may take unless it says otherwise (``pytest.mark.timeout``): the
operator's install, a version Ready and a few requests, with room for a busy node."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.cluster)
            if item.get_closest_marker("timeout") is None:
                item.add_marker(pytest.mark.timeout(CLUSTER_TIMEOUT))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """A failed cluster test says what the cluster saw: its namespace's pods, containers,
    logs and events, and the end of the operator's and the activators' logs."""
    report = yield
    if report.failed and item.get_closest_marker("cluster") and call.when != "teardown":
        from tests.e2e.diagnostics import sections

        funcargs = getattr(item, "funcargs", {})
        found = funcargs.get("cluster")
        names = [v for k, v in funcargs.items() if k.endswith("namespace") and isinstance(v, str)]
        installs = [v for v in funcargs.values() if hasattr(v, "system")]  # private installs
        names += [v.namespace for v in installs]
        if isinstance(found, Cluster):
            for title, text in sections(found, names, [v.system for v in installs]):
                report.sections.append((title, text))
    return report


def _unavailable(reason: str) -> NoReturn:
    if os.environ.get("MODELOPS_REQUIRE_CLUSTER") == "1":
        pytest.fail(f"test cluster required (MODELOPS_REQUIRE_CLUSTER=1): {reason}", pytrace=False)
    pytest.skip(f"no test cluster: {reason}")


def _cluster_script(command: str) -> str:
    done = subprocess.run(
        ["bash", str(CLUSTER_SH), command], capture_output=True, text=True, timeout=30, check=False
    )
    if done.returncode != 0:
        _unavailable(f"hack/cluster.sh {command} failed: {done.stderr.strip()}")
    return done.stdout.strip()


def expected_context() -> str:
    """The only kube context the tests may use, by ``CLUSTER`` (local, kind, minikube)."""
    kind = os.environ.get("CLUSTER", "local")
    if kind == "local":
        return LOCAL_CONTEXT
    if kind == "kind":
        return f"kind-{os.environ.get('KIND_CLUSTER', 'modelops')}"
    if kind == "minikube":
        return "minikube"
    raise pytest.UsageError(f"unknown CLUSTER={kind!r} (local, kind or minikube)")


def guard_context(kubeconfig: Path) -> str:
    """Refuse any kubeconfig whose current context is not the test cluster's."""
    document = yaml.safe_load(kubeconfig.read_text()) or {}
    name = document.get("current-context", "")
    wanted = expected_context()
    if name != wanted:
        raise pytest.UsageError(
            f"refusing kube context {name!r} from {kubeconfig}: the tests only run against "
            f"the test cluster's context {wanted!r}"
        )
    if wanted == LOCAL_CONTEXT:
        context = next(c["context"] for c in document["contexts"] if c["name"] == name)
        server = next(
            c["cluster"]["server"] for c in document["clusters"] if c["name"] == context["cluster"]
        )
        if server != LOCAL_SERVER:
            raise pytest.UsageError(
                f"refusing context {name!r}: its server {server} is not the local test cluster"
            )
    return name


@dataclass(frozen=True)
class Cluster:
    kubeconfig: Path
    context: str
    api: client.ApiClient

    @property
    def core(self) -> client.CoreV1Api:
        return client.CoreV1Api(self.api)

    @property
    def apps(self) -> client.AppsV1Api:
        return client.AppsV1Api(self.api)


def connect() -> Cluster:
    """The test cluster (refusing any other), reachable now; else skip or fail."""
    path_text = os.environ.get("MODELOPS_KUBECONFIG") or _cluster_script("kubeconfig")
    kubeconfig = Path(path_text)
    if not kubeconfig.is_file():
        _unavailable(f"no kubeconfig at {kubeconfig} (run: make cluster-up)")
    context = guard_context(kubeconfig)
    api = config.new_client_from_config(config_file=str(kubeconfig), context=context)
    try:
        client.VersionApi(api).get_code(_request_timeout=5)
    except Exception as err:  # any failure means "not reachable"
        api.close()
        _unavailable(f"API server of context {context!r} not reachable: {err}")
    return Cluster(kubeconfig=kubeconfig, context=context, api=api)


@pytest.fixture(scope="session")
def cluster(request: pytest.FixtureRequest) -> Iterator[Cluster]:
    found = connect()
    from tests.e2e.sweep import sweep_dead_runs

    # Once per run, before any test makes a namespace: what dead runs left behind goes.
    once(request.config, "sweep", lambda: sweep_dead_runs(found))
    yield found
    found.api.close()


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")[:40].strip("-")


@pytest.fixture
def namespace(cluster: Cluster, request: pytest.FixtureRequest) -> Iterator[str]:
    name = f"e2e-{_slug(request.node.name)}-{secrets.token_hex(3)}"
    with labelled_namespace(cluster, name, E2E_INSTANCE):
        yield name


@contextmanager
def labelled_namespace(cluster: Cluster, name: str, instance: str, **extra: str) -> Iterator[str]:
    """A namespace made by ``create_namespace``, deleted when the block ends, without
    waiting (the run waits for all of its namespaces once, at its end)."""
    try:
        yield create_namespace(cluster, name, instance, **extra)
    finally:
        delete_namespace(cluster, name)


def create_namespace(cluster: Cluster, name: str, instance: str, **extra: str) -> str:
    """A namespace labelled for the operator install ``instance`` and with the run's id,
    ready for pods (its default service account exists)."""
    core = cluster.core
    core.create_namespace(
        client.V1Namespace(
            metadata=client.V1ObjectMeta(
                name=name, labels=labels(**{INSTANCE_LABEL: instance}, **extra)
            )
        )
    )

    def default_service_account() -> bool:
        try:
            core.read_namespaced_service_account("default", name)
        except ApiException as err:
            if err.status == 404:
                return False
            raise
        return True

    try:
        wait_for(default_service_account, timeout=30, what=f"service account default in {name}")
    except AssertionError:
        delete_namespace(cluster, name)
        raise
    return name


def delete_namespace(cluster: Cluster, name: str) -> None:
    """Delete ``name`` and ask its pods to end now, not waiting for either."""
    core = cluster.core
    try:
        core.delete_namespace(name)
        # Its pods can no longer be replaced. Asked to end now, with their grace period as
        # the namespace controller would ask 5 s later, they are gone by its second pass;
        # else it finds them still draining and waits half their grace period to look again.
        core.delete_collection_namespaced_pod(name)
    except ApiException as err:
        if err.status != 404:
            raise


def audit_log() -> Path:
    """The local cluster's API server audit log (write requests, metadata only)."""
    if os.environ.get("CLUSTER", "local") != "local":
        pytest.skip("the API server audit log is read on the local cluster's node")
    state = Path(os.environ.get("MODELOPS_CLUSTER_STATE", "/var/lib/modelops-cluster"))
    path = state / "logs" / "audit.log"
    if not path.is_file():
        _unavailable(f"no audit log at {path} (make cluster-up starts the API server with one)")
    return path


@dataclass(frozen=True)
class S3:
    """The cluster's S3 server: the same endpoint and credentials for host and pods."""

    env: dict[str, str]

    @property
    def endpoint(self) -> str:
        return self.env["AWS_ENDPOINT_URL"]

    def client(self) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=self.env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=self.env["AWS_SECRET_ACCESS_KEY"],
            region_name=self.env.get("AWS_DEFAULT_REGION", "us-east-1"),
            config=Config(s3={"addressing_style": "path"}, connect_timeout=5, read_timeout=30),
        )


def read_env_file(path: Path) -> dict[str, str]:
    env: dict[str, str] = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            env[key] = value
    return env


@pytest.fixture(scope="session")
def s3(cluster: Cluster) -> S3:
    path = Path(os.environ.get("MODELOPS_S3_ENV") or _cluster_script("s3-env-file"))
    if not path.is_file():
        _unavailable(f"no S3 env file at {path} (run: make cluster-up)")
    env = read_env_file(path)
    host = urlparse(env["AWS_ENDPOINT_URL"]).hostname
    if host is None:
        raise pytest.UsageError(f"bad AWS_ENDPOINT_URL in {path}")
    return S3(env=env)


@pytest.fixture
def s3_bucket(s3: S3, namespace: str) -> Iterator[str]:
    """A bucket of its own for one test, emptied and removed afterwards."""
    s3_client = s3.client()
    bucket = namespace  # unique, and a valid bucket name
    s3_client.create_bucket(Bucket=bucket)
    yield bucket
    remove_bucket(s3_client, bucket)


def remove_bucket(s3_client: Any, bucket: str, timeout: float = 60) -> None:
    """Empty the bucket and remove it. A pod of the test may still be writing (a cancelled
    schedule's run ends its upload within its grace period): empty it again until it goes."""
    deadline = time.monotonic() + timeout
    while True:
        for page in s3_client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for item in page.get("Contents", []):
                s3_client.delete_object(Bucket=bucket, Key=item["Key"])
        try:
            s3_client.delete_bucket(Bucket=bucket)
            return
        except s3_client.exceptions.ClientError as err:
            if err.response["Error"]["Code"] != "BucketNotEmpty" or time.monotonic() > deadline:
                raise
        time.sleep(1)


@pytest.fixture(scope="session")
def runtime_image(cluster: Cluster) -> str:
    """The predictor image; it must already be on the node (no registry to pull from)."""
    image = os.environ.get("MODELOPS_RUNTIME_IMAGE", DEFAULT_RUNTIME_IMAGE)
    require_image_on_node(cluster, image)
    return image


def require_image_on_node(cluster: Cluster, image: str) -> None:
    """Wait for the node to list ``image``: the kubelet reports a newly loaded image on its
    next status update (every ~10 s), so a cluster that just started may not list it yet."""
    deadline = time.monotonic() + 60
    while not _node_has_image(cluster, image):
        if time.monotonic() > deadline:
            _unavailable(f"image {image} is not on the cluster's node (run: make images)")
        time.sleep(2)


def _node_has_image(cluster: Cluster, image: str) -> bool:
    names = {
        name
        for node in cluster.core.list_node().items
        for node_image in node.status.images or []
        for name in node_image.names or []
    }
    return any(name == image or name.endswith("/" + image) for name in names)
