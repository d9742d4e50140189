"""The database handle: engine set-up for SQLite and PostgreSQL, transactions, repositories.

SQLite: WAL journal, foreign keys on, a busy timeout, and ``BEGIN IMMEDIATE`` for write
transactions (a deferred transaction that reads then writes fails with SQLITE_BUSY under
concurrency instead of waiting). PostgreSQL: ``pool_pre_ping`` so a connection the server
dropped is replaced on checkout, and an ``application_name`` that identifies the process.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry

from otj.store.admins import AdminRepository
from otj.store.alarms import AlarmRepository
from otj.store.audit import AuditRepository
from otj.store.calls import CallRepository
from otj.store.config_repo import ConfigRepository
from otj.store.delivery import DeliveryStateRepository
from otj.store.identity import IdentityRepository
from otj.store.licences import LicenceBoard
from otj.store.meetings import MeetingRepository
from otj.store.push import PushRepository
from otj.store.rooms import RoomRepository
from otj.store.secrets import SecretBox
from otj.store.tokens import TokenRepository

log = logging.getLogger(__name__)

READ_ONLY = "otj_read_only"


class UnsupportedDatabase(ValueError):
    """The URL names neither SQLite nor PostgreSQL."""


def redact_url(url: str) -> str:
    """The URL without its password, for logs and status output."""
    return make_url(url).render_as_string(hide_password=True)


def _create_private(database: str) -> None:
    """Create the SQLite file readable by its owner only (its -wal/-shm files follow its mode)."""
    try:
        fd = os.open(database, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        mode = Path(database).stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            log.warning(
                "database file %s is readable by others (mode %o): run chmod 600 %s",
                database,
                stat.S_IMODE(mode),
                database,
            )
    except OSError:
        return  # SQLite reports what is wrong with the path when it opens it
    else:
        os.close(fd)


def _sqlite_engine(url: str, echo: bool) -> Engine:
    database = make_url(url).database
    if database not in (None, "", ":memory:") and not database.startswith("file:"):
        _create_private(database)
    engine = create_engine(
        url,
        echo=echo,
        connect_args={"check_same_thread": False, "timeout": 60},
        pool_size=8,
        max_overflow=24,
        pool_timeout=120,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=60000")
        if make_url(url).database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        read_only = conn.get_execution_options().get(READ_ONLY, False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    return engine


def _postgres_engine(url: str, echo: bool, application_name: str) -> Engine:
    return create_engine(
        url,
        echo=echo,
        pool_pre_ping=True,
        pool_size=10,
        max_overflow=30,
        pool_timeout=120,
        connect_args={"application_name": application_name, "connect_timeout": 10},
    )


class Database:
    """One database: its engine, session factories and the repositories over it."""

    def __init__(
        self,
        url: str,
        *,
        box: SecretBox,
        application_name: str = "otj",
        echo: bool = False,
    ) -> None:
        self.url = url
        self.box = box
        backend = make_url(url).get_backend_name()
        if backend == "sqlite":
            self.engine = _sqlite_engine(url, echo)
        elif backend == "postgresql":
            self.engine = _postgres_engine(url, echo, application_name)
        else:
            raise UnsupportedDatabase(
                f"unsupported database {redact_url(url)}: use sqlite:///PATH or "
                "postgresql+psycopg://USER@HOST/DBNAME"
            )
        self.dialect = backend
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._read_sessions = sessionmaker(
            self.engine.execution_options(**{READ_ONLY: True}), expire_on_commit=False
        )

    def __repr__(self) -> str:
        return f"Database({redact_url(self.url)!r})"

    @property
    def is_sqlite(self) -> bool:
        """SQLite allows one worker process; PostgreSQL many."""
        return self.dialect == "sqlite"

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A write transaction: committed when the block ends, rolled back on any exception."""
        with self._sessions() as session, session.begin():
            yield session

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A read-only transaction (on SQLite it does not take the write lock)."""
        with self._read_sessions() as session, session.begin():
            yield session

    def upgrade(self) -> None:
        """Bring the schema to the newest migration (safe to run from several processes)."""
        # deferred, not for a cycle: alembic is imported only after otj.store (whose
        # __init__ imports this module first) has set the "alembic" logger's level
        from otj.store.migrate import upgrade

        upgrade(self.engine)

    def close(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

    # --- repositories ---------------------------------------------------------------------

    @cached_property
    def config(self) -> ConfigRepository:
        """Configuration objects (profiles, integrations, endpoints, rules, gateway)."""
        return ConfigRepository(self)

    @cached_property
    def rooms(self) -> RoomRepository:
        """Per-room sync state, schedule, leases, poll outcomes and delivery marks."""
        return RoomRepository(self)

    @cached_property
    def meetings(self) -> MeetingRepository:
        """Processed meetings per room."""
        return MeetingRepository(self)

    @cached_property
    def alarms(self) -> AlarmRepository:
        """Raised and cleared alarms."""
        return AlarmRepository(self)

    @cached_property
    def calls(self) -> CallRepository:
        """Gateway call detail records."""
        return CallRepository(self)

    @cached_property
    def delivery(self) -> DeliveryStateRepository:
        """Per-endpoint delivery state."""
        return DeliveryStateRepository(self)

    @cached_property
    def tokens(self) -> TokenRepository:
        """Admin and endpoint bearer tokens."""
        return TokenRepository(self)

    @cached_property
    def identity(self) -> IdentityRepository:
        """The gateway's TLS identity (key, request, certificate chain)."""
        return IdentityRepository(self)

    @cached_property
    def licences(self) -> LicenceBoard:
        """Licences each running gateway process holds (heartbeat rows)."""
        return LicenceBoard(self)

    @cached_property
    def admins(self) -> AdminRepository:
        """Console administrators and their sessions."""
        return AdminRepository(self)

    @cached_property
    def audit(self) -> AuditRepository:
        """The configuration audit log."""
        return AuditRepository(self)

    @cached_property
    def push(self) -> PushRepository:
        """Push subscription leases and the notification queue."""
        return PushRepository(self)
