"""Where the service keeps its files and which database it uses (environment and defaults).

Data directory: ``--data-dir``, else ``$OTJ_DATA_DIR``, else ``./var``. Database:
``--database``, else ``$OTJ_DATABASE_URL``, else the configuration file's ``database:``, else
``sqlite:///<data dir>/otj.db``. Secret key: ``$OTJ_SECRET_KEY``, else the key file
``$OTJ_SECRET_KEY_FILE``, else ``<data dir>/secret.key`` (created with mode 0600).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


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
