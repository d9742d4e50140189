"""The ``otj`` command line: one sub-command per module listed in ``COMMANDS``."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import cast

import otj
import otj.logs
from otj.commands import (
    admins,
    calendars,
    calls,
    config,
    db,
    endpoints,
    gateway,
    route,
    rules,
    serve,
    status,
    tokens,
    worker,
)

Handler = Callable[[argparse.Namespace], int]

COMMANDS: tuple[ModuleType, ...] = (
    admins,
    calendars,
    calls,
    config,
    db,
    endpoints,
    gateway,
    route,
    rules,
    serve,
    status,
    tokens,
    worker,
)
"""Modules whose ``register(subparsers)`` adds a sub-command, in the order ``--help`` lists them.
Their top-level imports stay light (the handlers import what they need) so ``otj --help`` is
fast."""


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser with every sub-command module's parser attached."""
    parser = argparse.ArgumentParser(prog="otj", description="One-Touch Join with SIP Guest Join")
    parser.add_argument("--version", action="version", version=f"otj {otj.__version__}")
    parser.add_argument(
        "--log-level",
        default="INFO",
        type=str.upper,
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="DEBUG, INFO, WARNING or ERROR, in any case (default INFO)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        command.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``otj`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    otj.logs.configure(getattr(logging, args.log_level))  # secrets redacted at every level
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        return cast(Handler, func)(args)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        from otj.cli_errors import explain

        message = explain(exc, args)
        if message is None:
            raise
        sys.stderr.write(f"otj {args.command}: error: {message}\n")
        return 2


if __name__ == "__main__":
    sys.exit(main())
