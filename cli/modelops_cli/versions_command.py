"""``modelops versions M``: a Model's versions, which one serves, and their state."""

from __future__ import annotations

import argparse
from typing import Any

from modelops_cli import resources


def register(commands: Any) -> None:
    parser = commands.add_parser("versions", help="list a model's versions")
    parser.add_argument("model")
    resources.add_namespace(parser)
    parser.set_defaults(run=run)


def rows(model: dict[str, Any] | None, versions: list[dict[str, Any]]) -> list[list[str]]:
    serving = ((model or {}).get("status") or {}).get("servingVersion")
    pin = ((model or {}).get("spec") or {}).get("defaultVersion")
    table = [["VERSION", "SERVING", "PHASE", "READY", "REASON", "CREATED"]]
    for version in versions:
        name = version["metadata"]["name"]
        ready = resources.condition(version, "Ready")
        mark = ("pinned" if name == pin else "yes") if name == serving else ""
        table.append([
            name, mark, str((version.get("status") or {}).get("phase", "")),
            str(ready.get("status", "")), str(ready.get("reason", "")),
            str(version["metadata"].get("creationTimestamp", "")),
        ])  # fmt: skip
    return table


def run(args: argparse.Namespace) -> int:
    versions = resources.versions_of(args.namespace, args.model)
    model = resources.get_model(args.namespace, args.model)
    if model is None and not versions:
        resources.require_model(args.namespace, args.model)
    table = rows(model, versions)
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for row in table:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )
    return 0
