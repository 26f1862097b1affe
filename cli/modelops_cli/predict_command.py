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
from modelops_contracts.serving import (
    API_KEY_HEADER,
    TARGET_HEADER,
    TOKEN_HEADER,
    token_audience,
)
from modelops_operator import kube, names

TOKEN_SECONDS = 600  # the API server's minimum for a requested token


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
                        help="for kubernetes auth: a token bound to the Model's audience "
                        "(default: $MODELOPS_TOKEN)")  # fmt: skip
    parser.add_argument(
        "--service-account",
        help="for kubernetes auth: make a 10-minute token of this service account (in the "
        "Model's namespace) bound to the Model's audience",
    )
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


def auth_mode(namespace: str, model: str) -> str:
    """The Model's auth mode: which credential, if any, its predictors ask for."""
    found = resources.get_model(namespace, model) or {}
    return str(((found.get("spec") or {}).get("auth") or {}).get("mode") or "none")


def credentials(args: argparse.Namespace, namespace: str, model: str, mode: str) -> dict[str, str]:
    """Only the credential the Model asks for: its API key, or a Kubernetes token bound to
    its audience (given, or made for a service account). Never the kubeconfig's own token:
    the Model's pods run its author's code, and a cluster token sent there is given away."""
    if mode == "apiKey" and args.api_key:
        return {API_KEY_HEADER: args.api_key}
    if mode != "kubernetes":
        return {}
    audience = token_audience(namespace, model)
    if args.token:
        return {TOKEN_HEADER: args.token}
    if args.service_account:
        return {TOKEN_HEADER: account_token(namespace, args.service_account, audience)}
    raise CommandError(
        f"Model {namespace}/{model} asks for a Kubernetes token bound to the audience "
        f"{audience}: pass --service-account ACCOUNT, or --token (or $MODELOPS_TOKEN) from "
        f"'kubectl create token ACCOUNT -n {namespace} --audience {audience}'"
    )


def account_token(namespace: str, account: str, audience: str) -> str:
    """A short-lived token of ``account`` for ``audience`` only (the TokenRequest API)."""
    path = f"/api/v1/namespaces/{namespace}/serviceaccounts/{account}/token"
    body = {
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenRequest",
        "spec": {"audiences": [audience], "expirationSeconds": TOKEN_SECONDS},
    }
    try:
        made = kube.request("POST", path, body)
    except kube.KubeError as err:
        raise CommandError(f"a token of service account {namespace}/{account}: {err}") from err
    return str((made.get("status") or {}).get("token") or "")


def run(args: argparse.Namespace) -> int:
    mode = auth_mode(args.namespace, args.model)
    sent = credentials(args, args.namespace, args.model, mode)
    predictions = predict(args.namespace, args.model, read_instances(args.instances),
                          args.version, sent)  # fmt: skip
    print(json.dumps({"predictions": predictions}))
    return 0
