"""What every command resolves before it works: data directory, database, argument types, output.

Data directory: ``--data-dir``, else ``$OTJ_DATA_DIR``, else ``./var``. Database:
``--database``, else ``$OTJ_DATABASE_URL``, else ``sqlite:///<data dir>/otj.db`` — the same for
every command, so ``otj config export`` reads what ``otj config apply`` wrote with the same
options. A configuration file's ``database:`` key does not choose the database: ``apply`` and
``serve --config`` warn when it names another one. Secret key: ``$OTJ_SECRET_KEY``, else the
key file ``$OTJ_SECRET_KEY_FILE``, else ``<data dir>/secret.key`` (created with mode 0600).
The store (``otj.store``) is given the resolved URL and key file; it reads no configuration.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from otj.store import Database


@dataclass(frozen=True, kw_only=True, slots=True)
class Runtime:
    """Resolved locations of the service's data."""

    data_dir: Path
    database_url: str
    key_file: Path


def resolve_runtime(
    *,
    data_dir: str | Path | None = None,
    database: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Runtime:
    """Apply the precedence rules above (nothing is created here)."""
    env = os.environ if environ is None else environ
    directory = Path(data_dir or env.get("OTJ_DATA_DIR") or "var")
    url = (
        database or env.get("OTJ_DATABASE_URL") or f"sqlite:///{(directory / 'otj.db').as_posix()}"
    )
    key_file = Path(env.get("OTJ_SECRET_KEY_FILE") or directory / "secret.key")
    return Runtime(data_dir=directory, database_url=url, key_file=key_file)


DATABASE_HELP = (
    "The database is --database URL, else $OTJ_DATABASE_URL, else SQLite in the data directory "
    "(--data-dir, $OTJ_DATA_DIR, ./var): the same for every otj command. A configuration file's "
    "database: key does not choose it (apply warns when the key names another database)."
)


class UsageError(Exception):
    """A mistake in the command line or its files, reported as one line (no traceback)."""


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def positive_float(text: str) -> float:
    """An argparse type: a number of seconds greater than 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number greater than 0, got {text}")
    return value


def add_database_arguments(parser: argparse.ArgumentParser) -> None:
    """``--database`` and ``--data-dir`` for every command that opens the store."""
    parser.add_argument(
        "--database",
        metavar="URL",
        help="SQLAlchemy URL, e.g. postgresql+psycopg://otj@db/otj or sqlite:///var/otj.db "
        "(default: $OTJ_DATABASE_URL, else sqlite in the data directory)",
    )
    parser.add_argument(
        "--data-dir",
        metavar="DIR",
        help="where SQLite, the secret key and demo files live (default: $OTJ_DATA_DIR or ./var)",
    )


def open_configured_database(
    database: str | None = None,
    *,
    data_dir: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
    upgrade: bool = True,
    application_name: str = "otj",
) -> Database:
    """Open (and by default upgrade) the database the precedence rules above choose."""
    from otj.store import open_database

    runtime = resolve_runtime(data_dir=data_dir, database=database, environ=environ)
    return open_database(
        runtime.database_url,
        key_file=runtime.key_file,
        environ=environ,
        upgrade=upgrade,
        application_name=application_name,
    )


def open_store(
    args: argparse.Namespace,
    *,
    config_file: Path | None = None,
    application_name: str = "otj",
    upgrade: bool = True,
) -> Database:
    """Open (and by default upgrade) the store named by the command line (``config_file``: warn
    when its ``database:`` names another database, see :func:`warn_file_database`)."""
    db = open_configured_database(
        getattr(args, "database", None),
        data_dir=getattr(args, "data_dir", None),
        upgrade=upgrade,
        application_name=application_name,
    )
    if config_file is not None:
        warn_file_database(config_file, db.url)
    return db


def check_readable(path: Path, *, utf8: bool = False) -> None:
    """``UsageError`` naming ``path`` unless it is a readable file (of UTF-8 text)."""
    try:
        with path.open("rb") as handle:
            if utf8:
                handle.read().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(
            f"{path}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start})"
        ) from None
    except IsADirectoryError:
        raise UsageError(f"{path}: is a directory, not a file") from None
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot read ({exc.strerror})") from None


def warn_file_database(path: Path, url: str) -> None:
    """Say so when the file's ``database:`` names another database than the one in use."""
    from otj.config import read_database_setting
    from otj.store.db import redact_url

    named = read_database_setting(path)
    if named and named != url:
        echo(
            f"{path}: note: the file's database: {redact_url(named)} is not used; this command "
            f"uses {redact_url(url)} (--database URL or $OTJ_DATABASE_URL choose another)",
            err=True,
        )


def echo(text: str, *, err: bool = False) -> None:
    """Write a line of command output (stdout, or stderr for diagnostics)."""
    stream = sys.stderr if err else sys.stdout
    stream.write(text + "\n")
    stream.flush()
