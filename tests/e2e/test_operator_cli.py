"""``modelops deploy`` does the whole flow from a local .joblib; the other commands follow."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

# The session's operator and each test's storage Secret (fixtures shared by these modules).
from tests.e2e.operator_support import get, wait_condition

pytestmark = pytest.mark.usefixtures("operator", "storage_secret")


def modelops(cluster, s3, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **s3.env, "KUBECONFIG": str(cluster.kubeconfig)}
    return subprocess.run(
        [sys.executable, "-m", "modelops_cli.main", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=400,
        check=False,
    )


def test_deploy_predict_switch_delete(cluster, namespace, s3, s3_bucket, ctr, tmp_path):
    store = f"s3://{s3_bucket}/models"
    done = modelops(
        cluster,
        s3,
        "deploy",
        str(ctr.path),
        "--model",
        "ctr",
        "--version",
        "v1",
        "--store",
        store,
        "-n",
        namespace,
    )
    assert done.returncode == 0, done.stderr + done.stdout
    assert "ctr-v1 is Ready after" in done.stdout
    assert f"http://ctr.{namespace}.svc.cluster.local/v1/models/ctr:predict" in done.stdout

    rows = tmp_path / "rows.json"
    rows.write_text(json.dumps({"instances": ctr.rows}))
    done = modelops(cluster, s3, "predict", "ctr", "--instances", str(rows), "-n", namespace)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["predictions"] == ctr.local_predict().tolist()

    done = modelops(
        cluster,
        s3,
        "deploy",
        str(ctr.path),
        "--model",
        "ctr",
        "--version",
        "v2",
        "--store",
        store,
        "-n",
        namespace,
    )
    assert done.returncode == 0, done.stderr + done.stdout
    done = modelops(cluster, s3, "set-default", "ctr", "v1", "-n", namespace)
    assert done.returncode == 0, done.stderr
    assert get(cluster, namespace, "models", "ctr")["spec"]["defaultVersion"] == "ctr-v1"
    wait_condition(cluster, namespace, "models", "ctr", "Ready", "True")
    done = modelops(cluster, s3, "versions", "ctr", "-n", namespace)
    lines = done.stdout.splitlines()
    assert lines[0].split()[:2] == ["VERSION", "SERVING"]
    assert any(line.split()[:2] == ["ctr-v1", "pinned"] for line in lines)

    done = modelops(cluster, s3, "delete", "ctr", "v2", "-n", namespace)
    assert done.returncode == 0, done.stderr
    done = modelops(cluster, s3, "delete", "ctr", "-n", namespace)
    assert "deleted Model ctr" in done.stdout


def test_deploy_reports_a_failure_and_exits_non_zero(cluster, namespace, s3, s3_bucket, tmp_path):
    not_a_model = tmp_path / "notes.joblib"
    not_a_model.write_bytes(b"hello, not a pickle")
    done = modelops(cluster, s3, "deploy", str(not_a_model), "--model", "x", "--version", "v1",
                    "--store", f"s3://{s3_bucket}/m", "-n", namespace)  # fmt: skip
    assert done.returncode == 1
    assert "UnknownFormat" in done.stderr
