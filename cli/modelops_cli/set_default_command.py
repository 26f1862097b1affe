"""``modelops set-default M V``: pin the version that serves the Model's URL."""

from __future__ import annotations

import argparse
from typing import Any

from modelops_cli import resources
from modelops_operator import kube
from modelops_operator.api import MODEL


def register(commands: Any) -> None:
    parser = commands.add_parser("set-default", help="pin the version that serves a model")
    parser.add_argument("model")
    parser.add_argument(
        "version", help="version to pin; 'none' removes the pin (newest Ready serves)"
    )
    resources.add_namespace(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    ns = args.namespace
    name = None if args.version == "none" else resources.version_name(args.model, args.version)
    resources.require_model(ns, args.model)
    if name:
        resources.require_version(ns, args.model, name)
    path = resources.ref(MODEL, ns, args.model).path()
    patch = {"spec": {"defaultVersion": name}}
    resources.call("pinning", kube.request, "PATCH", path, patch, "application/merge-patch+json")
    print(f"{args.model}: defaultVersion = {name or '(none: the newest Ready version serves)'}")
    return 0
