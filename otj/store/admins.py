"""Console administrators and their sessions.

Passwords are hashed with argon2id (RFC 9106, ``argon2-cffi``'s defaults); a hash made with
older parameters is replaced at the next successful sign-in. ``LOCK_AFTER`` failed sign-ins in
a row lock an account for ``LOCK_FOR`` (a sign-in while locked fails without checking the
password). A session is stored by the SHA-256 of its cookie value, so a database reader cannot
use it; it ends ``idle`` after its last use or ``lifetime`` after sign-in, whichever is first.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal, cast

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select

from otj.store.tables.console import AdminRow, AdminSessionRow

if TYPE_CHECKING:
    from otj.store.db import Database

Role = Literal["admin", "viewer"]
ROLES: tuple[Role, ...] = ("admin", "viewer")
LOCK_AFTER = 5
LOCK_FOR = timedelta(minutes=15)
MIN_PASSWORD = 10
TOUCH_EVERY = timedelta(seconds=30)
"""A session's last use is recorded at most this often (its idle limit is minutes long)."""
_hasher = PasswordHasher()
#: The password hash of an account that signs in through OpenID Connect only (never verifies).
EXTERNAL = "!oidc"


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the account does not exist, so both cases take the same time
    (made on first use: hashing costs about 0.1 s, which every process paid at import)."""
    return _hasher.hash("otj: no such administrator")


@dataclass(frozen=True, kw_only=True, slots=True)
class Admin:
    """A console administrator (``viewer`` reads, ``admin`` also changes)."""

    name: str
    role: Role
    created_at: datetime
    failed_attempts: int = 0
    locked_until: datetime | None = None
    last_sign_in_at: datetime | None = None

    @property
    def may_change(self) -> bool:
        """Admins change the configuration; viewers only look."""
        return self.role == "admin"


@dataclass(frozen=True, kw_only=True, slots=True)
class ConsoleSession:
    """A signed-in browser: its administrator and the CSRF token its forms carry."""

    admin: Admin
    csrf_token: str
    expires_at: datetime


@dataclass(frozen=True, kw_only=True, slots=True)
class SignIn:
    """A sign-in attempt's outcome: the administrator, or why not (never which part was wrong)."""

    admin: Admin | None
    locked: bool = False


class PasswordTooShort(ValueError):
    """A new password shorter than ``MIN_PASSWORD`` characters."""


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _admin(row: AdminRow) -> Admin:
    return Admin(
        name=row.name,
        role=cast(Role, row.role),
        created_at=row.created_at,
        failed_attempts=row.failed_attempts,
        locked_until=row.locked_until,
        last_sign_in_at=row.last_sign_in_at,
    )


class AdminRepository:
    """Create, list and remove administrators; sign in; sessions."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def set(self, name: str, password: str, *, role: Role, now: datetime) -> Admin:
        """Create an administrator or replace its password and role (and unlock it)."""
        if role not in ROLES:
            raise ValueError(f"role must be one of {' | '.join(ROLES)}, got {role!r}")
        if len(password) < MIN_PASSWORD:
            raise PasswordTooShort(f"the password must have at least {MIN_PASSWORD} characters")
        hashed = _hasher.hash(password)
        with self._db.transaction() as session:
            row = session.get(AdminRow, name)
            if row is None:
                row = AdminRow(name=name, created_at=now)
                session.add(row)
            else:  # a new password ends every session of the old one
                session.execute(delete(AdminSessionRow).where(AdminSessionRow.admin == name))
            row.role = role
            row.password_hash = hashed
            row.failed_attempts = 0
            row.locked_until = None
            session.flush()
            return _admin(row)

    def external(self, name: str, *, role: Role, now: datetime) -> Admin:
        """The account of someone who signed in through OpenID Connect, with the role the
        provider gives now; a local (password) account of that name is never taken over."""
        with self._db.transaction() as session:
            row = session.get(AdminRow, name, with_for_update=True)
            if row is None:
                row = AdminRow(name=name, created_at=now, password_hash=EXTERNAL)
                session.add(row)
            elif row.password_hash != EXTERNAL:
                raise PermissionError(f"a local account is named {name!r}")
            row.role = role
            row.failed_attempts = 0
            row.last_sign_in_at = now
            session.flush()
            return _admin(row)

    def get(self, name: str) -> Admin | None:
        """One administrator."""
        with self._db.reading() as session:
            row = session.get(AdminRow, name)
            return _admin(row) if row else None

    def list(self) -> list[Admin]:
        """Every administrator by name."""
        with self._db.reading() as session:
            return [_admin(r) for r in session.scalars(select(AdminRow).order_by(AdminRow.name))]

    def remove(self, name: str) -> bool:
        """Delete an administrator (and its sessions); False when there was none."""
        with self._db.transaction() as session:
            row = session.get(AdminRow, name)
            if row is None:
                return False
            session.delete(row)
            return True

    def sign_in(self, name: str, password: str, *, now: datetime) -> SignIn:
        """Check a password, counting failures and locking the account after ``LOCK_AFTER``."""
        with self._db.transaction() as session:
            row = session.get(AdminRow, name, with_for_update=True)
            if row is None:
                _verify(_dummy_hash(), password)
                return SignIn(admin=None)
            if row.locked_until is not None and row.locked_until > now:
                return SignIn(admin=None, locked=True)
            if not _verify(row.password_hash, password):
                row.failed_attempts += 1
                if row.failed_attempts >= LOCK_AFTER:
                    row.locked_until = now + LOCK_FOR
                    row.failed_attempts = 0
                    return SignIn(admin=None, locked=True)
                return SignIn(admin=None)
            if _hasher.check_needs_rehash(row.password_hash):
                row.password_hash = _hasher.hash(password)
            row.failed_attempts = 0
            row.locked_until = None
            row.last_sign_in_at = now
            session.flush()
            return SignIn(admin=_admin(row))

    def open_session(
        self, admin: str, *, now: datetime, lifetime: timedelta
    ) -> tuple[str, ConsoleSession]:
        """A new session: (the cookie value, shown only here; the session)."""
        cookie = secrets.token_urlsafe(32)
        with self._db.transaction() as session:
            session.execute(delete(AdminSessionRow).where(AdminSessionRow.expires_at <= now))
            row = session.get(AdminRow, admin)
            if row is None:
                raise LookupError(f"no administrator {admin!r}")
            found = AdminSessionRow(
                id_hash=_digest(cookie),
                admin=admin,
                csrf_token=secrets.token_urlsafe(32),
                created_at=now,
                last_seen_at=now,
                expires_at=now + lifetime,
            )
            session.add(found)
            session.flush()
            return cookie, ConsoleSession(
                admin=_admin(row), csrf_token=found.csrf_token, expires_at=found.expires_at
            )

    def session(self, cookie: str, *, now: datetime, idle: timedelta) -> ConsoleSession | None:
        """The live session a cookie names, else None. Its last use is written at most every
        ``TOUCH_EVERY`` (a page view is a read, not a write, most of the time)."""
        if not cookie:
            return None
        key = _digest(cookie)
        with self._db.reading() as session:
            row = session.get(AdminSessionRow, key)
            admin = session.get(AdminRow, row.admin) if row is not None else None
            found = (row.expires_at, row.last_seen_at, row.csrf_token) if row else None
        if found is None or admin is None:
            return None
        expires_at, last_seen_at, csrf_token = found
        if expires_at <= now or last_seen_at + idle <= now:
            self.close_session(cookie)
            return None
        if now - last_seen_at >= TOUCH_EVERY:
            with self._db.transaction() as session:
                stored = session.get(AdminSessionRow, key)
                if stored is not None:
                    stored.last_seen_at = now
        return ConsoleSession(admin=_admin(admin), csrf_token=csrf_token, expires_at=expires_at)

    def close_session(self, cookie: str) -> None:
        """Sign out: the session is gone."""
        with self._db.transaction() as session:
            session.execute(
                delete(AdminSessionRow).where(AdminSessionRow.id_hash == _digest(cookie))
            )


def _verify(hashed: str, password: str) -> bool:
    try:
        return _hasher.verify(hashed, password)
    except (VerificationError, InvalidHashError):
        return False
