"""``otj config apply FILE [--prune] [--check]`` and ``otj config export``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from otj.commands.runtime import DATABASE_HELP, add_database_arguments, echo


def register(subparsers: Any) -> None:
    """Add ``otj config``."""
    parser = subparsers.add_parser("config", help="apply or export the declarative configuration")
    sub = parser.add_subparsers(dest="config_command", metavar="ACTION", required=True)

    apply = sub.add_parser(
        "apply",
        help="validate FILE as a whole, then apply it in one transaction",
        description=(
            "Create and update objects matched by name. With --prune, also delete the objects "
            "of the sections FILE names that FILE does not list. Nothing is written when any "
            "error is found; every error names its YAML path and line. Each enabled meeting "
            "processing rule is rendered on its type's sample invitations: an alias that no "
            "call routing rule routes is a warning (an error with --strict). --check validates "
            "against the stored configuration and writes nothing, anywhere (no database or key "
            "file is created). " + DATABASE_HELP
        ),
    )
    apply.add_argument("file", type=Path)
    apply.add_argument("--prune", action="store_true", help="delete unlisted objects")
    apply.add_argument("--check", action="store_true", help="validate only, write nothing")
    apply.add_argument(
        "--strict",
        action="store_true",
        help="a meeting rule whose sample alias no call routing rule routes is an error",
    )
    add_database_arguments(apply)
    apply.set_defaults(func=_apply)

    export = sub.add_parser(
        "export",
        help="write the stored configuration as YAML",
        description="Write the stored configuration as YAML (secrets as references). "
        + DATABASE_HELP,
    )
    export.add_argument("-o", "--output", type=Path, help="file to write (default: stdout)")
    add_database_arguments(export)
    export.set_defaults(func=_export)


def _apply(args: argparse.Namespace) -> int:
    from otj.commands.runtime import check_readable, open_store
    from otj.config import apply_file, load_file
    from otj.config.yamlsrc import YamlError

    path: Path = args.file
    check_readable(path, utf8=True)
    try:
        load_file(path)
    except YamlError as exc:
        echo(f"{path}: {exc.problem}", err=True)
        return 1
    if args.check:
        return _check(args, path)
    db = open_store(args, config_file=path)
    try:
        result = apply_file(db, path, prune=args.prune, strict=args.strict)
        for problem in result.problems:
            echo(f"{path}: {problem}", err=True)
        if result.report is None:
            errors = sum(1 for p in result.problems if not p.warning)
            echo(f"{errors} error(s); nothing was written", err=True)
            return 1
        for change in result.report.changes:
            echo(change.describe())
        from otj.store.db import redact_url

        where = redact_url(db.url)
        if not result.report.changed:
            echo(f"no changes ({where})")
        else:
            report = result.report
            echo(f"{len(report.changes)} change(s) applied to {where} (revision {report.revision})")
        return 0
    finally:
        db.close()


def _check(args: argparse.Namespace, path: Path) -> int:
    """Validate against the stored configuration, opening the database only if it exists."""
    from otj.commands.runtime import resolve_runtime, warn_file_database
    from otj.config import load_file, validate
    from otj.store.readonly import stored_configuration

    url = resolve_runtime(data_dir=args.data_dir, database=args.database).database_url
    existing = stored_configuration(url)
    warn_file_database(path, url)
    located, parse_problems = load_file(path)
    checked = validate(
        located, parse_problems, existing=existing, prune=args.prune, strict=args.strict
    )
    for problem in checked.problems:
        echo(f"{path}: {problem}", err=True)
    echo("valid" if checked.configuration else "invalid")
    return 0 if checked.configuration else 1


def _export(args: argparse.Namespace) -> int:
    from otj.commands.runtime import open_store
    from otj.config.export import to_yaml

    db = open_store(args)
    try:
        text = to_yaml(db.config.snapshot(secrets="sealed"))
    finally:
        db.close()
    if args.output:
        args.output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0
