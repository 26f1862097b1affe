"""``modelops predict M --instances FILE.json [--version V]``: predictions from the cluster.

The request goes through the Kubernetes API server's service proxy to the Model's Service
(or one version's), so it needs no port-forward and no ingress.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from modelops_cli import resources
from modelops_cli.errors import CommandError
from modelops_operator import kube, names


def register(commands: Any) -> None:
    parser = commands.add_parser("predict", help="send instances to a deployed model")
    parser.add_argument("model")
    parser.add_argument("--instances", required=True, type=Path,
                        help='JSON file: a list of rows, or {"instances": [...]}')  # fmt: skip
    parser.add_argument("--version", help="ask one version instead of the Model's serving version")
    resources.add_namespace(parser)
    parser.set_defaults(run=run)


def read_instances(path: Path) -> list[Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise CommandError(f"cannot read instances from {path}: {err}") from err
    instances = data.get("instances") if isinstance(data, dict) else data
    if not isinstance(instances, list):
        raise CommandError(f'{path} must hold a JSON list of rows or {{"instances": [...]}}')
    return instances


def predict(namespace: str, model: str, instances: list[Any], version: str | None = None) -> Any:
    service = (
        names.predictor(resources.version_name(model, version))
        if version
        else names.model_service(model)
    )
    path = (
        f"/api/v1/namespaces/{namespace}/services/{service}:{names.SERVICE_PORT}"
        f"/proxy/v1/models/{model}:predict"
    )
    try:
        answer = kube.request("POST", path, {"instances": instances})
    except kube.KubeError as err:
        raise CommandError(f"predict on {service}: {err}") from err
    return answer.get("predictions")


def run(args: argparse.Namespace) -> int:
    predictions = predict(args.namespace, args.model, read_instances(args.instances), args.version)
    print(json.dumps({"predictions": predictions}))
    return 0
