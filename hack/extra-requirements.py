"""Print the requirements of the given pyproject extras, one per line.

Used by the Dockerfiles to install an image's dependencies (pinned by constraints.txt)
in a layer of their own, before the sources are copied. Self-references such as
``modelops[runtime]`` are expanded.
"""

import sys
import tomllib


def main(extras: list[str]) -> None:
    with open("pyproject.toml", "rb") as f:
        project = tomllib.load(f)["project"]
    optional = project.get("optional-dependencies", {})
    seen: set[str] = set()
    todo = list(extras)
    while todo:
        extra = todo.pop()
        if extra in seen:
            continue
        seen.add(extra)
        for req in optional[extra]:
            name = req.split(";")[0].split("[")[0].split(">")[0].split("=")[0].strip()
            if name == project["name"]:
                todo.extend(e.strip() for e in req.split("[", 1)[1].split("]")[0].split(","))
            else:
                print(req)
    for req in project.get("dependencies", []):
        print(req)


if __name__ == "__main__":
    main(sys.argv[1:])
