"""Storage: SQLAlchemy 2 tables, Alembic migrations and repositories returning frozen values.

``open_database()`` is the entry point: it resolves the URL (see ``otj.config.runtime``),
creates the data directory for SQLite, prepares the secret box and upgrades the schema.
Nothing outside this package sees an ORM row.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from otj.store.db import Database, redact_url
from otj.store.secrets import SecretBox, SecretKeyError

__all__ = ["Database", "SecretBox", "SecretKeyError", "open_database", "redact_url"]

if logging.getLogger("alembic").level == logging.NOTSET:
    # Alembic logs at INFO on import and on every run; keep it for warnings (set the level
    # of the "alembic" logger before importing otj.store to see everything)
    logging.getLogger("alembic").setLevel(logging.WARNING)


def open_database(
    url: str | None = None,
    *,
    data_dir: str | None = None,
    environ: Mapping[str, str] | None = None,
    upgrade: bool = True,
    application_name: str = "otj",
) -> Database:
    """Open (and by default upgrade) the service's database."""
    from sqlalchemy import make_url

    from otj.config.runtime import resolve_runtime

    runtime = resolve_runtime(data_dir=data_dir, database=url, environ=environ)
    parsed = make_url(runtime.database_url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        from pathlib import Path

        # before the engine: it creates the database file private (0600) in this directory
        Path(parsed.database).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    db = Database(
        runtime.database_url,
        box=SecretBox(key_file=runtime.key_file, environ=environ),
        application_name=application_name,
    )
    if not runtime.key_file.parent.exists():
        runtime.key_file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if upgrade:
        db.upgrade()
    return db
