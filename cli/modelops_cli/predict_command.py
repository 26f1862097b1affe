"""``modelops predict M --instances FILE.json [--version V]``: predictions from the cluster.

The request goes through the Kubernetes API server's service proxy to the Model's Service
(or one version's), so it needs no port-forward and no ingress.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from modelops_cli import resources
from modelops_cli.errors import CommandError
from modelops_contracts.serving import API_KEY_HEADER, TARGET_HEADER, TOKEN_HEADER
from modelops_operator import kube, names


def register(commands: Any) -> None:
    parser = commands.add_parser("predict", help="send instances to a deployed model")
    parser.add_argument("model")
    parser.add_argument("--instances", required=True, type=Path,
                        help='JSON file: a list of rows, or {"instances": [...]}')  # fmt: skip
    parser.add_argument("--version", help="ask one version instead of the Model's serving version")
    parser.add_argument(
        "--api-key",
        default=os.environ.get("MODELOPS_API_KEY"),
        help="for a Model with apiKey auth (default: $MODELOPS_API_KEY)",
    )
    parser.add_argument("--token", default=os.environ.get("MODELOPS_TOKEN"),
                        help="for kubernetes auth: a token (default: $MODELOPS_TOKEN, or "
                        "the kubeconfig's)")  # fmt: skip
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


def predict(
    namespace: str,
    model: str,
    instances: list[Any],
    version: str | None = None,
    credentials: dict[str, str] | None = None,
) -> Any:
    """Predictions through the API server: its service proxy when the Service's endpoints
    are the version's pods, else (a version at zero, a split) the activator's pod proxy,
    told which Service the request is for."""
    if version:
        resources.require_version(namespace, model, version)
    else:
        resources.require_model(namespace, model)
    service = (
        names.predictor(resources.version_name(model, version))
        if version
        else names.model_service(model)
    )
    prefix, headers = _route(namespace, service, model, version)
    path = f"{prefix}/v1/models/{model}:predict"
    try:
        answer = kube.request("POST", path, {"instances": instances},
                              headers={**headers, **(credentials or {})})  # fmt: skip
    except kube.KubeError as err:
        raise CommandError(f"predict on {service}: {err}") from err
    return answer.get("predictions")


def _route(
    namespace: str, service: str, model: str, version: str | None
) -> tuple[str, dict[str, str]]:
    endpoints = resources.call(
        f"reading the endpoints of {service}", kube.get,
        kube.Ref("v1", "Endpoints", namespace, service),
    )  # fmt: skip
    if endpoints is None:
        what = f"version {version} of Model {model}" if version else f"Model {model}"
        raise CommandError(f"no {what} in namespace {namespace} (modelops versions {model})")
    pods = [
        address.get("targetRef") or {}
        for subset in endpoints.get("subsets") or []
        for address in subset.get("addresses") or []
    ]
    away = next((p for p in pods if p.get("namespace") not in (None, namespace)), None)
    if away:  # the activator's: to one of its pods, naming the Service
        return (
            f"/api/v1/namespaces/{away['namespace']}/pods/{away['name']}:{names.HTTP_PORT}/proxy",
            {TARGET_HEADER: f"{namespace}/{service}"},
        )
    if not pods:
        raise CommandError(
            f"{service} has no endpoints yet: no pod of it is ready and no activator answers "
            "for it (is the operator installed with its activator?)"
        )
    return f"/api/v1/namespaces/{namespace}/services/{service}:{names.SERVICE_PORT}/proxy", {}


def credentials(args: argparse.Namespace) -> dict[str, str]:
    """An API key, or a Kubernetes token (given, or the kubeconfig's), for auth on predict."""
    if args.api_key:
        return {API_KEY_HEADER: args.api_key}
    token = args.token or kube.bearer_token()
    return {TOKEN_HEADER: token} if token else {}


def run(args: argparse.Namespace) -> int:
    predictions = predict(args.namespace, args.model, read_instances(args.instances),
                          args.version, credentials(args))  # fmt: skip
    print(json.dumps({"predictions": predictions}))
    return 0
