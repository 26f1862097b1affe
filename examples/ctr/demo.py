"""``make demo``: from a model trained here to predictions served by the cluster.

Installs the chart (operator + CRDs) with the locally built images, trains the CTR
pipeline, deploys it with ``modelops deploy``, asks the cluster for predictions and
prints them beside the local ones, and says how long apply → Ready took.
Needs a running cluster with the images loaded (the Makefile target sees to it).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE))

from train import impressions, train  # noqa: E402

NAMESPACE = os.environ.get("DEMO_NAMESPACE", "modelops-demo")
SYSTEM = "modelops-system"
BUCKET = "modelops-demo"


def sh(*cmd: str, capture: bool = False) -> str:
    done = subprocess.run(cmd, check=True, text=True, capture_output=capture)
    return done.stdout.strip() if capture else ""


def make(target: str) -> str:
    return sh("make", "-s", "--no-print-directory", "-C", str(REPO), target, capture=True)


def helm() -> str:
    """The pinned Helm that ``make demo`` builds (and exports as HELM), else one on PATH."""
    return os.environ.get("HELM") or "helm"


def s3_env() -> dict[str, str]:
    lines = Path(make("s3-env-file")).read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))


def kubectl(*args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        ["kubectl", *args], input=stdin, text=True, capture_output=True, check=False
    )
    if done.returncode and "AlreadyExists" not in done.stderr:
        raise SystemExit(f"kubectl {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


def install(env: dict[str, str]) -> None:
    print(f"== installing the operator (charts/modelops) into {SYSTEM}")
    kubectl("apply", "--server-side", "--force-conflicts", "-f", str(REPO / "crds"))
    chart = str(REPO / "charts" / "modelops")
    # The built images' ids as pod annotations: rebuilt :dev images roll the pods, and an
    # install whose images did not change is left alone.
    rolls = []
    for part, image in (("operator", "modelops-operator"), ("activator", "modelops-runtime")):
        rolls += ["--set-string", f"{part}.podAnnotations.modelops\\.dev/image={image_id(image)}"]
    sh(helm(), "upgrade", "--install", "modelops", chart, "--namespace", SYSTEM,
       "--create-namespace", "--skip-crds", *rolls)  # fmt: skip
    wait_installed(("modelops-operator", "modelops-activator"))
    kubectl("create", "namespace", NAMESPACE)
    env_file = make("s3-env-file")
    secret = kubectl("-n", NAMESPACE, "create", "secret", "generic", "modelops-storage",
                     "--from-env-file", env_file, "--dry-run=client", "-o", "json")  # fmt: skip
    kubectl("apply", "-f", "-", stdin=secret)
    import boto3

    s3 = boto3.client(
        "s3",
        endpoint_url=env["AWS_ENDPOINT_URL"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name=env.get("AWS_DEFAULT_REGION", "us-east-1"),
    )
    if BUCKET not in {b["Name"] for b in s3.list_buckets().get("Buckets", [])}:
        s3.create_bucket(Bucket=BUCKET)


def image_id(name: str) -> str:
    """The id of the image ``make images`` built last (its archive's .id file)."""
    cache = Path(os.environ.get("MODELOPS_CACHE", Path.home() / ".cache" / "modelops"))
    found = cache / "images" / f"{name}.tar.id"
    return found.read_text().strip()[:20] if found.is_file() else "unknown"


BROKEN = {"CrashLoopBackOff", "ErrImagePull", "ImagePullBackOff", "ErrImageNeverPull",
          "CreateContainerError", "CreateContainerConfigError", "InvalidImageName"}  # fmt: skip


def wait_installed(deployments: tuple[str, ...], timeout: float = 180) -> None:
    """Until every pod of these Deployments is new and ready; a container that ends or
    cannot start stops the demo at once, with what its pod says and its last log lines."""
    deadline = time.monotonic() + timeout
    while True:
        pods = json.loads(kubectl("-n", SYSTEM, "get", "pods", "-o", "json"))["items"]
        for pod in pods:
            if pod["metadata"].get("deletionTimestamp"):
                continue
            for status in pod["status"].get("containerStatuses") or []:
                waiting = (status["state"].get("waiting") or {}).get("reason", "")
                ended = "terminated" in status["state"] or (
                    status.get("restartCount") and not status.get("ready")
                )
                if waiting in BROKEN or ended:
                    name = pod["metadata"]["name"]
                    logs = subprocess.run(
                        ["kubectl", "-n", SYSTEM, "logs", name, "--all-containers", "--tail=30",
                         *(["--previous"] if status.get("restartCount") else [])],
                        capture_output=True, text=True, check=False)  # fmt: skip
                    raise SystemExit(f"the operator install is broken: pod {name}: "
                                     f"{waiting or 'its container ended'}\n{logs.stdout}"
                                     f"{logs.stderr}")  # fmt: skip
        done = []
        for deployment in deployments:
            found = json.loads(kubectl("-n", SYSTEM, "get", "deployment", deployment, "-o", "json"))
            want, status = found["spec"]["replicas"], found.get("status") or {}
            done.append(status.get("observedGeneration") == found["metadata"]["generation"]
                        and status.get("updatedReplicas") == want == status.get("readyReplicas")
                        and status.get("replicas") == want)  # fmt: skip
        if all(done):
            return
        if time.monotonic() > deadline:
            raise SystemExit(f"the operator install is not ready after {timeout:.0f}s:\n"
                             + kubectl("-n", SYSTEM, "get", "pods", "-o", "wide"))  # fmt: skip
        time.sleep(1)


def main() -> None:
    os.environ.setdefault("KUBECONFIG", make("kubeconfig"))
    env = s3_env()
    os.environ.update(env)
    install(env)

    print("== training a click-through-rate model: pandas records → DictVectorizer → XGBoost")
    model, auc, test_rows = train(impressions(5000))
    path = HERE / "build" / "ctr.joblib"
    path.parent.mkdir(exist_ok=True)
    import joblib

    joblib.dump(model, path)
    print(f"   test AUC {auc:.3f}, saved {path.relative_to(REPO)}")

    # Each run adds a version; the Model keeps the newest two (retention) and serves the
    # newest Ready one (no pin).
    model_spec = {"description": "click-through rate", "retention": {"keepLast": 2}}
    kubectl("-n", NAMESPACE, "apply", "-f", "-", stdin=json.dumps(
        {"apiVersion": "modelops.dev/v1alpha1", "kind": "Model", "metadata": {"name": "ctr"},
         "spec": model_spec}))  # fmt: skip
    version = time.strftime("v%Y%m%d-%H%M%S")
    print(f"== modelops deploy {path.name} --model ctr --version {version}")
    started = time.monotonic()
    store = f"s3://{BUCKET}/models"
    # Ready in seconds here; two minutes before the demo gives up and says what it saw.
    sh(sys.executable, "-m", "modelops_cli.main", "deploy", str(path), "--model", "ctr",
       "--version", version, "--store", store, "--namespace", NAMESPACE,
       "--timeout", "120")  # fmt: skip
    took = time.monotonic() - started

    wait_serving(f"ctr-{version}")
    show(model, test_rows[:10], took)
    retrain(store)


def retrain(store: str) -> None:
    """The daily retraining, once: the trainer package trained on the cluster on the seven
    days before today, behind the promotion gate (it must beat the serving version on the
    same held-out day), then serving."""
    from datetime import date, timedelta

    from trainer.data import day_frame, records, write_days

    from modelops_cli.predict_command import predict

    data = f"s3://{BUCKET}/ctr-days"
    print(f"\n== synthetic click logs: the 10 days before today into {data}")
    write_days(data, date.today() - timedelta(days=1), 10)
    print("== modelops train submit --package-path examples/ctr/trainer --module trainer.train "
          "--promote-metric auc --goal maximize --follow")  # fmt: skip
    job = time.strftime("ctr-train-%Y%m%d-%H%M%S")
    sh(sys.executable, "-m", "modelops_cli.main", "train", "submit", "--name", job,
       "--package-path", str(HERE / "trainer"), "--module", "trainer.train", "--model", "ctr",
       "--store", store, "--namespace", NAMESPACE, "--promote-metric", "auc",
       "--goal", "maximize", "--follow", "--timeout", "300", "--", f"--data={data}")  # fmt: skip
    status = json.loads(kubectl("-n", NAMESPACE, "get", "trainingjob", job, "-o", "json"))
    decision = status.get("status", {}).get("promotion") or {}
    print(f"   promotion: {decision.get('decision')}: {decision.get('reason')}")
    if decision.get("decision") != "Promoted":
        raise SystemExit("the trained version was not promoted")
    wait_serving(str(decision["version"]))
    rows = records(day_frame(date.today() - timedelta(days=1), rows=5))
    print(f"== {decision['version']} serves ctr: clicked? {predict(NAMESPACE, 'ctr', rows)}")


def wait_serving(name: str, timeout: float = 60) -> None:
    """The Model's Service follows its newest Ready version within a resync period."""
    from modelops_cli.resources import get_model

    deadline = time.monotonic() + timeout
    while (get_model(NAMESPACE, "ctr") or {}).get("status", {}).get("servingVersion") != name:
        if time.monotonic() > deadline:
            raise SystemExit(f"Model ctr does not serve {name} after {timeout:.0f}s")
        time.sleep(0.5)


def show(model: Any, rows: list[dict[str, Any]], took: float) -> None:
    from modelops_cli.predict_command import predict

    remote = predict(NAMESPACE, "ctr", rows)
    local = model.predict(rows).tolist()
    print(f"\n== predictions via http://ctr.{NAMESPACE}.svc.cluster.local/v1/models/ctr:predict")
    print(f"{'site':8} {'device':8} {'hour':>4} {'position':>8}  {'cluster':>7} {'local':>5}")
    for row, theirs, ours in zip(rows, remote, local, strict=True):
        print(
            f"{row['site']:8} {row['device']:8} {row['hour']:>4} {row['position']:>8}  "
            f"{theirs!s:>7} {ours!s:>5}"
        )
    print(f"\ncluster == local: {remote == local}; upload + apply → Ready took {took:.1f}s")
    if remote != local:
        raise SystemExit("the cluster's predictions differ from the local ones")


if __name__ == "__main__":
    main()
