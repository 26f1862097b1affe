"""The evaluation hook's own process: ``python -m modelops_runtime.training.hook``.

It runs with the trainer's interpreter (so the user's package imports), environment and
arguments (``sys.argv`` is the trainer's, so the hook can find the held-out data the way
the trainer did), loads the new model and the serving one with the runtime's loaders,
calls the hook on each loaded object, and writes what it found as one JSON object to
``--out``: ``{"hook", "candidate", "baseline"}``, ``{"hook": null}`` when a default hook is
not defined, or ``{"error"}``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from modelops_runtime.artifacts import resolve
from modelops_runtime.errors import ArtifactError
from modelops_runtime.models.loader import load_object
from modelops_runtime.settings import Settings
from modelops_runtime.training.arguments import parse_hook
from modelops_runtime.training.metrics import MetricsError, checked

ROLES = {"candidate": "this run's model", "baseline": "the serving version's model"}


class HookError(Exception):
    pass


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m modelops_runtime.training.hook")
    parser.add_argument("--hook", required=True, help="module:function")
    parser.add_argument(
        "--if-defined", action="store_true", help="no hook is fine (the default 'evaluate')"
    )
    parser.add_argument("--candidate", type=Path, required=True)
    parser.add_argument("--baseline", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("trainer_args", nargs="*", help="the trainer's arguments, after --")
    args = parser.parse_args(argv)
    hook = parse_hook(args.hook)
    sys.argv = [hook.module, *args.trainer_args]
    try:
        found = _function(hook.module, hook.function, required=not args.if_defined)
        if found is None:
            _write(args.out, {"hook": None})
            return 0
        scores = {role: _score(found, str(hook), getattr(args, role), role) for role in ROLES}
    except HookError as err:
        _write(args.out, {"error": str(err)})
        return 1
    _write(args.out, {"hook": str(hook), **scores})
    return 0


def _function(module_name: str, name: str, required: bool) -> Any:
    try:
        module = importlib.import_module(module_name)
    except (Exception, SystemExit) as err:
        traceback.print_exc()
        raise HookError(f"cannot import {module_name}: {type(err).__name__}: {err}") from err
    function = getattr(module, name, None)
    if function is None and not required:
        return None
    if not callable(function):
        raise HookError(f"{module_name} has no function {name}")
    return function


def _score(function: Any, hook: str, path: Path, role: str) -> dict[str, float]:
    try:
        model = load_object(resolve(path), Settings.from_env().skops_trusted)
    except ArtifactError as err:
        raise HookError(f"cannot load {ROLES[role]} to score it: {err} ({err.reason})") from err
    try:
        result = function(model)
    except (Exception, SystemExit) as err:  # an argparse error in the hook exits
        traceback.print_exc()
        raise HookError(f"{hook} raised on {ROLES[role]}: {type(err).__name__}: {err}") from err
    if not isinstance(result, Mapping):
        raise HookError(
            f"{hook} returned {type(result).__name__} for {ROLES[role]}; return a dict of "
            "metric name to number, e.g. {'auc': 0.91}"
        )
    try:
        return checked(result, hook)
    except MetricsError as err:
        raise HookError(str(err)) from err


def _write(out: Path, data: dict[str, Any]) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data, sort_keys=True))


if __name__ == "__main__":
    sys.exit(main())
