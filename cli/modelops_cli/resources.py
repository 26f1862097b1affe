"""Models and ModelVersions as the CLI reads and writes them (through the operator's one
API module), and how a version name is spelled."""

from __future__ import annotations

import os
from typing import Any

from modelops_cli.errors import CommandError
from modelops_operator import kube
from modelops_operator.api import API_VERSION, MODEL, MODEL_VERSION, Kind


def version_name(model: str, version: str) -> str:
    """Version V of model M is the ModelVersion named ``M-V`` (``M-V`` is accepted too)."""
    return version if version.startswith(f"{model}-") else f"{model}-{version}"


def default_namespace() -> str:
    return os.environ.get("MODELOPS_NAMESPACE", "default")


def add_namespace(parser: Any) -> None:
    parser.add_argument(
        "-n", "--namespace", default=default_namespace(),
        help="namespace (default: $MODELOPS_NAMESPACE or 'default')",
    )  # fmt: skip


def ref(kind: Kind, namespace: str, name: str = "") -> kube.Ref:
    return kube.Ref(API_VERSION, kind.kind, namespace, name)


def call(what: str, fn: Any, *args: Any) -> Any:
    """Run one API call; an API error becomes a one-line CommandError."""
    try:
        return fn(*args)
    except kube.KubeError as err:
        raise CommandError(f"{what}: {err}") from err
    except OSError as err:
        raise CommandError(f"{what}: cannot reach the Kubernetes API: {err}") from err


def get_model(namespace: str, name: str) -> dict[str, Any] | None:
    found: dict[str, Any] | None = call(
        f"reading Model {name}", kube.get, ref(MODEL, namespace, name)
    )
    return found


def get_version(namespace: str, name: str) -> dict[str, Any] | None:
    found: dict[str, Any] | None = call(
        f"reading ModelVersion {name}", kube.get, ref(MODEL_VERSION, namespace, name)
    )
    return found


def versions_of(namespace: str, model: str) -> list[dict[str, Any]]:
    listed = call(
        "listing ModelVersions", kube.request, "GET", ref(MODEL_VERSION, namespace).path()
    )
    items = [v for v in listed.get("items") or [] if (v.get("spec") or {}).get("model") == model]
    return sorted(items, key=lambda v: str(v["metadata"].get("creationTimestamp", "")))


def condition(obj: dict[str, Any], type_: str) -> dict[str, Any]:
    for found in (obj.get("status") or {}).get("conditions") or []:
        if found.get("type") == type_:
            return dict(found)
    return {}


def manifest(kind: Kind, namespace: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": kind.kind,
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


def create(obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj["metadata"]
    where = kube.Ref(API_VERSION, obj["kind"], meta["namespace"])
    created: dict[str, Any] = call(
        f"creating {obj['kind']} {meta['name']}", kube.request, "POST", where.path(), obj
    )
    return created
