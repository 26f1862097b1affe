"""Fixtures for runtime processes (predictor, activator) that talk to the real API server
as a service account of their own, the way they do from a pod.

- ``quiet_namespace``: a fresh namespace no operator install serves (its instance label
  names none), so objects a test makes there are changed by nobody but the test.
- ``api_server``: the API server's URL and a file with its CA, for ``MODELOPS_KUBE_*``.
- ``service_account``: makes a service account, binds it and returns a token for it.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from tests.e2e.conftest import Cluster, labelled_namespace
from tests.e2e.run import labels


@dataclass(frozen=True)
class ApiServer:
    url: str
    ca_file: Path

    def env(self, token_file: Path) -> dict[str, str]:
        return {
            "MODELOPS_KUBE_API": self.url,
            "MODELOPS_KUBE_CA_FILE": str(self.ca_file),
            "MODELOPS_KUBE_TOKEN_FILE": str(token_file),
        }


@pytest.fixture(scope="session")
def api_server(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> ApiServer:
    document = yaml.safe_load(cluster.kubeconfig.read_text())
    context = next(c["context"] for c in document["contexts"] if c["name"] == cluster.context)
    entry = next(c["cluster"] for c in document["clusters"] if c["name"] == context["cluster"])
    ca_file = tmp_path_factory.mktemp("kube") / "ca.crt"
    if "certificate-authority-data" in entry:
        ca_file.write_bytes(base64.b64decode(entry["certificate-authority-data"]))
    else:
        ca_file.write_bytes(Path(entry["certificate-authority"]).read_bytes())
    return ApiServer(entry["server"], ca_file)


@pytest.fixture
def quiet_namespace(cluster: Cluster) -> Iterator[str]:
    with labelled_namespace(cluster, f"runtime-{secrets.token_hex(4)}", "runtime-tests") as name:
        yield name


ServiceAccount = Callable[..., str]


@pytest.fixture
def service_account(cluster: Cluster, tmp_path: Path) -> Iterator[ServiceAccount]:
    """``service_account(namespace, name, cluster_role=None, rules=None, audiences=())``:
    the account, a ClusterRoleBinding to ``cluster_role`` and/or a Role with ``rules``
    bound to it in the namespace; returns the path of a file holding a fresh token for it
    (bound to ``audiences``, else to the API server's). Cluster-scoped
    bindings are deleted afterwards (the namespace takes the rest with it)."""
    rbac = client.RbacAuthorizationV1Api(cluster.api)
    made: list[str] = []

    def make(
        namespace: str,
        name: str,
        cluster_role: str | None = None,
        rules: list[client.V1PolicyRule] | None = None,
        audiences: tuple[str, ...] = (),
    ) -> Path:
        cluster.core.create_namespaced_service_account(
            namespace, client.V1ServiceAccount(metadata=client.V1ObjectMeta(name=name))
        )
        subject = client.RbacV1Subject(kind="ServiceAccount", name=name, namespace=namespace)
        if cluster_role:
            binding = f"{namespace}-{name}"
            rbac.create_cluster_role_binding(
                client.V1ClusterRoleBinding(
                    metadata=client.V1ObjectMeta(name=binding, labels=labels()),
                    role_ref=client.V1RoleRef(
                        api_group="rbac.authorization.k8s.io", kind="ClusterRole", name=cluster_role
                    ),
                    subjects=[subject],
                )
            )
            made.append(binding)
        if rules:
            rbac.create_namespaced_role(
                namespace, client.V1Role(metadata=client.V1ObjectMeta(name=name), rules=rules)
            )
            rbac.create_namespaced_role_binding(
                namespace,
                client.V1RoleBinding(
                    metadata=client.V1ObjectMeta(name=name),
                    role_ref=client.V1RoleRef(
                        api_group="rbac.authorization.k8s.io", kind="Role", name=name
                    ),
                    subjects=[subject],
                ),
            )
        request = cluster.core.create_namespaced_service_account_token(
            name,
            namespace,
            client.AuthenticationV1TokenRequest(
                spec=client.V1TokenRequestSpec(audiences=list(audiences), expiration_seconds=3600)
            ),
        )
        path = tmp_path / f"{namespace}-{name}.token"
        path.write_text(request.status.token)
        return path

    yield make
    for binding in made:
        try:
            rbac.delete_cluster_role_binding(binding)
        except ApiException as err:
            if err.status != 404:
                raise


def may(cluster: Cluster, user: str, namespace: str, attributes: dict[str, str]) -> bool:
    """Does RBAC allow ``user`` this, as the API server sees it now? (bindings take a
    moment to reach the authorizer)"""
    review = client.AuthorizationV1Api(cluster.api).create_subject_access_review(
        client.V1SubjectAccessReview(
            spec=client.V1SubjectAccessReviewSpec(
                user=user,
                groups=["system:serviceaccounts", f"system:serviceaccounts:{namespace}"],
                resource_attributes=client.V1ResourceAttributes(**attributes),
            )
        )
    )
    return bool(review.status.allowed)
