"""Models and ModelVersions as the CLI reads and writes them (through the operator's one
API module), and how a version name is spelled."""

from __future__ import annotations

import os
from typing import Any

from modelops_cli.errors import CommandError
from modelops_operator import kube
from modelops_operator.api import API_VERSION, MODEL, MODEL_VERSION, TRAINING_JOB, Kind


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


# --- a missing name, answered in the user's words: what exists, and what to do ------------

_HINTS = {  # (kind, any exist?) -> the next command
    (MODEL.kind, False): "deploy one with: modelops deploy FILE --model NAME -n {ns}",
    (MODEL.kind, True): "check the name, or give the Model's namespace with -n",
    (MODEL_VERSION.kind, False): "add one with: modelops deploy FILE --model {model} -n {ns}",
    (MODEL_VERSION.kind, True): "modelops versions {model} -n {ns} shows them",
    (TRAINING_JOB.kind, False): "start one with: modelops train submit ... -n {ns}",
    (TRAINING_JOB.kind, True): "modelops train list -n {ns} shows them",
}
_LISTED = 20


def not_found(kind: Kind, namespace: str, name: str, existing: list[str], model: str = "") -> str:
    """E.g. ``no Model `nope` in namespace `x`; the Models there: a, b (...)``."""
    subject = f"no version `{name}` of Model `{model}`" if model else f"no {kind.kind} `{name}`"
    if existing:
        shown = ", ".join(existing[:_LISTED])
        if len(existing) > _LISTED:
            shown += f" and {len(existing) - _LISTED} more"
        there = f"its versions: {shown}" if model else f"the {kind.kind}s there: {shown}"
    else:
        there = f"Model `{model}` has no versions" if model else f"there are no {kind.kind}s"
    hint = _HINTS[kind.kind, bool(existing)].format(ns=namespace, model=model)
    return f"{subject} in namespace `{namespace}`; {there} ({hint})"


def names_of(kind: Kind, namespace: str) -> list[str]:
    listed = call(f"listing {kind.kind}s", kube.request, "GET", ref(kind, namespace).path())
    return sorted(str(o["metadata"]["name"]) for o in listed.get("items") or [])


def require_model(namespace: str, name: str) -> dict[str, Any]:
    """The Model, or a CommandError naming the Models that exist."""
    found = get_model(namespace, name)
    if found is None:
        raise CommandError(not_found(MODEL, namespace, name, names_of(MODEL, namespace)))
    return found


def require_version(namespace: str, model: str, version: str) -> dict[str, Any]:
    """Version ``version`` of ``model``, or a CommandError naming its versions."""
    name = version_name(model, version)
    found = get_version(namespace, name)
    if found is None or (found.get("spec") or {}).get("model") != model:
        existing = [str(v["metadata"]["name"]) for v in versions_of(namespace, model)]
        raise CommandError(not_found(MODEL_VERSION, namespace, name, existing, model=model))
    return found


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
