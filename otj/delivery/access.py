"""Who may read a room's meetings: per-endpoint bearer tokens and OAuth 2 access tokens.

An endpoint authenticates with the token ``otj endpoints token NAME`` printed once (stored as a
SHA-256 by the token repository), or exchanges it with the OAuth 2 client credentials grant
(RFC 6749 §4.4: ``client_id`` = endpoint name, ``client_secret`` = that token) for a short-lived
access token. Access tokens are Fernet tokens sealed with the store's secret key, so they need
no table and die with the key.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from otj.model import Endpoint
    from otj.store import Database

ACCESS_PREFIX = "otjat_"
ACCESS_LIFETIME = timedelta(hours=1)


@dataclass(frozen=True, kw_only=True, slots=True)
class Caller:
    """An authenticated endpoint."""

    endpoint: str
    via: str  # "token" | "oauth"


def authenticate(db: Database, token: str, *, now: datetime) -> Caller | None:
    """The endpoint a bearer token belongs to (endpoint token or OAuth access token)."""
    if not token:
        return None
    if token.startswith(ACCESS_PREFIX):
        return _open_access_token(db, token, now=now)
    record = db.tokens.verify(token, now=now, kind="endpoint")
    if record is None or not record.endpoint:
        return None
    return Caller(endpoint=record.endpoint, via="token")


def issue_access_token(
    db: Database, client_id: str, client_secret: str, *, now: datetime
) -> tuple[str, int] | None:
    """Client credentials grant: an access token and its lifetime in seconds, or None."""
    record = db.tokens.verify(client_secret, now=now, kind="endpoint")
    if record is None or record.endpoint != client_id:
        return None
    expires = int((now + ACCESS_LIFETIME).timestamp())
    envelope = db.box.seal(f"{client_id}\n{expires}")
    return ACCESS_PREFIX + str(envelope["enc"]), int(ACCESS_LIFETIME.total_seconds())


def _open_access_token(db: Database, token: str, *, now: datetime) -> Caller | None:
    from otj.store import SecretKeyError

    try:
        plain = db.box.open({"enc": token[len(ACCESS_PREFIX):]}).reveal()
    except (SecretKeyError, ValueError, KeyError):
        return None
    endpoint, _, expires = plain.rpartition("\n")
    if not endpoint or not expires.isdigit() or int(expires) <= now.timestamp():
        return None
    if db.config.endpoint(endpoint) is None:
        return None
    return Caller(endpoint=endpoint, via="oauth")


def may_read_room(endpoint: Endpoint | None, room: str) -> bool:
    """An endpoint may read the room it shows (its room resource email)."""
    return endpoint is not None and endpoint.room_resource_email.lower() == room.lower()
