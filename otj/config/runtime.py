"""Where the service keeps its files and which database it uses (environment and defaults).

Data directory: ``--data-dir``, else ``$OTJ_DATA_DIR``, else ``./var``. Database:
``--database``, else ``$OTJ_DATABASE_URL``, else the configuration file's ``database:``, else
``sqlite:///<data dir>/otj.db``. Secret key: ``$OTJ_SECRET_KEY``, else the key file
``$OTJ_SECRET_KEY_FILE``, else ``<data dir>/secret.key`` (created with mode 0600).
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
    data_dir: str | None = None,
    database: str | None = None,
    config_database: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Runtime:
    """Apply the precedence rules above (nothing is created here)."""
    env = os.environ if environ is None else environ
    directory = Path(data_dir or env.get("OTJ_DATA_DIR") or "var")
    url = (
        database
        or env.get("OTJ_DATABASE_URL")
        or config_database
        or f"sqlite:///{(directory / 'otj.db').as_posix()}"
    )
    key_file = Path(env.get("OTJ_SECRET_KEY_FILE") or directory / "secret.key")
    return Runtime(data_dir=directory, database_url=url, key_file=key_file)


def add_database_arguments(parser: argparse.ArgumentParser) -> None:
    """``--database`` and ``--data-dir`` for every command that opens the store."""
    parser.add_argument(
        "--database",
        metavar="URL",
        help="SQLAlchemy URL (default: $OTJ_DATABASE_URL, else sqlite in the data directory)",
    )
    parser.add_argument(
        "--data-dir",
        metavar="DIR",
        help="where SQLite, the secret key and demo files live (default: $OTJ_DATA_DIR or ./var)",
    )


def open_store(
    args: argparse.Namespace, *, config_file: Path | None = None, application_name: str = "otj"
) -> Database:
    """Open and upgrade the store named by the command line (and the file's ``database:``)."""
    from otj.config import read_database_setting
    from otj.store import open_database

    return open_database(
        getattr(args, "database", None),
        data_dir=getattr(args, "data_dir", None),
        config_database=read_database_setting(config_file) if config_file else None,
        application_name=application_name,
    )


def echo(text: str, *, err: bool = False) -> None:
    """Write a line of command output (stdout, or stderr for diagnostics)."""
    stream = sys.stderr if err else sys.stdout
    stream.write(text + "\n")
    stream.flush()
