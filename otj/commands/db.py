"""``otj db upgrade | current | keygen``."""

from __future__ import annotations

import argparse
from typing import Any

from otj.commands.runtime import add_database_arguments, echo


def register(subparsers: Any) -> None:
    """Add ``otj db``."""
    parser = subparsers.add_parser("db", help="database schema and secret key")
    sub = parser.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    upgrade = sub.add_parser("upgrade", help="apply the schema migrations (the service also does)")
    add_database_arguments(upgrade)
    upgrade.set_defaults(func=_upgrade)
    current = sub.add_parser("current", help="print the schema revision of the database")
    add_database_arguments(current)
    current.set_defaults(func=_current)
    keygen = sub.add_parser("keygen", help="print a new key for OTJ_SECRET_KEY")
    keygen.set_defaults(func=_keygen)


def _upgrade(args: argparse.Namespace) -> int:
    from otj.commands.runtime import open_store
    from otj.store import redact_url
    from otj.store.migrate import current_revision

    db = open_store(args, upgrade=False)
    try:
        db.upgrade()
        echo(f"{redact_url(db.url)}: schema at revision {current_revision(db.engine)}")
    finally:
        db.close()
    return 0


def _current(args: argparse.Namespace) -> int:
    from pathlib import Path

    from sqlalchemy import make_url

    from otj.commands.runtime import open_store, resolve_runtime
    from otj.store import redact_url
    from otj.store.migrate import current_revision, head_revision

    url = resolve_runtime(data_dir=args.data_dir, database=args.database).database_url
    parsed = make_url(url)
    file = parsed.database if parsed.get_backend_name() == "sqlite" else None
    if file not in (None, "", ":memory:") and not Path(str(file)).is_file():
        echo(f"{redact_url(url)}: no database yet (otj db upgrade creates it)")  # none created
        return 1
    db = open_store(args, upgrade=False)
    try:
        current = current_revision(db.engine)
        head = head_revision()
        echo(f"{redact_url(db.url)}: revision {current or '(empty)'}, newest {head}")
        return 0 if current == head else 1
    finally:
        db.close()


def _keygen(_args: argparse.Namespace) -> int:
    from otj.store.secrets import generate_key

    echo(generate_key())
    return 0
