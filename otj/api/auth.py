"""Admin authentication: ``Authorization: Bearer <token>`` (RFC 6750) with an admin token.

Tokens are made with ``otj tokens create --admin NAME`` (shown once, stored as a SHA-256) and
revoked with ``otj tokens revoke --admin NAME``. A missing or wrong token gets 401 with
``WWW-Authenticate: Bearer``; nothing in the answer tells which part was wrong.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from otj.store.values import ApiToken

if TYPE_CHECKING:
    from otj.store import Database

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="AdminToken",
    description="An admin token from `otj tokens create --admin NAME`",
)


def admin_from_header(db: Database, authorization: str | None, *, now: datetime) -> ApiToken | None:
    """The admin token record an ``Authorization: Bearer`` header value names, else None."""
    scheme, _, value = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return db.tokens.verify(value.strip(), now=now, kind="admin")


def admin_auth(db: Database, clock: Callable[[], datetime]) -> Callable[..., ApiToken]:
    """A FastAPI dependency that returns the caller's admin token record or answers 401."""

    def require_admin(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> ApiToken:
        token = None
        if credentials is not None and credentials.scheme.lower() == "bearer":
            token = db.tokens.verify(credentials.credentials, now=clock(), kind="admin")
        if token is None:
            raise HTTPException(
                status_code=401,
                detail="an admin bearer token is required",
                headers={"WWW-Authenticate": 'Bearer realm="otj admin"'},
            )
        return token

    return require_admin
