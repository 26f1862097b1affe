"""The user's code's arguments: ``--job-dir`` as the seed-era service passed it, the user's
own, then the hyperparameters as ``--name=value`` (they come on a channel of their own,
``HYPERPARAMETER_OPTION``, so the user's own ``--name=value`` are never taken for them)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

JOB_DIR = "--job-dir"
DEFAULT_HOOK = "evaluate"
_IDENTIFIER = r"[A-Za-z_][A-Za-z0-9_]*"
_HOOK = re.compile(rf"^({_IDENTIFIER}(?:\.{_IDENTIFIER})*):({_IDENTIFIER})$")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")


def trainer_args(job_dir: Path, user_args: Sequence[str]) -> list[str]:
    """``--job-dir DIR`` first, then the user's arguments. A user who passes their own
    ``--job-dir`` keeps it (and must write the model to ``$MODELOPS_MODEL_DIR``)."""
    if any(arg == JOB_DIR or arg.startswith(f"{JOB_DIR}=") for arg in user_args):
        return list(user_args)
    return [JOB_DIR, str(job_dir), *user_args]


def hyperparameter(text: str) -> tuple[str, str]:
    """One ``NAME=VALUE`` of ``HYPERPARAMETER_OPTION``; ValueError when it is not one."""
    name, equals, value = text.partition("=")
    if not equals or not _NAME.fullmatch(name):
        raise ValueError(
            f"a hyperparameter is NAME=VALUE with NAME a letter or _ then letters, digits, "
            f"_, . or -, not {text!r}"
        )
    return name, value


@dataclass(frozen=True)
class Hook:
    """``module:function``; ``explicit`` is False for the default (``evaluate`` in the
    trainer's module, used only when the module defines it)."""

    module: str
    function: str
    explicit: bool = True

    def __str__(self) -> str:
        return f"{self.module}:{self.function}"


def parse_hook(spec: str) -> Hook:
    match = _HOOK.match(spec.strip())
    if not match:
        raise ValueError(
            f"evaluation hook {spec!r} is not module:function (e.g. trainer.eval:score)"
        )
    return Hook(match[1], match[2])


def evaluation_hook(spec: str | None, module: str | None) -> Hook | None:
    """The hook to score models with: the given one, else ``evaluate`` in the trainer's
    module (if it has one; the hook's process finds out), else none."""
    if spec:
        return parse_hook(spec)
    if module:
        return Hook(module, DEFAULT_HOOK, explicit=False)
    return None
