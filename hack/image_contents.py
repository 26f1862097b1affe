"""What an image takes from the project: run by the Dockerfile's build stage.

    image_contents.py requirements EXTRA...     print the requirements of pyproject extras
    image_contents.py install DEST PACKAGE...   copy import packages into DEST

``requirements`` prints one requirement a line (pinned later by constraints.txt) and
expands self-references such as ``modelops[runtime]``. ``install`` finds each import
package in the source roots of ``[tool.setuptools.packages.find]``, copies it into DEST
(a folder on the image's Python path), writes the distribution's metadata there, so that
``importlib.metadata.version("modelops")`` answers the project's version, and writes the
console scripts whose module is shipped into DEST/bin.
"""

from __future__ import annotations

import shutil
import sys
import tomllib
from pathlib import Path
from typing import Any

PYPROJECT = Path("pyproject.toml")


def load() -> dict[str, Any]:
    with PYPROJECT.open("rb") as f:
        return tomllib.load(f)


def requirements(extras: list[str]) -> list[str]:
    project = load()["project"]
    if not extras:
        raise SystemExit("requirements: name the pyproject extras to install (EXTRAS)")
    optional = project.get("optional-dependencies", {})
    found: list[str] = list(project.get("dependencies", []))
    seen: set[str] = set()
    todo = list(extras)
    while todo:
        extra = todo.pop()
        if extra in seen:
            continue
        if extra not in optional:
            raise SystemExit(f"requirements: pyproject.toml has no extra {extra!r}")
        seen.add(extra)
        for req in optional[extra]:
            name = req.split(";")[0].split("[")[0].split(">")[0].split("=")[0].strip()
            if name == project["name"]:
                todo.extend(e.strip() for e in req.split("[", 1)[1].split("]")[0].split(","))
            else:
                found.append(req)
    return found


def install(dest: Path, packages: list[str]) -> None:
    pyproject = load()
    project = pyproject["project"]
    if not packages:
        raise SystemExit("install: name the import packages to ship (PACKAGES)")
    roots = [Path(r) for r in pyproject["tool"]["setuptools"]["packages"]["find"]["where"]]
    dest.mkdir(parents=True, exist_ok=True)
    for package in packages:
        source = next((root / package for root in roots if (root / package).is_dir()), None)
        if source is None:
            raise SystemExit(f"install: no package {package!r} in {', '.join(map(str, roots))}")
        shutil.copytree(source, dest / package, ignore=shutil.ignore_patterns("__pycache__"))
    info = dest / f"{project['name']}-{project['version']}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n"
        f"Summary: {project['description']}\n"
    )
    (info / "top_level.txt").write_text("".join(f"{p}\n" for p in sorted(packages)))
    for name, target in project.get("scripts", {}).items():
        module, function = target.split(":")
        if module.split(".")[0] in packages:
            script = dest / "bin" / name
            script.parent.mkdir(exist_ok=True)
            script.write_text(
                f"#!{sys.executable}\nimport sys\nfrom {module} import {function}\n"
                f"sys.exit({function}())\n"
            )
            script.chmod(0o755)


def main(argv: list[str]) -> None:
    match argv:
        case ["requirements", *extras]:
            print("\n".join(requirements(extras)))
        case ["install", dest, *packages]:
            install(Path(dest), packages)
        case _:
            raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
