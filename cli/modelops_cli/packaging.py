"""A trainer's code as one wheel in the store, as ``train submit`` sends it.

``--package-path`` names a Python project (a folder with pyproject.toml or setup.py), or a
package folder (with __init__.py): its parent's project when the parent has one, else a
project made for it (name and version only, as the seed-era service did for a bare
package). The project is copied without build outputs, caches and VCS folders, and built
there with ``pip wheel --no-deps`` (nothing is written into the user's tree); the wheel
goes to ``STORE/MODEL/packages/SHA/`` so that a new build never replaces the code a
scheduled job already runs.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from modelops_cli.errors import CommandError

PROJECT_FILES = ("pyproject.toml", "setup.py")
SKIPPED = (
    ".git", ".hg", ".venv", "venv", "build", "dist", "*.egg-info", "__pycache__",
    ".mypy_cache", ".pytest_cache", ".ruff_cache", "*.pyc", "*.joblib", "*.pkl", "*.ubj",
)  # fmt: skip
GENERATED_PROJECT = """\
[build-system]
requires = ["setuptools>=69"]
build-backend = "setuptools.build_meta"

[project]
name = "{name}"
version = "0.0.0"

[tool.setuptools.packages.find]
include = ["{name}", "{name}.*"]
"""


def is_project(folder: Path) -> bool:
    return any((folder / name).is_file() for name in PROJECT_FILES)


def project_of(package_path: Path) -> tuple[Path, bool]:
    """The project folder to build, and whether it must be made for a bare package."""
    path = package_path.resolve()
    if not path.is_dir():
        raise CommandError(f"--package-path {package_path}: no such folder")
    if is_project(path):
        return path, False
    if (path / "__init__.py").is_file():
        return (path.parent, False) if is_project(path.parent) else (path, True)
    raise CommandError(
        f"--package-path {package_path} is neither a Python project (pyproject.toml or "
        "setup.py) nor a package (a folder with __init__.py)"
    )


def build(package_path: Path, out: Path, isolation: bool = True) -> Path:
    """The project's wheel, built in ``out``."""
    project, bare = project_of(package_path)
    with tempfile.TemporaryDirectory(prefix="modelops-build-") as tmp:
        source = Path(tmp) / "project"
        if bare:
            shutil.copytree(project, source / project.name, ignore=shutil.ignore_patterns(*SKIPPED))
            (source / "pyproject.toml").write_text(GENERATED_PROJECT.format(name=project.name))
        else:
            shutil.copytree(project, source, ignore=shutil.ignore_patterns(*SKIPPED))
        wheels = Path(tmp) / "wheels"
        isolated = [] if isolation else ["--no-build-isolation"]
        argv = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", *isolated,
                "--wheel-dir", str(wheels), str(source)]  # fmt: skip
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        built = sorted(wheels.glob("*.whl"))
        if done.returncode != 0 or len(built) != 1:
            said = "\n".join(
                line for line in done.stderr.splitlines() if line.lstrip().startswith("ERROR")
            )
            raise CommandError(
                f"building {project} failed (pip wheel exited {done.returncode}): "
                + (said or done.stderr.strip()[-2000:] or done.stdout.strip()[-2000:])
            )
        out.mkdir(parents=True, exist_ok=True)
        wheel = out / built[0].name
        shutil.copyfile(built[0], wheel)
    return wheel


def upload(wheel: Path, store: str, model: str) -> str:
    """The wheel's URI in the store, under a folder named by its content."""
    from modelops_runtime import storage
    from modelops_runtime.errors import ArtifactError

    digest = storage.sha256_of(wheel)[:16]
    uri = f"{store.rstrip('/')}/{model}/packages/{digest}/{wheel.name}"
    try:
        storage.upload(wheel, uri)
    except ArtifactError as err:
        raise CommandError(f"uploading {wheel.name} to {uri}: {err} ({err.reason})") from err
    return uri
