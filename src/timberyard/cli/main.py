"""The `timberyard` command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from . import admin_cmds, serve_cmds


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand (the CLI reference is generated from it)."""
    parser = argparse.ArgumentParser(
        prog="timberyard", description="Timberyard: a self-hosted log platform."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    serve_cmds.register(sub)
    admin_cmds.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `timberyard` command."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    return int(args.handler(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
