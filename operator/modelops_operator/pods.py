"""What every pod the operator makes shares: locked down, the runtime image's user, its
resources, and the store's credentials."""

from __future__ import annotations

from typing import Any

from modelops_operator.api.common import EnvVar, Resources

RUNTIME_UID = 1000
RUNTIME_COMMAND = ["python", "-m", "modelops_runtime"]
TERMINATION_LOG = "/dev/termination-log"


def container_security() -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "readOnlyRootFilesystem": True,
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def pod_security() -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": RUNTIME_UID,
        "runAsGroup": RUNTIME_UID,
        "fsGroup": RUNTIME_UID,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def resources(wanted: Resources | None) -> dict[str, Any]:
    """A container's resources; empty when none are asked for."""
    if wanted is None:
        return {}
    found = {"requests": wanted.requests, "limits": wanted.limits}
    return {key: {k: str(v) for k, v in value.items()} for key, value in found.items() if value}


def storage_env_from(secret: str) -> list[dict[str, Any]]:
    """The store's endpoint and credentials, from an optional Secret."""
    return [{"secretRef": {"name": secret, "optional": True}}] if secret else []


def env(variables: tuple[EnvVar, ...]) -> list[dict[str, str]]:
    return [{"name": e.name, "value": e.value} for e in variables]
