"""``modelops delete M [V]``: delete one version, or a Model and all its versions."""

from __future__ import annotations

import argparse
from typing import Any

from modelops_cli import resources
from modelops_cli.errors import CommandError
from modelops_operator import kube
from modelops_operator.api import MODEL, MODEL_VERSION


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "delete", help="delete a model version, or a model and its versions"
    )
    parser.add_argument("model")
    parser.add_argument("version", nargs="?")
    resources.add_namespace(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    ns = args.namespace
    if args.version:
        targets = [resources.require_version(ns, args.model, args.version)["metadata"]["name"]]
    else:
        targets = [v["metadata"]["name"] for v in resources.versions_of(ns, args.model)]
        if not targets:
            resources.require_model(ns, args.model)
    for name in targets:
        if not resources.call(
            f"deleting {name}", kube.delete, resources.ref(MODEL_VERSION, ns, name)
        ):
            raise CommandError(f"ModelVersion {name} in namespace {ns} was deleted meanwhile")
        print(f"deleted ModelVersion {name}")
    if not args.version and resources.call(
        "deleting", kube.delete, resources.ref(MODEL, ns, args.model)
    ):
        print(f"deleted Model {args.model}")
    return 0
