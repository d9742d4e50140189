"""Shared fixtures: a database on every backend, a controllable clock.

``db`` runs each test on SQLite and, when ``OTJ_TEST_DATABASE_URL`` is set (CI sets it), also on
PostgreSQL, in a schema of its own so parallel runs never collide. ``pg_url`` is for the tests
that only make sense on PostgreSQL (several workers, a dropped backend): without the variable
they fail with a message instead of silently skipping.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import pytest

PG_ENV = "OTJ_TEST_DATABASE_URL"
BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get(PG_ENV) else [])


def _with_search_path(url: str, schema: str) -> str:
    option = quote(f"-csearch_path={schema}", safe="")
    return f"{url}{'&' if '?' in url else '?'}options={option}"


class PgSchema:
    """A throw-away PostgreSQL schema and a URL whose connections use it."""

    def __init__(self, base_url: str) -> None:
        import sqlalchemy as sa

        self.base_url = base_url
        self.schema = f"otj_t_{uuid.uuid4().hex[:12]}"
        self.url = _with_search_path(base_url, self.schema)
        self._engine = sa.create_engine(base_url, poolclass=sa.pool.NullPool)
        with self._engine.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{self.schema}"'))

    def drop(self) -> None:
        import sqlalchemy as sa

        with self._engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE'))
        self._engine.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database URL on each configured backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'otj.db'}"
        return
    schema = PgSchema(os.environ[PG_ENV])
    try:
        yield schema.url
    finally:
        schema.drop()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL schema (tests that need PostgreSQL itself)."""
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.fail(f"this test needs PostgreSQL: set {PG_ENV} (CI does)")
    schema = PgSchema(base)
    try:
        yield schema.url
    finally:
        schema.drop()


@pytest.fixture
def secret_env(tmp_path: Path) -> dict[str, str]:
    """An environment with a fixed key file location (no OTJ_SECRET_KEY)."""
    return {"OTJ_SECRET_KEY_FILE": str(tmp_path / "secret.key")}


@pytest.fixture
def db(database_url: str, tmp_path: Path, secret_env: dict[str, str]):  # type: ignore[no-untyped-def]
    """An upgraded database on each backend."""
    from otj.store import Database, SecretBox

    database = Database(
        database_url,
        box=SecretBox(key_file=tmp_path / "secret.key", environ=secret_env),
        application_name="otj-test",
    )
    database.upgrade()
    try:
        yield database
    finally:
        database.close()


class FakeClock:
    """A clock tests move by hand; ``sleep`` advances it instead of waiting."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
        self._lock = threading.Lock()
        self.slept: list[float] = []

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> datetime:
        with self._lock:
            self._now += timedelta(seconds=seconds)
            return self._now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.advance(seconds)

    def monotonic(self) -> float:
        return self.now().timestamp()


@pytest.fixture
def clock() -> FakeClock:
    """A fake clock at 2026-03-02 09:00 UTC (a Monday)."""
    return FakeClock()
