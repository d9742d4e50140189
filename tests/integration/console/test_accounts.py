"""Console administrators: argon2 hashes, lock-out, sessions that end, ``otj admins``."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from otj.store import Database
from otj.store.admins import LOCK_AFTER, LOCK_FOR, PasswordTooShort
from otj.store.tables.console import AdminRow, AdminSessionRow
from tests.conftest import FakeClock
from tests.integration.console.helpers import PASSWORD


def test_password_is_stored_as_an_argon2id_hash(db: Database, clock: FakeClock) -> None:
    db.admins.set("alice", PASSWORD, role="admin", now=clock.now())
    with db.reading() as session:
        stored = session.scalars(select(AdminRow.password_hash)).one()
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored
    assert db.admins.sign_in("alice", PASSWORD, now=clock.now()).admin is not None
    assert db.admins.sign_in("alice", "wrong password!", now=clock.now()).admin is None
    assert db.admins.sign_in("nobody", PASSWORD, now=clock.now()).admin is None


def test_short_passwords_and_unknown_roles_are_refused(db: Database, clock: FakeClock) -> None:
    with pytest.raises(PasswordTooShort):
        db.admins.set("alice", "short", role="admin", now=clock.now())
    with pytest.raises(ValueError, match=r"role must be one of admin \| viewer"):
        db.admins.set("alice", PASSWORD, role="root", now=clock.now())  # type: ignore[arg-type]


def test_repeated_failures_lock_the_account_even_for_the_right_password(
    db: Database, clock: FakeClock
) -> None:
    db.admins.set("alice", PASSWORD, role="admin", now=clock.now())
    outcomes = [db.admins.sign_in("alice", "guess", now=clock.now()) for _ in range(LOCK_AFTER)]
    assert [o.locked for o in outcomes] == [False] * (LOCK_AFTER - 1) + [True]
    assert db.admins.sign_in("alice", PASSWORD, now=clock.now()).locked
    clock.advance(LOCK_FOR.total_seconds() + 1)
    assert db.admins.sign_in("alice", PASSWORD, now=clock.now()).admin is not None


def test_sessions_end_when_idle_or_old_and_on_a_new_password(
    db: Database, clock: FakeClock
) -> None:
    db.admins.set("alice", PASSWORD, role="admin", now=clock.now())
    idle = timedelta(minutes=30)
    cookie, opened = db.admins.open_session("alice", now=clock.now(), lifetime=timedelta(hours=1))
    with db.reading() as session:
        assert cookie not in session.scalars(select(AdminSessionRow.id_hash)).one()
    assert db.admins.session(cookie, now=clock.now(), idle=idle) == opened
    clock.advance(25 * 60)
    assert db.admins.session(cookie, now=clock.now(), idle=idle) is not None  # used: kept
    clock.advance(31 * 60)
    assert db.admins.session(cookie, now=clock.now(), idle=idle) is None  # idle too long
    cookie, _ = db.admins.open_session("alice", now=clock.now(), lifetime=timedelta(hours=1))
    for _ in range(3):
        clock.advance(25 * 60)
        found = db.admins.session(cookie, now=clock.now(), idle=idle)
    assert found is None  # never idle, but older than its lifetime
    cookie, _ = db.admins.open_session("alice", now=clock.now(), lifetime=timedelta(hours=1))
    db.admins.set("alice", PASSWORD + "!", role="admin", now=clock.now())
    assert db.admins.session(cookie, now=clock.now(), idle=idle) is None


def test_otj_admins_create_reads_the_password_from_stdin(tmp_path: Path) -> None:
    env = {"OTJ_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    run = [sys.executable, "-m", "otj", "admins"]
    made = subprocess.run(
        [*run, "create", "carol", "--role", "viewer"],
        input=PASSWORD + "\n", capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert "administrator 'carol' (viewer) created" in made.stdout
    short = subprocess.run(
        [*run, "create", "dave"], input="short\n", capture_output=True, text=True, env=env,
        timeout=60, check=False,
    )  # fmt: skip
    assert short.returncode == 1
    assert "at least 10 characters" in short.stderr
    listed = subprocess.run(
        [*run, "list"], capture_output=True, text=True, env=env, timeout=60, check=True
    )
    assert listed.stdout.startswith("carol\tviewer\tlast sign-in never")
    assert PASSWORD not in listed.stdout
