"""GitOps as Flux and Argo CD apply it, on the real cluster: the shipped examples/gitops,
checked out as a user's repository (each version's file names the test's artifact, as the
commit adding it would), is rendered by kustomize (``kubectl kustomize``) from the overlay
the shipped Flux Kustomization and Argo CD Application name, into the test's namespace
(Flux's ``targetNamespace``, Argo CD's destination), and applied by kubectl exactly as
those tools apply it: server-side apply under their field managers (``kustomize-controller``;
``argocd-controller`` with ``ServerSideApply=true``, as the shipped Application says), or
Argo CD's default client-side apply. Their controllers themselves cannot run here (no image
registry, no Git server), so kubectl sends what they would send, under their names; and
pruning (``prune: true`` in the shipped manifests) deletes what left Git, as Flux's garbage
collection of its inventory does. Promotion and revert are edits of the shipped production
overlay's pin."""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.conftest import Cluster
from tests.e2e.kube import wait_for
from tests.e2e.load import Load, address, answered_by, send, service_host, under_way
from tests.e2e.operator_support import condition, get, upload, version_exists, wait_condition
from tests.models import Trained

pytestmark = pytest.mark.usefixtures("operator", "storage_secret")

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = Path("examples") / "gitops"
GITOPS_MANAGERS = ("argocd-controller", "kustomize-controller")
PLURALS = {"Model": "models", "ModelVersion": "modelversions", "TrainingJob": "trainingjobs"}


@dataclass(frozen=True)
class Applier:
    """How a tool applies: the overlay its manifest names, kubectl's flags for its apply,
    and whether it prunes what left Git."""

    path: str
    flags: tuple[str, ...]
    prune: bool

    @property
    def manager(self) -> str:
        return next(f for f in self.flags if f.startswith("--field-manager=")).split("=")[1]


def shipped(name: str, kind: str) -> dict[str, Any]:
    docs = yaml.safe_load_all((REPO_ROOT / EXAMPLE / name).read_text())
    return next(d for d in docs if d and d["kind"] == kind)


def flux() -> Applier:
    """The shipped Flux Kustomization: server-side apply as kustomize-controller."""
    spec = shipped("flux/ctr-production.yaml", "Kustomization")["spec"]
    flags = ("--server-side", "--field-manager=kustomize-controller")
    return Applier(spec["path"].removeprefix("./"), flags, bool(spec["prune"]))


def argocd(server_side: bool) -> Applier:
    """The shipped Argo CD Application (``ServerSideApply=true``), or the same without that
    option: Argo CD's default client-side apply."""
    spec = shipped("argocd/ctr-production.yaml", "Application")["spec"]
    options = spec["syncPolicy"]["syncOptions"]
    if not server_side:
        options = [o for o in options if o != "ServerSideApply=true"]
    flags = ("--field-manager=argocd-controller",)
    if "ServerSideApply=true" in options:
        flags = ("--server-side", *flags)
    return Applier(spec["source"]["path"], flags, bool(spec["syncPolicy"]["automated"]["prune"]))


APPLIERS = {"flux": flux, "argocd-server-side": lambda: argocd(True),
            "argocd-client-side": lambda: argocd(False)}  # fmt: skip


class Repo:
    """A checkout of the shipped examples/gitops, as a user's Git repository: each version's
    file names the test's artifact (the commit that adds a version), everything else is as
    shipped. It renders the overlay a tool's manifest names into the test's namespace (Flux's
    ``targetNamespace``, Argo CD's destination), as the tool renders it."""

    def __init__(self, root: Path, namespace: str, artifacts: dict[str, tuple[str, str]]):
        self.root, self.namespace = root, namespace
        shutil.copytree(REPO_ROOT / EXAMPLE, root / EXAMPLE)
        for name, (uri, sha) in artifacts.items():
            path = root / EXAMPLE / "base" / f"{name}.yaml"
            version = yaml.safe_load(path.read_text())
            version["spec"]["artifact"] = {"uri": uri, "sha256": sha}
            path.write_text(yaml.safe_dump(version))

    def pin(self, version: str) -> None:
        """A pull request that changes the version production serves."""
        path = self.root / EXAMPLE / "overlays" / "production" / "kustomization.yaml"
        overlay = yaml.safe_load(path.read_text())
        (patch,) = [
            p for p in overlay["patches"] if p["target"] == {"kind": "Model", "name": "ctr"}
        ]
        operations = yaml.safe_load(patch["patch"])
        (pinned,) = [op for op in operations if op["path"] == "/spec/defaultVersion"]
        pinned["value"] = version
        patch["patch"] = yaml.safe_dump(operations)
        path.write_text(yaml.safe_dump(overlay))

    def drop(self, name: str) -> None:
        """A pull request that removes a version's file."""
        base = self.root / EXAMPLE / "base" / "kustomization.yaml"
        data = yaml.safe_load(base.read_text())
        data["resources"].remove(f"{name}.yaml")
        base.write_text(yaml.safe_dump(data))
        (self.root / EXAMPLE / "base" / f"{name}.yaml").unlink()

    def render(self, applier: Applier) -> list[dict[str, Any]]:
        target = self.root / "target"
        target.mkdir(exist_ok=True)
        kustomization = {
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            "namespace": self.namespace,
            "resources": [f"../{applier.path}"],
        }
        (target / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
        rendered = kubectl("kustomize", str(target))
        return [doc for doc in yaml.safe_load_all(rendered.stdout) if doc]


def kubectl(*args: str, stdin: str = "", check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(["kubectl", *args], input=stdin, capture_output=True, text=True,
                          timeout=120, check=False)  # fmt: skip
    if check:
        assert done.returncode == 0, f"kubectl {' '.join(args)}: {done.stderr}"
    return done


def apply(cluster: Cluster, docs: list[dict[str, Any]], applier: Applier) -> None:
    kubectl("--kubeconfig", str(cluster.kubeconfig), "apply", *applier.flags, "-f", "-",
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


@pytest.mark.parametrize("tool", list(APPLIERS))
def test_a_second_apply_after_the_operator_reconciled_changes_nothing(
    cluster, namespace, repo: Repo, tool: str
):
    applier = APPLIERS[tool]()
    docs = repo.render(applier)
    assert {(d["kind"], d["metadata"]["name"]) for d in docs} == {
        ("Model", "ctr"), ("ModelVersion", "ctr-v1"), ("ModelVersion", "ctr-v2"),
        ("TrainingJob", "ctr-daily")}  # fmt: skip
    assert get_pin(docs) == "ctr-v1"  # production pins its version
    apply(cluster, docs, applier)
    wait_condition(cluster, namespace, "models", "ctr", "Ready", "True")
    for name in ("ctr-v1", "ctr-v2"):
        wait_condition(cluster, namespace, "modelversions", name, "Ready", "True")

    apply(cluster, docs, applier)  # no conflict with anything the operator wrote
    server_side = "--server-side" in applier.flags
    diff = kubectl("--kubeconfig", str(cluster.kubeconfig), "diff", *applier.flags, "-f", "-",
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
            assert appliers == {applier.manager}


def test_promotion_by_pull_request_rollback_by_revert_and_pruning_under_load(
    cluster, namespace, repo: Repo, iris: Trained
):
    """Production pins the version in Git: switching the pin and reverting it fail no
    request; a version pruned from Git is deleted, and a pin left naming it gives the
    Model a condition that says so."""
    applier = flux()
    assert applier.prune, "the shipped Flux Kustomization prunes"
    applied = repo.render(applier)
    apply(cluster, applied, applier)
    for name in ("ctr-v1", "ctr-v2"):
        wait_condition(cluster, namespace, "modelversions", name, "Ready", "True")
    ip, rows = address(cluster, namespace, "ctr"), iris.rows[:2]
    wait_for(lambda: served_by(ip, namespace, rows) == "ctr-v1", timeout=60,
             what="ctr-v1 to serve")  # fmt: skip

    with Load(ip, service_host("ctr", namespace), "ctr", rows) as load:
        under_way(load)
        for pin in ("ctr-v2", "ctr-v1", "ctr-v2"):  # promote, revert, promote again
            repo.pin(pin)
            applied = repo.render(applier)
            assert get_pin(applied) == pin
            switched = time.monotonic()
            apply(cluster, applied, applier)
            answered_by(load, pin, switched)
    assert len(load.answers) > 300, "the load ran"
    assert load.failures() == [], f"{len(load.failures())} of {len(load.answers)} failed"

    # ctr-v1 leaves Git: Flux deletes it, and ctr-v2 serves on.
    repo.drop("ctr-v1")
    pruned = repo.render(applier)
    apply(cluster, pruned, applier)
    prune(cluster, applied, pruned)
    wait_for(lambda: not version_exists(cluster, namespace, "ctr-v1"), timeout=60,
             what="ctr-v1 to be deleted")  # fmt: skip
    assert served_by(ip, namespace, rows) == "ctr-v2"

    # ctr-v2 leaves Git too, while the pin still names it: a clear condition, and the URL
    # answers saying what is missing instead of failing to connect.
    repo.drop("ctr-v2")
    broken = repo.render(applier)
    apply(cluster, broken, applier)
    prune(cluster, pruned, broken)
    model = wait_condition(cluster, namespace, "models", "ctr", "Ready", "False",
                           "PinnedVersionMissing", timeout=60)  # fmt: skip
    assert "ctr-v2" in condition(model, "Ready")["message"]
    answer = wait_for(lambda: _answered(ip, namespace, rows), timeout=60,
                      what="the Model's URL to answer without ctr-v2")  # fmt: skip
    assert answer.status == 503, answer.body
    assert "ctr-v2" in answer.body


def get_pin(docs: list[dict[str, Any]]) -> str | None:
    model = next(d for d in docs if d["kind"] == "Model")
    return model["spec"].get("defaultVersion")


def _answered(ip: str, namespace: str, rows: list[list[float]]) -> Any:
    answer = send(ip, service_host("ctr", namespace), "ctr", rows, timeout=20)
    return answer if answer.status not in (0, 200) else None
