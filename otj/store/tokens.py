"""Bearer tokens: admin tokens for the HTTP API and per-endpoint pull-API credentials.

A token is 32 random bytes (``otj_`` + url-safe base64); only its SHA-256 is stored (a
high-entropy token needs no slow hash), together with its first characters to recognise it.

Verified tokens are remembered in the process (``TokenRepository.recall``), by SHA-256, so that
a device polling the pull API costs no database read per request. What bounds the memory:

* a revoke or a replacement in this process forgets every remembered token at once;
* ``create`` and ``revoke`` also write a new random ``tokens_revision`` setting in their
  transaction, and a remembered token is only recalled while the tokens and configuration
  revisions were confirmed unchanged within ``RECHECK`` (1 s): a revoke by another process
  (``otj endpoints revoke`` is one) or an endpoint removed by ``otj config apply`` is seen
  within that second;
* each entry lives at most ``TTL`` (2 min) without a fresh database read, the bound for
  changes no revision announces (a row edited by hand);
* only successes are remembered: an unknown, revoked or mistyped token is looked up in the
  database every time, so failures take as long as before and nothing is learnt from timing.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Select, select, update
from sqlalchemy.dialects import postgresql, sqlite

from otj.store.config_rows import REVISION_KEY
from otj.store.tables.configuration import EndpointRow, SettingRow
from otj.store.tables.console import ApiTokenRow
from otj.store.values import ApiToken, TokenKind

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from otj.store.db import Database

TOKEN_PREFIX = "otj_"  # noqa: S105 (a marker, not a password)
TOKENS_REVISION_KEY = "tokens_revision"
"""Setting rewritten with a random value by every token create and revoke."""

Stamp = tuple[str, ...]
"""The tokens and configuration revisions as read together (compared for equality only)."""

_STAMP: Select[tuple[str, Any]] = select(SettingRow.key, SettingRow.value).where(
    SettingRow.key.in_((TOKENS_REVISION_KEY, REVISION_KEY))
)


class TokenError(ValueError):
    """A token cannot be created (duplicate name, unknown endpoint)."""


def hash_token(token: str) -> str:
    """SHA-256 hex of a token."""
    return hashlib.sha256(token.encode()).hexdigest()


def _token(row: ApiTokenRow) -> ApiToken:
    return ApiToken(
        id=row.id,
        kind=cast(Any, row.kind),
        name=row.name,
        endpoint=row.endpoint,
        prefix=row.prefix,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )


@dataclass(frozen=True, slots=True)
class _Remembered:
    record: ApiToken
    at: datetime


class VerifiedTokens:
    """Tokens the database confirmed a moment ago, by SHA-256 (no I/O; times are passed in).

    An entry is recalled while it is younger than ``ttl`` and the revision stamp was
    confirmed within ``recheck``. ``settle`` applies a database read (the stamp is read before
    the token, in the same transaction): a new stamp forgets everything; a live record is
    remembered only when nothing was forgotten since the read began (``generation``), so a
    revoke racing a verification cannot be undone by it. Times that run backwards count as
    expired.
    """

    def __init__(self, *, ttl: timedelta, recheck: timedelta, size: int = 10_000) -> None:
        self.ttl = ttl
        self.recheck = recheck
        self.size = size
        self._lock = threading.Lock()
        self._entries: dict[str, _Remembered] = {}
        self._generation = 0
        self._stamp: Stamp | None = None
        self._confirmed: datetime | None = None

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def generation(self) -> int:
        """Taken before a database read and handed to ``settle``."""
        return self._generation

    def recall(self, digest: str, *, now: datetime) -> ApiToken | None:
        """The remembered record, or None when the database must be asked."""
        if self.due(now):
            return None
        entry = self._entries.get(digest)
        if entry is None or not entry.at <= now < entry.at + self.ttl:
            return None
        return entry.record

    def due(self, now: datetime) -> bool:
        """Whether the revision stamp must be read again before anything is recalled."""
        confirmed = self._confirmed
        return confirmed is None or not confirmed <= now < confirmed + self.recheck

    def confirm(self, stamp: Stamp, *, now: datetime) -> None:
        """Apply the revision stamp read at ``now`` (forgetting everything when it changed)."""
        with self._lock:
            self._confirm(stamp, now)

    def settle(
        self, digest: str, record: ApiToken | None, *, stamp: Stamp, now: datetime, generation: int
    ) -> None:
        """Apply a database read made at ``now``: its stamp, and the record if it was live."""
        with self._lock:
            unforgotten = generation == self._generation
            self._confirm(stamp, now)
            if record is None or not unforgotten:
                return
            if digest not in self._entries and len(self._entries) >= self.size:
                del self._entries[next(iter(self._entries))]  # the oldest
            self._entries[digest] = _Remembered(record=record, at=now)

    def forget(self) -> None:
        """Forget every token (after a revoke or a replacement)."""
        with self._lock:
            self._forget()

    def _confirm(self, stamp: Stamp, now: datetime) -> None:
        if stamp != self._stamp:
            self._forget()
            self._stamp = stamp
        self._confirmed = now

    def _forget(self) -> None:
        self._entries = {}
        self._generation += 1


def _read_stamp(session: Session) -> Stamp:
    return tuple(sorted(f"{key}={value}" for key, value in session.execute(_STAMP)))


def _touch_revision(session: Session) -> None:
    """Give the tokens revision a new random value (an upsert, safe under concurrency)."""
    bind = session.get_bind()
    insert = postgresql.insert if bind.dialect.name == "postgresql" else sqlite.insert
    statement = insert(SettingRow).values(key=TOKENS_REVISION_KEY, value=secrets.token_hex(8))
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[SettingRow.key], set_={"value": statement.excluded.value}
        )
    )


class TokenRepository:
    """Create, verify, list and revoke tokens."""

    TTL = timedelta(minutes=2)
    RECHECK = timedelta(seconds=1)

    def __init__(self, db: Database) -> None:
        self._db = db
        self.verified = VerifiedTokens(ttl=self.TTL, recheck=self.RECHECK)
        self._confirming = threading.Lock()

    def create(
        self, kind: TokenKind, name: str, *, now: datetime, endpoint: str | None = None
    ) -> tuple[str, ApiToken]:
        """A new token and its record; the token is returned once and never stored."""
        if kind == "endpoint" and not endpoint:
            raise TokenError("an endpoint token needs the endpoint's name")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self._db.transaction() as session:
            if endpoint is not None and session.get(EndpointRow, endpoint) is None:
                raise TokenError(f"no endpoint named {endpoint!r}")
            clash = session.scalars(
                select(ApiTokenRow).where(
                    ApiTokenRow.kind == kind,
                    ApiTokenRow.name == name,
                )
            ).first()
            if clash is not None:
                if clash.revoked_at is None:
                    raise TokenError(f"a {kind} token named {name!r} exists; revoke it first")
                session.delete(clash)
                session.flush()
            row = ApiTokenRow(
                kind=kind,
                name=name,
                endpoint=endpoint,
                token_hash=hash_token(token),
                prefix=token[: len(TOKEN_PREFIX) + 6],
                created_at=now,
            )
            session.add(row)
            _touch_revision(session)
            session.flush()
            record = _token(row)
        self.verified.forget()
        return token, record

    def recall(
        self, token: str, *, now: datetime, kind: TokenKind | None = None
    ) -> ApiToken | None:
        """The record of a token this process verified a moment ago (no database read); None
        when it must be verified (never a verdict that the token is invalid)."""
        if not token.startswith(TOKEN_PREFIX):
            return None
        found = self.verified.recall(hash_token(token), now=now)
        if found is None or (kind is not None and found.kind != kind):
            return None
        return found

    def verify_recent(
        self, token: str, *, now: datetime, kind: TokenKind | None = None
    ) -> ApiToken | None:
        """``recall``, else (once the revisions are read again, when due) ``recall``, else
        ``verify``: when many requests find the revisions due at once, one reads them."""
        found = self.recall(token, now=now, kind=kind)
        if found is not None:
            return found
        if self.verified.due(now):
            self.confirm_revisions(now=now)
            found = self.recall(token, now=now, kind=kind)
            if found is not None:
                return found
        return self.verify(token, now=now, kind=kind)

    def confirm_revisions(self, *, now: datetime, lead: timedelta = timedelta(0)) -> None:
        """Read the tokens and configuration revisions when they are due within ``lead`` (one
        reader at a time; a changed one forgets every remembered token)."""
        if not self.verified.due(now + lead):
            return
        with self._confirming:
            if self.verified.due(now + lead):
                with self._db.reading() as session:
                    stamp = _read_stamp(session)
                self.verified.confirm(stamp, now=now)

    def verify(
        self, token: str, *, now: datetime, kind: TokenKind | None = None
    ) -> ApiToken | None:
        """The live token record matching ``token`` (and ``kind``), noting its use; else None
        (always a database read). A live token is remembered for ``recall``."""
        if not token.startswith(TOKEN_PREFIX):
            return None
        digest = hash_token(token)
        generation = self.verified.generation
        with self._db.reading() as session:
            stamp = _read_stamp(session)
            row = session.scalars(
                select(ApiTokenRow).where(ApiTokenRow.token_hash == digest)
            ).first()
            live = not (
                row is None
                or row.revoked_at is not None
                or not hmac.compare_digest(row.token_hash, digest)
            )
            found = _token(row) if live and row is not None else None
        self.verified.settle(digest, found, stamp=stamp, now=now, generation=generation)
        if found is None or (kind is not None and found.kind != kind):
            return None
        if found.last_used_at is None or (now - found.last_used_at).total_seconds() > 60:
            # coarse, so that verifying a token does not write on every request
            with self._db.transaction() as session:
                session.execute(
                    update(ApiTokenRow).where(ApiTokenRow.id == found.id).values(last_used_at=now)
                )
        return found

    def list(self, *, include_revoked: bool = False) -> list[ApiToken]:
        """Tokens by kind and name."""
        query = select(ApiTokenRow).order_by(ApiTokenRow.kind, ApiTokenRow.name)
        if not include_revoked:
            query = query.where(ApiTokenRow.revoked_at.is_(None))
        with self._db.reading() as session:
            return [_token(r) for r in session.scalars(query)]

    def revoke(self, kind: TokenKind, name: str, *, now: datetime) -> bool:
        """Revoke a token by kind and name; False when there is no live one."""
        with self._db.transaction() as session:
            row = session.scalars(
                select(ApiTokenRow).where(
                    ApiTokenRow.kind == kind,
                    ApiTokenRow.name == name,
                    ApiTokenRow.revoked_at.is_(None),
                )
            ).first()
            if row is None:
                return False
            row.revoked_at = now
            _touch_revision(session)
        self.verified.forget()
        return True
