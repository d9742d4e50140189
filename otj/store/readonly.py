"""Read the stored configuration without writing anything (``otj config apply --check``).

A SQLite file that does not exist is not created, no migration runs and no secret key is
created: an absent or empty database is read as the empty configuration.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import make_url

from otj.store.config_rows import SPECS
from otj.store.db import Database, redact_url
from otj.store.migrate import current_revision, head_revision
from otj.store.secrets import SecretBox
from otj.store.values import Configuration


class StaleSchemaError(Exception):
    """The database is at another schema revision than this version's (upgrade it first)."""


def stored_configuration(target: str) -> Configuration:
    """The configuration stored in the database at URL ``target``."""
    parsed = make_url(target)
    file = parsed.database
    absent = (
        parsed.get_backend_name() == "sqlite"
        and file not in (None, "", ":memory:")
        and not Path(str(file)).is_file()
    )
    box = SecretBox(key_file=None, environ={})  # sealed snapshots never open a secret
    if not absent:
        db = Database(target, box=box)
        try:
            revision = current_revision(db.engine)
            if revision == head_revision():
                return db.config.snapshot(secrets="sealed")
            if revision is not None:
                raise StaleSchemaError(
                    f"{redact_url(target)} is at schema revision {revision}, not this version's "
                    f"{head_revision()}: run otj db upgrade first"
                )
        finally:
            db.close()
    return empty_configuration()


def empty_configuration() -> Configuration:
    """What the snapshot of a freshly migrated database holds: every section, no object."""
    return Configuration(sections=frozenset(spec.section for spec in SPECS) | {"gateway", "api"})
