"""``scanguard`` command: one sub-command per job, each registered by the package that owns it."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

#: Modules that expose ``register(subparsers)``; each adds its own sub-commands.
_COMMAND_MODULES = (
    "scanner._cli",
    "scanner.simulate._cli",
    "detect._cli",
    "models._cli",
    "validation._cli",
    "service._cli",
)


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with every installed sub-command."""
    parser = argparse.ArgumentParser(
        prog="scanguard",
        description="Find contraband (mobile phones) in full-body transmission X-ray scans.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in _COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:  # a package not yet present in this build
            if exc.name == name:
                continue
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
