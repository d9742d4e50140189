"""``otj tokens create --admin NAME | list | revoke --admin NAME``: admin API bearer tokens.

The token is printed once; only its SHA-256 is stored. Use it as
``Authorization: Bearer <token>`` on ``/api/v1/status/...``. (Endpoint tokens for the pull API
are made with ``otj endpoints token``.)
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from otj.commands.runtime import add_database_arguments, echo


def _name(text: str) -> str:
    """A token name: printable, not blank, at most 100 characters."""
    name = text.strip()
    if not name or len(name) > 100 or not name.isprintable():
        raise argparse.ArgumentTypeError("a token name is 1 to 100 printable characters")
    return name


def register(subparsers: Any) -> None:
    """Add ``otj tokens``."""
    parser = subparsers.add_parser("tokens", help="admin API tokens")
    sub = parser.add_subparsers(dest="tokens_command", metavar="ACTION", required=True)
    create = sub.add_parser("create", help="make a token (printed once)")
    create.add_argument(
        "--admin", metavar="NAME", required=True, type=_name, help="admin token name"
    )
    add_database_arguments(create)
    create.set_defaults(func=_create)
    listing = sub.add_parser("list", help="list tokens (never their values)")
    listing.add_argument("--revoked", action="store_true", help="include revoked tokens")
    add_database_arguments(listing)
    listing.set_defaults(func=_list)
    revoke = sub.add_parser("revoke", help="revoke a token")
    revoke.add_argument("--admin", metavar="NAME", required=True)
    add_database_arguments(revoke)
    revoke.set_defaults(func=_revoke)


def _create(args: argparse.Namespace) -> int:
    from otj.commands.runtime import open_store
    from otj.store.tokens import TokenError

    db = open_store(args)
    try:
        token, record = db.tokens.create("admin", args.admin, now=datetime.now(UTC))
    except TokenError as exc:
        echo(f"error: {exc}", err=True)
        return 1
    finally:
        db.close()
    echo(token)
    echo(f"admin token {record.name!r} created; it is shown only now", err=True)
    return 0


def _list(args: argparse.Namespace) -> int:
    from otj.commands.runtime import open_store
    from otj.commands.status import table

    db = open_store(args)
    try:
        tokens = db.tokens.list(include_revoked=args.revoked)
    finally:
        db.close()
    rows = [
        [
            t.kind,
            t.name,
            t.endpoint or "-",
            t.prefix + "…",
            f"{t.created_at:%Y-%m-%d %H:%M}",
            f"{t.last_used_at:%Y-%m-%d %H:%M}" if t.last_used_at else "-",
            "revoked" if t.revoked_at else "",
        ]
        for t in tokens
    ]
    echo(table(["KIND", "NAME", "ENDPOINT", "PREFIX", "CREATED", "LAST USED", ""], rows))
    return 0


def _revoke(args: argparse.Namespace) -> int:
    from otj.commands.runtime import open_store

    db = open_store(args)
    try:
        ok = db.tokens.revoke("admin", args.admin, now=datetime.now(UTC))
    finally:
        db.close()
    if not ok:
        echo(f"error: no live admin token named {args.admin!r}", err=True)
        return 1
    echo(f"admin token {args.admin!r} revoked")
    return 0
