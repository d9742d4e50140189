"""Storage: SQLAlchemy 2 tables, Alembic migrations and repositories returning frozen values.

``open_database(url, key_file=...)`` is the entry point: it creates the data directory for
SQLite, prepares the secret box and upgrades the schema. Which URL and key file to use is the
commands' business (``otj.commands.runtime``): the store reads no configuration.
Nothing outside this package sees an ORM row.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

from otj.store.db import Database, redact_url
from otj.store.secrets import SecretBox, SecretKeyError

__all__ = ["Database", "SecretBox", "SecretKeyError", "open_database", "redact_url"]

if logging.getLogger("alembic").level == logging.NOTSET:
    # Alembic logs at INFO on import and on every run; keep it for warnings (set the level
    # of the "alembic" logger before importing otj.store to see everything)
    logging.getLogger("alembic").setLevel(logging.WARNING)


def open_database(
    url: str,
    *,
    key_file: Path,
    environ: Mapping[str, str] | None = None,
    upgrade: bool = True,
    application_name: str = "otj",
) -> Database:
    """Open (and by default upgrade) the database at ``url``; secrets sealed with the key
    ``$OTJ_SECRET_KEY`` in ``environ``, else the one in ``key_file``."""
    from sqlalchemy import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        # before the engine: it creates the database file private (0600) in this directory
        Path(parsed.database).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    db = Database(
        url,
        box=SecretBox(key_file=key_file, environ=environ),
        application_name=application_name,
    )
    if not key_file.parent.exists():
        key_file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if upgrade:
        db.upgrade()
    return db
