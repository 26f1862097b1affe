"""The fetch step's verdict: what a predictor pod's init container found of its artifact.

The pod writes it as one JSON line to its termination log; the operator reads it back
from the pod's status and turns it into the ModelVersion's ``ArtifactVerified`` and
``RuntimeCompatible`` conditions.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Final, Literal

ARTIFACT_VERIFIED: Final = "ArtifactVerified"
RUNTIME_COMPATIBLE: Final = "RuntimeCompatible"
VERIFIED = "Verified"
VERIFICATION_FAILED = "VerificationFailed"
# Reasons that say the runtime, not the artifact, is at fault.
RUNTIME_REASONS = frozenset({"VersionMismatch"})
# The kubelet keeps at most 4 KiB of a termination message.
TERMINATION_MESSAGE_LIMIT = 4000

Judged = Literal["ArtifactVerified", "RuntimeCompatible"]


@dataclass(frozen=True)
class Verdict:
    """Verified (with what was found), or refused (with the reason and the condition it
    speaks to)."""

    reason: str
    message: str = ""
    condition: Judged = ARTIFACT_VERIFIED
    framework: str = ""
    format: str = ""
    sha256: str = ""
    recorded_versions: dict[str, str] = field(default_factory=dict)
    """Framework versions recorded with the artifact (metadata.json)."""
    runtime_versions: dict[str, str] = field(default_factory=dict)
    """Framework versions installed in the runtime that loaded it."""
    metrics: dict[str, float] = field(default_factory=dict)
    version_problems: tuple[str, ...] = ()
    """Framework version differences that the spec allowed."""

    @property
    def verified(self) -> bool:
        return self.reason == VERIFIED

    @classmethod
    def refused(cls, reason: str, message: str) -> Verdict:
        condition: Judged = RUNTIME_COMPATIBLE if reason in RUNTIME_REASONS else ARTIFACT_VERIFIED
        return cls(reason=reason, message=message, condition=condition)

    def to_json(self) -> str:
        data = {k: v for k, v in asdict(self).items() if v not in ("", {}, ())}
        data["version_problems"] = list(self.version_problems)
        return json.dumps(data, sort_keys=True)

    def termination_message(self) -> str:
        """The JSON line, cut to what the kubelet keeps (a refusal's message is cut first)."""
        line = self.to_json()
        if len(line) <= TERMINATION_MESSAGE_LIMIT:
            return line
        keep = max(0, len(self.message) - (len(line) - TERMINATION_MESSAGE_LIMIT) - 3)
        return replace(self, message=self.message[:keep] + "...").to_json()[
            :TERMINATION_MESSAGE_LIMIT
        ]

    @classmethod
    def from_termination(cls, message: str, exit_code: int) -> Verdict:
        """The verdict a pod reported; a message that is not one (a crash before the
        verdict was written) becomes a refusal that quotes its end."""
        try:
            data: Any = json.loads(message)
        except ValueError:
            data = None
        if isinstance(data, dict) and isinstance(data.get("reason"), str):
            return cls(
                reason=data["reason"],
                message=str(data.get("message", "")),
                condition=RUNTIME_COMPATIBLE
                if data.get("condition") == RUNTIME_COMPATIBLE
                else ARTIFACT_VERIFIED,
                framework=str(data.get("framework", "")),
                format=str(data.get("format", "")),
                sha256=str(data.get("sha256", "")),
                recorded_versions=_strings(data.get("recorded_versions")),
                runtime_versions=_strings(data.get("runtime_versions")),
                metrics=_numbers(data.get("metrics")),
                version_problems=tuple(str(p) for p in data.get("version_problems") or ()),
            )
        tail = message.strip()[-500:]
        if exit_code:
            return cls(reason=VERIFICATION_FAILED, message=tail or f"exit code {exit_code}")
        return cls(reason=VERIFIED, message=tail)


def _strings(value: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


def _numbers(value: Any) -> dict[str, float]:
    if not isinstance(value, dict):
        return {}
    return {str(k): float(v) for k, v in value.items() if isinstance(v, int | float)}
