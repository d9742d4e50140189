"""``otj admins create NAME [--role admin|viewer] | list | remove NAME``: console accounts.

The password is read from the terminal (asked twice) or, when standard input is not a
terminal, from its first line (``printf '%s\\n' "$PASSWORD" | otj admins create alice``).
Creating an existing administrator replaces its password and role, unlocks it and ends its
sessions. Passwords are stored as argon2id hashes (``otj.store.admins``).
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from typing import Any

from otj.commands.runtime import add_database_arguments, echo


def _name(text: str) -> str:
    """An administrator name: printable, no spaces, 1 to 100 characters."""
    name = text.strip()
    if not name or len(name) > 100 or not name.isprintable() or " " in name:
        raise argparse.ArgumentTypeError("a name is 1 to 100 printable characters without spaces")
    return name


def register(subparsers: Any) -> None:
    """Add ``otj admins``."""
    parser = subparsers.add_parser("admins", help="console administrators (sign-in accounts)")
    sub = parser.add_subparsers(dest="admins_command", metavar="ACTION", required=True)
    create = sub.add_parser("create", help="create an administrator or set its password")
    create.add_argument("name", type=_name, metavar="NAME")
    create.add_argument(
        "--role",
        choices=("admin", "viewer"),
        default="admin",
        help="admin changes the configuration; viewer only looks (default: admin)",
    )
    add_database_arguments(create)
    create.set_defaults(func=_create)
    listing = sub.add_parser("list", help="list administrators")
    add_database_arguments(listing)
    listing.set_defaults(func=_list)
    remove = sub.add_parser("remove", help="delete an administrator and its sessions")
    remove.add_argument("name", metavar="NAME")
    add_database_arguments(remove)
    remove.set_defaults(func=_remove)


def read_password(name: str) -> str | None:
    """From the terminal (twice) or the first line of standard input; None when they differ."""
    if sys.stdin.isatty():
        import getpass

        first = getpass.getpass(f"password for {name}: ")
        again = getpass.getpass("again: ")
        return first if first == again else None
    return sys.stdin.readline().rstrip("\r\n")


def _create(args: argparse.Namespace) -> int:
    from otj.commands.runtime import open_store
    from otj.store.admins import PasswordTooShort

    password = read_password(args.name)
    if password is None:
        echo("error: the passwords differ; nothing was changed", err=True)
        return 1
    db = open_store(args)
    try:
        existed = db.admins.get(args.name) is not None
        admin = db.admins.set(args.name, password, role=args.role, now=datetime.now(UTC))
    except PasswordTooShort as exc:
        echo(f"error: {exc}; nothing was changed", err=True)
        return 1
    finally:
        db.close()
    what = "updated (its sessions ended)" if existed else "created"
    echo(f"administrator {admin.name!r} ({admin.role}) {what}; sign in at /console")
    return 0


def _list(args: argparse.Namespace) -> int:
    from otj.commands.runtime import open_store

    db = open_store(args)
    try:
        admins = db.admins.list()
    finally:
        db.close()
    now = datetime.now(UTC)
    for admin in admins:
        locked = " (locked)" if admin.locked_until and admin.locked_until > now else ""
        last = f"{admin.last_sign_in_at:%Y-%m-%d %H:%M} UTC" if admin.last_sign_in_at else "never"
        echo(f"{admin.name}\t{admin.role}{locked}\tlast sign-in {last}")
    if not admins:
        echo("no administrators: otj admins create NAME", err=True)
    return 0


def _remove(args: argparse.Namespace) -> int:
    from otj.commands.runtime import open_store

    db = open_store(args)
    try:
        removed = db.admins.remove(args.name)
    finally:
        db.close()
    if not removed:
        echo(f"error: no administrator {args.name!r}", err=True)
        return 1
    echo(f"administrator {args.name!r} removed")
    return 0
