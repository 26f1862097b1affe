"""A trainer package's dependencies resolve only from the index the run is given: a PEP 503
index served here on loopback, holding a dependency that exists nowhere else. With it,
no public index is consulted, whatever the trainer's environment says."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelops_contracts.training import PACKAGE_INSTALL_FAILED, TRAINED
from tests.integration.servers import started
from tests.integration.training import train
from tests.ports import free_port

TRAIN_MODULE = """
import os, pickle, indexprobe
with open(os.path.join(os.environ["MODELOPS_MODEL_DIR"], "model.pkl"), "wb") as out:
    pickle.dump({"probe": indexprobe.SOURCE}, out)
"""


def project(folder: Path, name: str, dependencies: list[str], files: dict[str, str]) -> Path:
    """A project of one package ``name`` with those ``files``, built into a wheel."""
    from modelops_cli.packaging import build

    source = folder / "src" / name
    (source / name).mkdir(parents=True)
    (source / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=69"]\nbuild-backend = "setuptools.build_meta"\n'
        f'[project]\nname = "{name}"\nversion = "0.1.0"\ndependencies = {dependencies!r}\n'
        f'[tool.setuptools]\npackages = ["{name}"]\n'
    )
    for file, text in {"__init__.py": "", **files}.items():
        (source / name / file).write_text(text)
    return build(source, folder / "built" / name)


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("index")
    wheel = project(root, "indexprobe", [], {"__init__.py": "SOURCE = 'the local index'\n"})
    page = root / "simple" / "indexprobe"
    page.mkdir(parents=True)
    shutil.copy(wheel, page / wheel.name)
    (page / "index.html").write_text(f'<a href="{wheel.name}">{wheel.name}</a>\n')
    port = free_port()
    argv = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
            "--directory", str(root)]  # fmt: skip
    url = f"http://127.0.0.1:{port}/simple/"
    with started(argv, url + "indexprobe/", "the local index"):
        yield url


def test_a_dependency_only_the_given_index_holds_is_installed_from_it(
    tmp_path: Path, index: str
) -> None:
    wheel = project(tmp_path, "probed", ["indexprobe>=0.1"], {"train.py": TRAIN_MODULE})
    run = train(tmp_path, "--module", "probed.train", "--package", str(wheel),
                "--output", (tmp_path / "out").as_uri(), "--index-url", index)  # fmt: skip
    assert run.result.reason == TRAINED, run.result.message
    assert (tmp_path / "out" / "model.pkl").is_file()


def test_with_an_index_no_other_index_is_asked_not_even_one_the_env_names(
    tmp_path: Path, index: str
) -> None:
    """``pyjokes`` is on the public index, not on ours: with ours given, pip must not find
    it, though the trainer's environment adds the public index."""
    wheel = project(tmp_path, "joking", ["indexprobe", "pyjokes"], {"train.py": TRAIN_MODULE})
    run = train(tmp_path, "--module", "joking.train", "--package", str(wheel),
                "--output", (tmp_path / "out").as_uri(), "--index-url", index,
                env={"PIP_EXTRA_INDEX_URL": "https://pypi.org/simple"})  # fmt: skip
    assert run.result.reason == PACKAGE_INSTALL_FAILED
    assert "pyjokes" in run.result.message
    assert not (tmp_path / "out").exists()
