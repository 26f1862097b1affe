"""``modelops``: serve a model locally (the runtime's own commands), deploy and manage models,
train on the cluster."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from modelops_cli import (
    delete_command,
    deploy_command,
    predict_command,
    set_default_command,
    train_command,
    versions_command,
)
from modelops_cli.errors import CommandError
from modelops_runtime import commands as runtime_commands


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="modelops", description="Serve, deploy and manage scikit-learn and XGBoost models."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    runtime_commands.register(commands)  # serve and fetch, as the pods run them
    for command in (deploy_command, predict_command, versions_command, set_default_command,
                    delete_command, train_command):  # fmt: skip
        command.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt:
        return 130
    except CommandError as err:
        print(f"modelops: {err}", file=sys.stderr)
        return 1
    except Exception as err:
        if os.environ.get("MODELOPS_DEBUG"):
            raise
        print(
            f"modelops: unexpected error: {type(err).__name__}: {err} "
            "(set MODELOPS_DEBUG=1 for the full trace)",
            file=sys.stderr,
        )
        return 2


if __name__ == "__main__":
    sys.exit(main())
