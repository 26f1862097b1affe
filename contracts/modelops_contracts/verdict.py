"""The fetch step's verdict: what a predictor pod's init container found of its artifact.

The pod writes it as one JSON line to its termination log; the operator reads it back
from the pod's status and turns it into the ModelVersion's ``ArtifactVerified`` and
``RuntimeCompatible`` conditions.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from typing import Final, Literal

from modelops_contracts.termination import MESSAGE_INVALID, Fields, MessageInvalid, report_in

ARTIFACT_VERIFIED: Final = "ArtifactVerified"
RUNTIME_COMPATIBLE: Final = "RuntimeCompatible"
VERIFIED = "Verified"
VERIFICATION_FAILED = "VerificationFailed"
# Reasons that say the runtime, not the artifact, is at fault.
RUNTIME_REASONS = frozenset({"VersionMismatch"})
# The kubelet keeps at most 4 KiB of a termination message.
TERMINATION_MESSAGE_LIMIT = 4000

Judged = Literal["ArtifactVerified", "RuntimeCompatible"]
JUDGED: tuple[Judged, ...] = (ARTIFACT_VERIFIED, RUNTIME_COMPATIBLE)


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
        """The verdict a pod reported. A message that holds none is a crash before the
        verdict was written (a refusal that quotes its end) or, from a pod that exited 0,
        a message it should not have written; a verdict with a field of the wrong type or
        a number that is not finite is refused (``TerminationMessageInvalid``, naming the
        field). Never raises: the message is the pod's to write."""
        data = report_in(message)
        tail = message.strip()[-500:]
        if data is None:
            if exit_code:
                return cls(reason=VERIFICATION_FAILED, message=tail or f"exit code {exit_code}")
            return cls(
                reason=MESSAGE_INVALID,
                message=f"the pod exited 0 with no verdict in its termination message: {tail!r}",
            )
        fields = Fields(data)
        try:
            return cls(
                reason=fields.reason(),
                message=fields.text("message"),
                condition=RUNTIME_COMPATIBLE
                if fields.choice("condition", JUDGED) == RUNTIME_COMPATIBLE
                else ARTIFACT_VERIFIED,
                framework=fields.text("framework"),
                format=fields.text("format"),
                sha256=fields.text("sha256"),
                recorded_versions=fields.texts("recorded_versions"),
                runtime_versions=fields.texts("runtime_versions"),
                metrics=fields.numbers("metrics"),
                version_problems=fields.strings("version_problems"),
            )
        except MessageInvalid as err:
            return cls(
                reason=MESSAGE_INVALID,
                message=f"the pod's termination message is not a valid verdict: {err}",
            )
