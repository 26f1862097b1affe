"""``modelops train submit|list|describe|logs|cancel`` and ``modelops logs`` on the real
cluster: the TrainingJob as the API server stores it, and logs read from the pods
labelled ``modelops.dev/trainingjob=NAME``.

The tests' namespaces are served by no operator install, so that what the CLI reads is
only what the test made: the run's pod, as the operator's Job makes it (the label, the
trainer container) and, where a test needs an outcome, the TrainingJob's status as the
operator writes it. Those two are the stand-ins for the operator; the operator's own
end-to-end tests (test_training.py) run the real thing.
"""

from __future__ import annotations

import io
import json
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from modelops_cli import train_command, training_logs
from tests.e2e.conftest import REPO_ROOT, Cluster
from tests.e2e.kube import wait_for
from tests.e2e.operator_fixtures import run_with_kubeconfig

GROUP, VERSION, PLURAL = "modelops.dev", "v1alpha1", "trainingjobs"
TINY = REPO_ROOT / "tests" / "integration" / "trainers" / "tiny"


@pytest.fixture(scope="module")
def trainingjob_crd(cluster: Cluster) -> None:
    crd = REPO_ROOT / "crds" / "modelops.dev_trainingjobs.yaml"
    run_with_kubeconfig(
        ["kubectl", "apply", "--server-side", "--force-conflicts", "-f", str(crd)],
        cluster.kubeconfig,
    )

    def established() -> bool:
        found = client.ApiextensionsV1Api(cluster.api).read_custom_resource_definition(
            f"{PLURAL}.{GROUP}"
        )
        return any(
            c.type == "Established" and c.status == "True" for c in found.status.conditions or []
        )

    wait_for(established, timeout=60, what="the TrainingJob CRD to be established")


pytestmark = pytest.mark.usefixtures("trainingjob_crd", "kube_env")


@pytest.fixture
def namespace(cluster: Cluster) -> Iterator[str]:
    """A namespace of its own, labelled for an install that does not exist."""
    name = f"e2e-train-cli-{secrets.token_hex(3)}"
    labels = {"modelops.dev/e2e": "true", "modelops.dev/instance": "none"}
    cluster.core.create_namespace(
        client.V1Namespace(metadata=client.V1ObjectMeta(name=name, labels=labels))
    )
    yield name
    cluster.core.delete_namespace(name, propagation_policy="Foreground")


def modelops(cluster: Cluster, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "modelops_cli.main", *args],
        env={**os.environ, "KUBECONFIG": str(cluster.kubeconfig)},
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def trainingjob(cluster: Cluster, namespace: str, name: str) -> dict[str, Any]:
    found: dict[str, Any] = client.CustomObjectsApi(cluster.api).get_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, name
    )
    return found


def run_pod(cluster: Cluster, namespace: str, job: str, image: str, script: str) -> str:
    """The pod a run's Job would make: labelled for its TrainingJob, one container."""
    name = f"{job}-run"
    restricted = client.V1SecurityContext(
        allow_privilege_escalation=False, run_as_non_root=True,
        capabilities=client.V1Capabilities(drop=["ALL"]),
        seccomp_profile=client.V1SeccompProfile(type="RuntimeDefault"),
    )  # fmt: skip
    pod = client.V1Pod(
        metadata=client.V1ObjectMeta(name=name, labels={training_logs.TRAINING_JOB_LABEL: job}),
        spec=client.V1PodSpec(
            restart_policy="Never",
            containers=[
                client.V1Container(
                    name="trainer", image=image, image_pull_policy="Never",
                    command=["python", "-c", script], security_context=restricted,
                )
            ],
        ),
    )  # fmt: skip
    cluster.core.create_namespaced_pod(namespace, pod)
    return name


def trainer_script(lines: int, result: dict[str, Any], exit_code: int) -> str:
    """Prints its progress, then reports as the trainer entrypoint does."""
    return (
        "import json, sys, time\n"
        f"for i in range({lines}):\n"
        "    print(f'epoch {i}', flush=True); time.sleep(0.3)\n"
        f"open('/dev/termination-log', 'w').write(json.dumps({result!r}))\n"
        f"sys.exit({exit_code})\n"
    )


def pod_phase(cluster: Cluster, namespace: str, name: str) -> str:
    return str(cluster.core.read_namespaced_pod(name, namespace).status.phase)


def test_submit_follow_logs_list_describe_cancel(
    cluster: Cluster, namespace: str, runtime_image: str, tmp_path: Path
) -> None:
    store = f"file://{tmp_path}/store"
    done = modelops(
        cluster, "train", "submit", "--package-path", str(TINY), "--module", "tinytrainer.quick",
        "--model", "quick", "--store", store, "--name", "quick-once", "-n", namespace,
        "--promote-metric", "score", "--goal", "maximize", "--", "--C=0.5",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert f"applied TrainingJob quick-once (namespace {namespace})" in done.stdout
    assert "created Model quick" in done.stdout
    spec = trainingjob(cluster, namespace, "quick-once")["spec"]
    package = spec.pop("package")
    assert package.startswith(f"{store}/quick/packages/")
    assert package.endswith("/tinytrainer-0.1.0-py3-none-any.whl")
    assert Path(package.removeprefix("file://")).is_file()
    assert spec["module"] == "tinytrainer.quick"
    assert (spec["model"], spec["args"], spec["output"]) == ("quick", ["--C=0.5"], store)
    assert spec["promotion"]["metric"] == "score"

    # Submitting again with the same name updates the job (the CLI's own field manager).
    again = modelops(
        cluster, "train", "submit", "--package-path", str(TINY), "--module", "tinytrainer.quick",
        "--model", "quick", "--store", store, "--name", "quick-once", "-n", namespace,
        "--", "--C=0.75",
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    spec = trainingjob(cluster, namespace, "quick-once")["spec"]
    assert (spec["args"], "promotion" in spec) == (["--C=0.75"], False)

    follower = subprocess.Popen(
        [sys.executable, "-m", "modelops_cli.main", "logs", "quick-once", "--follow",
         "--timeout", "180", "-n", namespace],
        env={**os.environ, "KUBECONFIG": str(cluster.kubeconfig)},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    report = {"reason": "Trained", "artifact_uri": f"{store}/quick/quick-v1/",
              "metrics": {"score": 0.75}}  # fmt: skip
    pod = run_pod(cluster, namespace, "quick-once", runtime_image, trainer_script(5, report, 0))
    wait_for(lambda: pod_phase(cluster, namespace, pod) == "Succeeded", timeout=120,
             what="the run's pod to succeed")  # fmt: skip
    status = {"phase": "Succeeded", "version": "quick-v1", "metrics": {"score": 0.75}}
    client.CustomObjectsApi(cluster.api).patch_namespaced_custom_object_status(
        GROUP, VERSION, namespace, PLURAL, "quick-once", {"status": status}
    )
    out, err = follower.communicate(timeout=120)
    assert follower.returncode == 0, out + err
    assert out.startswith(f"==> pod {pod} <==\nepoch 0\nepoch 1\n")
    assert "epoch 4\n" in out
    assert out.rstrip().endswith("TrainingJob quick-once succeeded: version quick-v1 (score=0.75)")
    assert f"pod {pod}: Trained" in err  # what the pod reported, as it ended

    logs = modelops(cluster, "logs", "quick-once", "-n", namespace)
    assert logs.returncode == 0, logs.stderr
    assert logs.stdout == "".join(f"epoch {i}\n" for i in range(5))
    listed = modelops(cluster, "train", "list", "-n", namespace)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines()[1].split()[:4] == [
        "quick-once", "quick", "Succeeded", "quick-v1",
    ]  # fmt: skip
    described = modelops(cluster, "train", "describe", "quick-once", "-n", namespace)
    assert "phase:      Succeeded" in described.stdout
    assert "code:       tinytrainer.quick from file://" in described.stdout

    cancelled = modelops(cluster, "train", "cancel", "quick-once", "-n", namespace)
    assert cancelled.returncode == 0, cancelled.stderr
    assert "cancelled TrainingJob quick-once" in cancelled.stdout
    annotations = trainingjob(cluster, namespace, "quick-once")["metadata"]["annotations"]
    assert annotations["modelops.dev/trainingjob-cancel"] == "true"

    client.CustomObjectsApi(cluster.api).delete_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, "quick-once"
    )
    for args in (("train", "cancel", "quick-once"), ("logs", "quick-once", "-f"),
                 ("train", "describe", "quick-once")):  # fmt: skip
        gone = modelops(cluster, *args, "-n", namespace)
        assert gone.returncode == 1
        assert gone.stderr.strip() == (
            f"modelops: no TrainingJob `quick-once` in namespace `{namespace}`; there are no "
            f"TrainingJobs (start one with: modelops train submit ... -n {namespace})"
        )


def test_a_failed_run_without_a_recorded_outcome_shows_the_pods_report(
    cluster: Cluster, namespace: str, runtime_image: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The TrainingJob records nothing (no operator): the pod's own report is the outcome."""
    spec = {
        "model": "quick",
        "package": "file:///p/t.whl",
        "module": "t.train",
        "output": "file:///s",
    }
    train_command.apply(namespace, "quick-alone", spec)
    report = {"reason": "TrainerFailed", "exit_code": 1,
              "message": "the trainer exited with code 1: ValueError: boom"}  # fmt: skip
    pod = run_pod(cluster, namespace, "quick-alone", runtime_image, trainer_script(3, report, 1))
    monkeypatch.setattr(training_logs, "RECORD_GRACE", 2.0)
    out, said = io.BytesIO(), []
    ok, text = training_logs.follow(namespace, "quick-alone", timeout=180, out=out, say=said.append)
    assert not ok
    assert text == (
        "TrainingJob quick-alone: its pod failed: TrainerFailed: the trainer exited with code 1: "
        "ValueError: boom"
    )
    assert out.getvalue().decode() == f"==> pod {pod} <==\nepoch 0\nepoch 1\nepoch 2\n"
    assert json.dumps(said).count("TrainerFailed") == 1
