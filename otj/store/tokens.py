"""Bearer tokens: admin tokens for the HTTP API and per-endpoint pull-API credentials.

A token is 32 random bytes (``otj_`` + url-safe base64); only its SHA-256 is stored (a
high-entropy token needs no slow hash), together with its first characters to recognise it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import select, update

from otj.store.tables import ApiTokenRow, EndpointRow
from otj.store.values import ApiToken, TokenKind

if TYPE_CHECKING:
    from otj.store.db import Database

TOKEN_PREFIX = "otj_"  # noqa: S105 (a marker, not a password)


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


class TokenRepository:
    """Create, verify, list and revoke tokens."""

    def __init__(self, db: Database) -> None:
        self._db = db

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
            session.flush()
            return token, _token(row)

    def verify(
        self, token: str, *, now: datetime, kind: TokenKind | None = None
    ) -> ApiToken | None:
        """The live token record matching ``token`` (and ``kind``), noting its use; else None."""
        if not token.startswith(TOKEN_PREFIX):
            return None
        digest = hash_token(token)
        with self._db.reading() as session:
            row = session.scalars(
                select(ApiTokenRow).where(ApiTokenRow.token_hash == digest)
            ).first()
            if (
                row is None
                or row.revoked_at is not None
                or not hmac.compare_digest(row.token_hash, digest)
                or (kind is not None and row.kind != kind)
            ):
                return None
            found = _token(row)
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
            return True
