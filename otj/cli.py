"""The ``otj`` command line: discovers the sub-command modules in ``otj.commands``."""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys
from collections.abc import Callable, Sequence
from typing import cast

import otj
import otj.commands
import otj.logs

Handler = Callable[[argparse.Namespace], int]


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
    for info in sorted(pkgutil.iter_modules(otj.commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"otj.commands.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(sub)
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
