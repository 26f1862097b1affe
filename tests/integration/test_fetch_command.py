"""``fetch``, a predictor pod's init step: the verdict the operator reads back.

Pods run ``python -m modelops_runtime fetch``; ``modelops fetch`` is the same command.
Every verdict is read back the way the operator reads it, with ``Verdict.from_termination``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from modelops_cli.main import main as modelops_main
from modelops_contracts.verdict import Verdict
from modelops_runtime.artifacts import installed_framework_versions
from modelops_runtime.commands import main as runtime_main
from tests.models import Trained


def _fetch(tmp_path: Path, *args: str, main=runtime_main) -> tuple[int, Verdict]:
    log = tmp_path / "termination-log"
    dest = str(tmp_path / "shared")
    code = main(["fetch", *args, "--dest", dest, "--termination-log", str(log)])
    return code, Verdict.from_termination(log.read_text(), code)


def test_success_places_the_model_and_reports_what_it_is(
    tmp_path: Path, booster_ubj: Trained
) -> None:
    code, verdict = _fetch(tmp_path, str(booster_ubj.path))
    assert code == 0
    assert verdict.verified
    assert verdict.format == "xgboost-ubj"
    assert verdict.framework == "xgboost"
    assert verdict.sha256 == booster_ubj.sha256()
    assert verdict.runtime_versions["xgboost"]
    placed = tmp_path / "shared" / "model" / booster_ubj.path.name
    assert placed.read_bytes() == booster_ubj.path.read_bytes()
    assert [p.name for p in (tmp_path / "shared").iterdir()] == ["model"]  # no leftovers


def test_recorded_metadata_travels_with_the_model(tmp_path: Path, iris: Trained) -> None:
    folder = tmp_path / "artifact"
    folder.mkdir()
    (folder / "model.joblib").write_bytes(iris.path.read_bytes())
    sklearn = installed_framework_versions()["sklearn"]
    recorded = {"framework_versions": {"sklearn": sklearn}, "metrics": {"f1": 0.9}}
    (folder / "metadata.json").write_text(json.dumps(recorded))
    code, verdict = _fetch(tmp_path, str(folder))
    assert code == 0
    assert verdict.recorded_versions == {"sklearn": sklearn}
    assert verdict.metrics == {"f1": 0.9}
    placed = tmp_path / "shared" / "model"
    assert sorted(p.name for p in placed.iterdir()) == ["metadata.json", "model.joblib"]


@pytest.mark.parametrize(
    ("args", "reason", "condition"),
    [
        (["--sha256", "0" * 64], "ChecksumMismatch", "ArtifactVerified"),
        (["--format", "skops"], "FormatMismatch", "ArtifactVerified"),
    ],
)
def test_failures_name_the_condition_and_reason(
    tmp_path: Path, iris: Trained, args: list[str], reason: str, condition: str
) -> None:
    code, verdict = _fetch(tmp_path, str(iris.path), *args)
    assert code == 1
    assert (verdict.reason, verdict.condition) == (reason, condition)
    assert verdict.message
    assert not (tmp_path / "shared" / "model").exists()


def test_missing_artifact(tmp_path: Path) -> None:
    code, verdict = _fetch(tmp_path, str(tmp_path / "absent.joblib"))
    assert (code, verdict.reason) == (1, "ArtifactNotFound")


def test_version_mismatch_is_a_runtime_problem(tmp_path: Path, iris: Trained) -> None:
    folder = tmp_path / "artifact"
    folder.mkdir()
    (folder / "model.joblib").write_bytes(iris.path.read_bytes())
    (folder / "metadata.json").write_text(json.dumps({"framework_versions": {"sklearn": "0.24.2"}}))
    code, verdict = _fetch(tmp_path, str(folder))
    assert code == 1
    assert verdict.condition == "RuntimeCompatible"
    assert verdict.reason == "VersionMismatch"
    assert "sklearn 0.24.2" in verdict.message


def test_an_allowed_version_mismatch_is_verified_and_listed(tmp_path: Path, iris: Trained) -> None:
    folder = tmp_path / "artifact"
    folder.mkdir()
    (folder / "model.joblib").write_bytes(iris.path.read_bytes())
    (folder / "metadata.json").write_text(json.dumps({"framework_versions": {"sklearn": "0.24.2"}}))
    code, verdict = _fetch(tmp_path, str(folder), "--allow-version-mismatch")
    assert code == 0
    assert verdict.verified
    (problem,) = verdict.version_problems
    assert "saved with sklearn 0.24.2" in problem


def test_an_unexpected_failure_still_writes_a_verdict(tmp_path: Path, iris: Trained) -> None:
    (tmp_path / "shared").write_text("a file where the model folder should be")
    code, verdict = _fetch(tmp_path, str(iris.path))
    assert code == 1
    assert verdict.reason == "VerificationFailed"
    assert verdict.condition == "ArtifactVerified"
    assert "shared" in verdict.message


def test_modelops_fetch_is_the_same_command(tmp_path: Path, iris: Trained) -> None:
    code, verdict = _fetch(tmp_path, str(iris.path), "--sha256", "0" * 64, main=modelops_main)
    assert (code, verdict.reason) == (1, "ChecksumMismatch")
    code, verdict = _fetch(tmp_path, str(iris.path), main=modelops_main)
    assert (code, verdict.reason, verdict.format) == (0, "Verified", "joblib")


def test_python_m_modelops_runtime_fetch_as_a_pod_runs_it(tmp_path: Path, iris: Trained) -> None:
    log = tmp_path / "termination-log"
    command = [
        sys.executable, "-m", "modelops_runtime", "fetch", str(iris.path),
        "--dest", str(tmp_path / "shared"), "--termination-log", str(log),
        "--sha256", iris.sha256(), "--format", "joblib", "--allow-version-mismatch",
    ]  # fmt: skip
    finished = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert finished.returncode == 0, finished.stderr
    verdict = Verdict.from_termination(log.read_text(), finished.returncode)
    assert (verdict.reason, verdict.framework, verdict.sha256) == (
        "Verified",
        "sklearn",
        iris.sha256(),
    )
    assert json.loads(finished.stdout) == json.loads(log.read_text())  # the same line on stdout
    assert (tmp_path / "shared" / "model" / iris.path.name).exists()


def test_verifying_a_booster_in_a_folder_never_imports_sklearn(
    tmp_path: Path, booster_ubj: Trained
) -> None:
    """The fetch step judges the framework by the downloaded file (a folder's name says
    nothing) and imports XGBoost without scikit-learn, as a Booster's predictor does. In a
    process of its own, as in a pod: the check is which modules it ended with."""
    folder = tmp_path / "artifact"
    folder.mkdir()
    (folder / "model.ubj").write_bytes(booster_ubj.path.read_bytes())
    script = (
        "import sys\n"
        "from modelops_runtime.commands import main\n"
        f"code = main(['fetch', {str(folder)!r}, '--dest', {str(tmp_path / 'shared')!r}])\n"
        "print(code, 'sklearn' in sys.modules, 'xgboost' in sys.modules)\n"
    )
    finished = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                              timeout=120, check=False)  # fmt: skip
    verdict_line, last = finished.stdout.strip().splitlines()[-2:]
    assert last == "0 False True", finished.stderr
    assert json.loads(verdict_line)["format"] == "xgboost-ubj"
