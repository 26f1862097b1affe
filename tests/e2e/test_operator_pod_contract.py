"""The predictor pod's contract, run on this machine: the exact container arguments the
operator builds, against the cluster's real S3 server and the real runtime CLI.

The fetch step's termination message is turned into the ModelVersion's conditions by
the operator's own status functions, and the predictor step serves the model under the
Model's name. Only the kubelet is missing here; test_operator_serving.py covers it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from modelops_operator.api.common import Predictor
from modelops_operator.api.modelversion import ModelVersionSpec
from modelops_operator.api.schema import parse
from modelops_operator.meta import Owner
from modelops_operator.modelversion.builders import (
    CACHE_DIR,
    MODEL_DIR,
    PredictorInputs,
    deployment,
)
from modelops_operator.modelversion.status import Observed, version_status
from modelops_operator.pods import TERMINATION_LOG
from tests.e2e.conftest import S3
from tests.e2e.operator_support import upload
from tests.ports import free_port


def containers(uri: str, sha256: str = "", fmt: str = "", **spec: Any) -> dict[str, dict[str, Any]]:
    """The fetch and predictor containers the operator builds for this version."""
    artifact = {
        "uri": uri,
        **({"sha256": sha256} if sha256 else {}),
        **({"format": fmt} if fmt else {}),
    }
    parsed = parse(ModelVersionSpec, {"model": "iris", "artifact": artifact, **spec})
    owner = Owner("ModelVersion", "iris-v1", "ns", "uid")
    pod = deployment(PredictorInputs(owner, parsed, Predictor(), "image", 1))["spec"]["template"][
        "spec"
    ]
    return {c["name"]: c for c in pod["initContainers"] + pod["containers"]}


def localize(args: list[str], root: Path) -> list[str]:
    """The pod's paths, moved under ``root`` on this machine."""
    mapping = {MODEL_DIR: str(root / "models"), TERMINATION_LOG: str(root / "termination-log")}
    return [mapping.get(a, a.replace(MODEL_DIR + "/", str(root / "models") + "/")) for a in args]


def run_step(container: dict[str, Any], root: Path, s3: S3, **popen: Any) -> Any:
    env = {**os.environ, **s3.env, **{e["name"]: e["value"] for e in container["env"]}}
    env["MODELOPS_CACHE_DIR"] = env["MODELOPS_CACHE_DIR"].replace(CACHE_DIR, str(root / "cache"))
    python, *module = container["command"]  # python -m modelops_runtime, as in the pod
    assert python == "python"
    command = [sys.executable, *module, *localize(container["args"], root)]
    if popen:
        return subprocess.Popen(command, env=env, **popen)
    return subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def pod_after_fetch(root: Path, exit_code: int) -> dict[str, Any]:
    message = (root / "termination-log").read_text()
    terminated = {"exitCode": exit_code, "message": message, "finishedAt": "2026-01-01T00:00:00Z"}
    return {
        "status": {
            "initContainerStatuses": [{"name": "fetch", "state": {"terminated": terminated}}]
        }
    }


def fetch_and_judge(
    uri: str, sha256: str, s3: S3, root: Path, **spec: Any
) -> tuple[Any, dict[str, Any]]:
    done = run_step(containers(uri, sha256, **spec)["fetch"], root, s3)
    status = version_status(
        Observed(1, {"status": {}}, [pod_after_fetch(root, done.returncode)]), {}, 1, "t"
    )
    return done, status


def by_type(status: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {c["type"]: (c["status"], c["reason"]) for c in status["conditions"]}


def test_verified_artifact_is_served_under_the_model_name(s3, s3_bucket, iris, tmp_path):
    uri, sha = upload(s3, s3_bucket, "iris/v1", iris, {"accuracy": 0.97})
    done, status = fetch_and_judge(uri, sha, s3, tmp_path)
    assert done.returncode == 0, done.stderr
    assert by_type(status)["ArtifactVerified"] == ("True", "Verified")
    assert by_type(status)["RuntimeCompatible"] == ("True", "Compatible")
    assert status["metrics"] == {"accuracy": 0.97}
    assert status["sha256"] == sha
    assert status["frameworkVersions"]["sklearn"]

    port = free_port()
    serve = containers(uri, sha)["predictor"]
    serve["args"] = [a if a != "8080" else str(port) for a in serve["args"]]
    serve["args"][serve["args"].index("--host") + 1] = "127.0.0.1"
    with tempfile.TemporaryFile() as log:
        process = run_step(serve, tmp_path, s3, stdout=log, stderr=log)
        try:
            _wait_ready(port)
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/v1/models/iris:predict",
                data=json.dumps({"instances": iris.rows}).encode(),
                headers={"Content-Type": "application/json"},
            )
            with urllib.request.urlopen(request, timeout=10) as reply:
                assert json.loads(reply.read())["predictions"] == iris.local_predict().tolist()
        finally:
            process.terminate()
            process.wait(timeout=20)


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("missing", "ArtifactNotFound"),
        ("checksum", "ChecksumMismatch"),
        ("format", "FormatMismatch"),
    ],
)
def test_artifact_failures_become_conditions(s3, s3_bucket, iris, tmp_path, case, reason):
    uri, sha = upload(s3, s3_bucket, "iris/v1", iris)
    fmt = ""
    if case == "missing":
        uri, sha = f"s3://{s3_bucket}/nothing/model.joblib", ""
    elif case == "checksum":
        sha = "0" * 64
    else:
        fmt = "xgboost-json"  # the file is a joblib pickle
    done = run_step(containers(uri, sha, fmt)["fetch"], tmp_path, s3)
    assert done.returncode != 0
    status = version_status(
        Observed(1, {"status": {}}, [pod_after_fetch(tmp_path, done.returncode)]), {}, 1, "t"
    )
    assert by_type(status)["ArtifactVerified"] == ("False", reason)
    assert by_type(status)["Ready"] == ("False", reason)
    assert status["phase"] == "Failed"


def test_version_mismatch_is_named_and_can_be_allowed(s3, s3_bucket, iris, tmp_path):
    uri, sha = upload(s3, s3_bucket, "iris/v1", iris)
    old = {
        "framework": "sklearn",
        "framework_versions": {"sklearn": "1.0.2", "numpy": "1.21.0"},
        "metrics": {},
    }
    s3.client().put_object(
        Bucket=s3_bucket, Key="iris/v1/metadata.json", Body=json.dumps(old).encode()
    )
    done, status = fetch_and_judge(uri, sha, s3, tmp_path / "strict")
    assert done.returncode != 0
    ready = next(c for c in status["conditions"] if c["type"] == "RuntimeCompatible")
    assert (ready["status"], ready["reason"]) == ("False", "VersionMismatch")
    assert "1.0.2" in ready["message"]
    assert by_type(status)["Ready"] == ("False", "VersionMismatch")

    done, status = fetch_and_judge(uri, sha, s3, tmp_path / "allowed", allowVersionMismatch=True)
    assert done.returncode == 0, done.stderr
    assert by_type(status)["RuntimeCompatible"] == ("False", "VersionMismatchAllowed")
    assert by_type(status)["ArtifactVerified"] == ("True", "Verified")


def _wait_ready(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(
                f"http://127.0.0.1:{port}/v2/health/ready", timeout=2
            ) as reply:
                if reply.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"predictor on port {port} not ready after {timeout}s")
