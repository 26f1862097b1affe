"""The trainer package: downloaded with the runtime's storage module and installed at pod
start into a virtual environment of the work dir that also sees the image's packages.

The venv's own site-packages come first on its path and the image's follow (a ``.pth``
file adds them with ``site.addsitedir``, so their own ``.pth`` files count too): pip
finds the image's scikit-learn, XGBoost, pandas... installed and installs only what the
package needs beyond them, into the venv; a version the package pins that differs from
the image's is installed into the venv and wins there. Nothing outside the work dir is
written, so a read-only root filesystem is fine.
"""

from __future__ import annotations

import importlib.util
import os
import site
import sys
import sysconfig
import venv
from collections.abc import Mapping
from pathlib import Path

from modelops_contracts.training import PACKAGE_INSTALL_FAILED, PACKAGE_NOT_FOUND
from modelops_runtime import storage
from modelops_runtime.errors import ArtifactError
from modelops_runtime.training import process
from modelops_runtime.training.failure import TrainingFailure

PACKAGE_SUFFIXES = (".whl", ".tar.gz", ".zip")
SITE_FILE = "_modelops_image_site.pth"


def download(uri: str, downloads: Path) -> Path:
    """The package file at ``uri`` on local disk, or PackageNotFound saying why not."""
    try:
        local = storage.fetch(uri, downloads)
    except ArtifactError as err:
        raise TrainingFailure(
            PACKAGE_NOT_FOUND, f"cannot download the trainer package {uri}: {err} ({err.reason})"
        ) from err
    if local.is_dir():
        raise TrainingFailure(
            PACKAGE_NOT_FOUND,
            f"{uri} is a folder; give the package file itself (a .whl wheel or .tar.gz sdist)",
        )
    return local


def create_venv(folder: Path, parent_site_dirs: list[str] | None = None) -> Path:
    """A fresh venv at ``folder`` that sees this interpreter's packages; its python."""
    venv.EnvBuilder(with_pip=False, symlinks=True, clear=True).create(folder)
    own_site = Path(sysconfig.get_path("purelib", scheme="venv", vars={"base": str(folder)}))
    own_site.mkdir(parents=True, exist_ok=True)
    dirs = parent_site_dirs if parent_site_dirs is not None else image_site_dirs()
    (own_site / SITE_FILE).write_text(site_lines(dirs))
    return folder / "bin" / "python"


def image_site_dirs() -> list[str]:
    """The site-packages folders of the interpreter running the entrypoint."""
    found: list[str] = []
    for folder in site.getsitepackages():
        if folder not in found and Path(folder).is_dir():
            found.append(folder)
    return found


def site_lines(dirs: list[str]) -> str:
    """A ``.pth`` file's lines that add ``dirs`` as site dirs (their .pth files run)."""
    return "".join(f"import site; site.addsitedir({folder!r})\n" for folder in dirs)


def install(
    python: Path, package: Path, env: Mapping[str, str], index: tuple[str, ...] = ()
) -> None:
    """``pip install`` the package into the venv; PackageInstallFailed with pip's own
    words when pip refuses it. With an ``index`` (the index, then extra ones), pip takes
    dependencies from those only: no public index, and no index from the trainer's
    environment or a pip configuration file (a dependency confusion would go there)."""
    if not package.name.endswith(PACKAGE_SUFFIXES):
        raise TrainingFailure(
            PACKAGE_INSTALL_FAILED,
            f"{package.name} is not a Python package file: give a wheel (.whl) or an sdist "
            "(.tar.gz, .zip)",
        )
    if importlib.util.find_spec("pip") is None:
        raise TrainingFailure(
            PACKAGE_INSTALL_FAILED,
            f"this runtime image has no pip, which installs trainer packages "
            f"({sys.executable}); use a runtime image with pip, or an image-based trainer",
        )
    argv = [
        str(python), "-m", "pip", "install", "--no-cache-dir", "--disable-pip-version-check",
        "--no-input", "--quiet", str(package),
    ]  # fmt: skip
    pip_env = {**env, "PIP_NO_CACHE_DIR": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    if index:
        argv += ["--index-url", index[0]]
        argv += [arg for extra in index[1:] for arg in ("--extra-index-url", extra)]
        pip_env = {k: v for k, v in pip_env.items() if k not in _INDEX_ENV}
        pip_env["PIP_CONFIG_FILE"] = os.devnull
    finished = process.run(argv, pip_env)
    if finished.exit_code != 0:
        raise TrainingFailure(
            PACKAGE_INSTALL_FAILED,
            f"pip could not install {package.name} (it {finished.describe()}): "
            + pip_errors(finished.tail),
            exit_code=finished.exit_code,
            log_tail=finished.tail,
        )


_INDEX_ENV = {"PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "PIP_NO_INDEX",
              "PIP_CONFIG_FILE"}  # fmt: skip


def pip_errors(output: str) -> str:
    """What pip said went wrong: its ERROR lines, or else its last lines."""
    errors = [line.strip() for line in output.splitlines() if line.lstrip().startswith("ERROR:")]
    return "\n".join(errors) if errors else output.strip()[-1000:]
