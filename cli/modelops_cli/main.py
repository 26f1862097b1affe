"""``modelops``: serve a model locally, and (with the cli extra) deploy and manage models."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from modelops_cli import serve_command
from modelops_cli.errors import CommandError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="modelops", description="Serve, deploy and manage scikit-learn and XGBoost models."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve_command.register(commands)
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


if __name__ == "__main__":
    sys.exit(main())
