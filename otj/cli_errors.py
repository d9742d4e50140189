"""One readable line for the mistakes an administrator makes, instead of a traceback.

``explain(exc, args)`` returns that line for the errors that come from the command line, its
files or the database it names (never for a bug: those keep their traceback).
"""

from __future__ import annotations

import argparse
import errno

from otj.commands.runtime import UsageError


def _database_url(args: argparse.Namespace) -> str:
    from otj.commands.runtime import resolve_runtime
    from otj.store.db import redact_url

    runtime = resolve_runtime(
        data_dir=getattr(args, "data_dir", None), database=getattr(args, "database", None)
    )
    try:
        return redact_url(runtime.database_url)
    except Exception:  # noqa: BLE001 (an unparseable URL is shown as given)
        return runtime.database_url.split("@")[-1]


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def explain(exc: BaseException, args: argparse.Namespace) -> str | None:
    """The one-line message for ``exc``, or ``None`` when it is not a usage error."""
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError

    from otj.secret import SecretRefError
    from otj.store.db import UnsupportedDatabase
    from otj.store.readonly import StaleSchemaError
    from otj.store.secrets import SecretKeyError

    if isinstance(
        exc, UsageError | StaleSchemaError | SecretKeyError | SecretRefError | UnsupportedDatabase
    ):
        return str(exc)
    if isinstance(exc, NoSuchModuleError | ArgumentError):
        return (
            f"cannot use the database URL {_database_url(args)!r}: {_first_line(exc)} "
            "(expected e.g. sqlite:///var/otj.db or postgresql+psycopg://user@host/dbname)"
        )
    if isinstance(exc, OperationalError):
        return f"cannot use the database {_database_url(args)}: {_first_line(exc)}"
    if isinstance(exc, OSError) and exc.errno in {
        errno.ENOENT,
        errno.EACCES,
        errno.EPERM,
        errno.EISDIR,
        errno.ENOTDIR,
        errno.EROFS,
        errno.ENOSPC,
    }:
        where = f"{exc.filename}: " if exc.filename else ""
        return f"{where}{exc.strerror or exc}"
    return None
