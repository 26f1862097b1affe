"""GitOps as Flux and Argo CD apply it, on the real cluster: examples/gitops rendered by
kustomize (``kubectl kustomize``) and applied by kubectl exactly as those tools apply it —
server-side apply under their field managers (``kustomize-controller``; Argo CD's
``argocd-controller`` with ``ServerSideApply=true``), or Argo CD's default client-side
apply. Their controllers themselves cannot run here (no image registry, no Git server), so
kubectl sends what they would send, under their names, and pruning deletes what left
Git, as Flux's garbage collection of its inventory does."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.conftest import Cluster
from tests.e2e.kube import wait_for
from tests.e2e.load import Load, address, send, service_host
from tests.e2e.operator_support import condition, get, upload, version_exists, wait_condition
from tests.models import Trained

pytestmark = pytest.mark.usefixtures("operator", "storage_secret")

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "gitops"
APPLIERS = {
    "flux": ("--server-side", "--field-manager=kustomize-controller"),
    "argocd-server-side": ("--server-side", "--field-manager=argocd-controller"),
    "argocd-client-side": ("--field-manager=argocd-controller",),
}
GITOPS_MANAGERS = ("argocd-controller", "kustomize-controller")
PLURALS = {"Model": "models", "ModelVersion": "modelversions", "TrainingJob": "trainingjobs"}


class Repo:
    """The test's Git checkout: the example's base, and an overlay for the test's namespace
    that points the versions at the test's bucket (what a user's overlay does)."""

    def __init__(self, root: Path, namespace: str, artifacts: dict[str, tuple[str, str]]):
        self.root, self.namespace = root, namespace
        shutil.copytree(EXAMPLE / "base", root / "base")
        self.overlay = root / "overlay"
        self.overlay.mkdir()
        self.patches = [
            _replace("ModelVersion", name, "/spec/artifact", {"uri": uri, "sha256": sha})
            for name, (uri, sha) in artifacts.items()
        ]
        # Once a year: the scheduled retraining is applied, not run, by these tests.
        self.patches.append(
            _replace("TrainingJob", "ctr-daily", "/spec/schedule/cron", "0 3 1 1 *")
        )
        self.default_version: str | None = None

    def drop(self, name: str) -> None:
        """A pull request that removes a version's file."""
        base = self.root / "base" / "kustomization.yaml"
        data = yaml.safe_load(base.read_text())
        data["resources"].remove(f"{name}.yaml")
        base.write_text(yaml.safe_dump(data))
        self.patches = [p for p in self.patches if p["target"]["name"] != name]

    def render(self) -> list[dict[str, Any]]:
        patches = list(self.patches)
        if self.default_version:
            patches.append(_add("Model", "ctr", "/spec/defaultVersion", self.default_version))
        kustomization = {
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            "namespace": self.namespace,
            "resources": ["../base"],
            "patches": patches,
        }
        (self.overlay / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
        rendered = kubectl("kustomize", str(self.overlay)).stdout
        return [doc for doc in yaml.safe_load_all(rendered) if doc]


def _replace(kind: str, name: str, path: str, value: Any) -> dict[str, Any]:
    return _patch("replace", kind, name, path, value)


def _add(kind: str, name: str, path: str, value: Any) -> dict[str, Any]:
    return _patch("add", kind, name, path, value)


def _patch(op: str, kind: str, name: str, path: str, value: Any) -> dict[str, Any]:
    operation = [{"op": op, "path": path, "value": value}]
    return {"target": {"kind": kind, "name": name}, "patch": yaml.safe_dump(operation)}


def kubectl(*args: str, stdin: str = "", check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(["kubectl", *args], input=stdin, capture_output=True, text=True,
                          timeout=120, check=False)  # fmt: skip
    if check:
        assert done.returncode == 0, f"kubectl {' '.join(args)}: {done.stderr}"
    return done


def apply(cluster: Cluster, docs: list[dict[str, Any]], applier: str) -> None:
    kubectl("--kubeconfig", str(cluster.kubeconfig), "apply", *APPLIERS[applier], "-f", "-",
            stdin=yaml.safe_dump_all(docs))  # fmt: skip


def prune(cluster: Cluster, before: list[dict[str, Any]], after: list[dict[str, Any]]) -> None:
    """Delete what left Git: the objects of the last apply that the new render lacks."""
    kept = {(d["kind"], d["metadata"]["name"]) for d in after}
    for doc in before:
        meta = doc["metadata"]
        if (doc["kind"], meta["name"]) not in kept:
            kubectl("--kubeconfig", str(cluster.kubeconfig), "delete", "-n", meta["namespace"],
                    PLURALS[doc["kind"]], meta["name"])  # fmt: skip


@pytest.fixture
def repo(tmp_path: Path, namespace: str, s3, s3_bucket: str, iris: Trained) -> Repo:
    artifacts = {name: upload(s3, s3_bucket, f"ctr/{name}", iris) for name in ("ctr-v1", "ctr-v2")}
    return Repo(tmp_path / "git", namespace, artifacts)


def served_by(ip: str, namespace: str, rows: list[list[float]]) -> str:
    return send(ip, service_host("ctr", namespace), "ctr", rows).version


@pytest.mark.parametrize("applier", list(APPLIERS))
def test_a_second_apply_after_the_operator_reconciled_changes_nothing(
    cluster, namespace, repo: Repo, applier: str
):
    docs = repo.render()
    apply(cluster, docs, applier)
    wait_condition(cluster, namespace, "models", "ctr", "Ready", "True")
    for name in ("ctr-v1", "ctr-v2"):
        wait_condition(cluster, namespace, "modelversions", name, "Ready", "True")

    apply(cluster, docs, applier)  # no conflict with anything the operator wrote
    server_side = "--server-side" in APPLIERS[applier]
    diff = kubectl("--kubeconfig", str(cluster.kubeconfig), "diff", *APPLIERS[applier], "-f", "-",
                   stdin=yaml.safe_dump_all(docs), check=False)  # fmt: skip
    assert (diff.returncode, diff.stdout) == (0, ""), diff.stdout + diff.stderr
    for doc in docs:
        live = get(cluster, namespace, PLURALS[doc["kind"]], doc["metadata"]["name"])
        for entry in live["metadata"]["managedFields"]:
            if entry["manager"] in GITOPS_MANAGERS:
                continue
            assert entry.get("subresource") == "status" or "f:spec" not in entry["fieldsV1"], (
                f"{entry['manager']} wrote {doc['kind']} {doc['metadata']['name']}'s spec"
            )
        if server_side:
            appliers = {e["manager"] for e in live["metadata"]["managedFields"]
                        if e["operation"] == "Apply"}  # fmt: skip
            assert appliers == {APPLIERS[applier][1].split("=")[1]}


def test_promotion_by_pull_request_rollback_by_revert_and_pruning_under_load(
    cluster, namespace, repo: Repo, iris: Trained
):
    """Production pins the version in Git: switching the pin and reverting it fail no
    request; a version pruned from Git is deleted, and a pin left naming it gives the
    Model a condition that says so."""
    repo.default_version = "ctr-v1"
    applied = repo.render()
    apply(cluster, applied, "flux")
    for name in ("ctr-v1", "ctr-v2"):
        wait_condition(cluster, namespace, "modelversions", name, "Ready", "True")
    ip, rows = address(cluster, namespace, "ctr"), iris.rows[:2]
    wait_for(lambda: served_by(ip, namespace, rows) == "ctr-v1", timeout=60,
             what="ctr-v1 to serve")  # fmt: skip

    with Load(ip, service_host("ctr", namespace), "ctr", rows) as load:
        time.sleep(3)
        for pin in ("ctr-v2", "ctr-v1", "ctr-v2"):  # promote, revert, promote again
            repo.default_version = pin
            applied = repo.render()
            switched = time.monotonic()
            apply(cluster, applied, "flux")
            wait_for(lambda p=pin, s=switched: any(a.version == p for a in load.since(s)),
                     timeout=30, what=f"answers from {pin}")  # fmt: skip
            time.sleep(5)
    assert len(load.answers) > 300, "the load ran"
    assert load.failures() == [], f"{len(load.failures())} of {len(load.answers)} failed"

    # ctr-v1 leaves Git: Flux deletes it, and ctr-v2 serves on.
    repo.drop("ctr-v1")
    pruned = repo.render()
    apply(cluster, pruned, "flux")
    prune(cluster, applied, pruned)
    wait_for(lambda: not version_exists(cluster, namespace, "ctr-v1"), timeout=60,
             what="ctr-v1 to be deleted")  # fmt: skip
    assert served_by(ip, namespace, rows) == "ctr-v2"

    # ctr-v2 leaves Git too, while the pin still names it: a clear condition, and the URL
    # answers saying what is missing instead of failing to connect.
    repo.drop("ctr-v2")
    broken = repo.render()
    apply(cluster, broken, "flux")
    prune(cluster, pruned, broken)
    model = wait_condition(cluster, namespace, "models", "ctr", "Ready", "False",
                           "PinnedVersionMissing", timeout=60)  # fmt: skip
    assert "ctr-v2" in condition(model, "Ready")["message"]
    answer = wait_for(lambda: _answered(ip, namespace, rows), timeout=60,
                      what="the Model's URL to answer without ctr-v2")  # fmt: skip
    assert answer.status == 503, answer.body
    assert "ctr-v2" in answer.body


def _answered(ip: str, namespace: str, rows: list[list[float]]) -> Any:
    answer = send(ip, service_host("ctr", namespace), "ctr", rows, timeout=20)
    return answer if answer.status not in (0, 200) else None
