"""Each pyproject extra lists what its import package imports: nothing missing, nothing more.

An image installs one extra; a package it imports but the extra lacks fails there at run
time, and one the extra lists but nothing imports only makes the image bigger.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import distribution, packages_distributions
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCES = {
    "modelops_contracts": ROOT / "contracts",
    "modelops_runtime": ROOT / "runtime",
    "modelops_operator": ROOT / "operator",
    "modelops_cli": ROOT / "cli",
}
# Listed though no module of ours imports them, and why.
NOT_IMPORTED = {
    "runtime": {
        "scikit-learn": "the pickles and skops files the runtime loads import it",
        "uvloop": "uvicorn's event loop, picked by loop='auto'",
    },
}
# Imported only when an artifact needs them; they come from extras of their own.
OPTIONAL = {"xgboost": {"xgboost", "xgboost-cpu"}, "google-cloud-storage": {"gcs"}}


def _extras() -> dict[str, list[str]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return dict(project["optional-dependencies"])


def _name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9._-]+", requirement)
    assert match, requirement
    return match[0].lower().replace("_", "-")


def _module_file(module: str) -> Path | None:
    top = module.split(".", maxsplit=1)[0]
    base = SOURCES[top] / Path(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def imported(package: str) -> tuple[set[str], set[str]]:
    """(distributions, our other packages taken whole) that ``package`` needs: what its
    modules import, and what the modules of our other packages that it imports import
    (except the runtime, which an extra takes whole, as ``modelops[runtime]``)."""
    distributions = packages_distributions()
    todo = list((SOURCES[package] / package).rglob("*.py"))
    seen: set[Path] = set()
    third_party: set[str] = set()
    whole: set[str] = set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for module in _imports(path):
            top = module.split(".")[0]
            if top == "__future__" or top in sys.stdlib_module_names or top == package:
                continue
            if top == "modelops_runtime":
                whole.add("runtime")
            elif top in SOURCES:
                if (found := _module_file(module)) is not None:
                    todo.append(found)
            else:
                assert top in distributions, f"{path}: no installed distribution has {top}"
                third_party.update(_providers(module, distributions[top]))
    return third_party, whole


def _providers(module: str, candidates: list[str]) -> set[str]:
    """The distribution that installs ``module``; in a namespace package shared by several
    (``google``), the one whose files hold it, or none while the name is too short to say."""
    if len(candidates) == 1:
        return {_name(candidates[0])}
    folder = module.replace(".", "/") + "/"
    holding = {
        _name(candidate)
        for candidate in candidates
        if any(str(f).startswith(folder) for f in distribution(candidate).files or ())
    }
    return holding if len(holding) == 1 else set()


@pytest.mark.parametrize(
    ("package", "extra"), [("modelops_runtime", "runtime"), ("modelops_cli", "cli")]
)
def test_an_extra_lists_what_its_package_imports(package: str, extra: str) -> None:
    third_party, whole = imported(package)
    listed = {_name(r) for r in _extras()[extra] if not r.startswith("modelops[")}
    taken = {
        e.strip()
        for r in _extras()[extra]
        if r.startswith("modelops[")
        for e in r[len("modelops[") : -1].split(",")
    }
    optional = {d for d in third_party if d in OPTIONAL}
    for name in optional:
        assert OPTIONAL[name] <= set(_extras()), name
    assert taken == whole
    assert third_party - optional == listed - set(NOT_IMPORTED.get(extra, {}))


def test_the_contracts_import_nothing_but_the_standard_library() -> None:
    assert imported("modelops_contracts") == (set(), set())
