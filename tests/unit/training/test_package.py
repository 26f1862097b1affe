"""The venv a trainer package is installed into sees the image's packages."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from modelops_contracts.training import PACKAGE_INSTALL_FAILED, PACKAGE_NOT_FOUND
from modelops_runtime.training import package
from modelops_runtime.training.failure import TrainingFailure


def test_the_venv_imports_what_this_interpreter_has(tmp_path: Path) -> None:
    python = package.create_venv(tmp_path / "venv")
    code = "import sklearn, modelops_runtime, sys; print(sys.prefix); print(sklearn.__file__)"
    done = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True)
    prefix, sklearn_file = done.stdout.split()
    assert Path(prefix) == tmp_path / "venv"  # pip installs into the venv, not the image
    assert not sklearn_file.startswith(str(tmp_path))  # the image's own copy


def test_the_venvs_own_packages_come_before_the_images(tmp_path: Path) -> None:
    image = tmp_path / "image-site"
    (image / "shadowed").mkdir(parents=True)
    (image / "shadowed" / "__init__.py").write_text("WHERE = 'image'")
    python = package.create_venv(tmp_path / "venv", [str(image)])
    code = "import shadowed; print(shadowed.WHERE)"
    seen = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True)
    assert seen.stdout.strip() == "image"
    site = next((tmp_path / "venv" / "lib").glob("python*/site-packages"))
    (site / "shadowed").mkdir()
    (site / "shadowed" / "__init__.py").write_text("WHERE = 'venv'")
    seen = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True)
    assert seen.stdout.strip() == "venv"


def test_site_lines_run_each_folders_pth_files() -> None:
    assert package.site_lines(["/opt/venv/lib/python3.11/site-packages"]) == (
        "import site; site.addsitedir('/opt/venv/lib/python3.11/site-packages')\n"
    )


def test_a_missing_package_is_package_not_found(tmp_path: Path) -> None:
    with pytest.raises(TrainingFailure) as caught:
        package.download(f"file://{tmp_path}/trainer-0.1-py3-none-any.whl", tmp_path / "dl")
    assert caught.value.reason == PACKAGE_NOT_FOUND
    assert "cannot download the trainer package" in caught.value.message
    assert "(ArtifactNotFound)" in caught.value.message
    with pytest.raises(TrainingFailure, match="is a folder; give the package file itself"):
        package.download(str(tmp_path), tmp_path / "dl")


def test_a_file_that_is_no_package(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("x")
    with pytest.raises(TrainingFailure) as caught:
        package.install(Path("python"), notes, {})
    assert caught.value.reason == PACKAGE_INSTALL_FAILED
    assert "notes.txt is not a Python package file" in caught.value.message


def test_pips_error_lines_are_its_message() -> None:
    output = (
        "Processing ./x.whl\nERROR: Could not find a version that satisfies the requirement "
        "absent (from x) (from versions: none)\nERROR: No matching distribution found for absent"
    )
    assert package.pip_errors(output) == (
        "ERROR: Could not find a version that satisfies the requirement absent (from x) "
        "(from versions: none)\nERROR: No matching distribution found for absent"
    )
    assert package.pip_errors("Traceback\nOSError: disk full\n") == "Traceback\nOSError: disk full"
