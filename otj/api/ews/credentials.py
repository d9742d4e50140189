"""Who a Poly endpoint is: HTTP Basic credentials (RFC 7617) of a ``POLY`` endpoint.

The user name is the endpoint's name, its own ``api_username``, or its room's email address
(when one Poly endpoint shows that room), with or without a ``DOMAIN\\`` prefix (the Poly
calendaring settings have a separate Domain field). The password is the endpoint's token
from ``otj endpoints token NAME`` or the endpoint's own ``api_password`` from the
configuration (never the profile's shared default: one room's credentials must not read
another). Failures are counted per endpoint (unknown user names together);
``FAILURES_FOR_ALARM`` of them within ``FAILURE_WINDOW`` raise the ``ews_auth`` alarm, cleared
by the endpoint's next success.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import threading
from collections import OrderedDict
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from otj.model import Endpoint
from otj.secret import SecretRefError

if TYPE_CHECKING:
    from otj.delivery.pull.access import RoomDirectory
    from otj.store import Database

ALARM_EWS_AUTH = "ews_auth"
FAILURES_FOR_ALARM = 5
FAILURE_WINDOW = timedelta(minutes=15)
_TRACKED = 1000


def basic_credentials(authorization: str | None) -> tuple[str, str] | None:
    """User name and password of an ``Authorization: Basic`` header (None when absent or
    malformed)."""
    if not authorization:
        return None
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        raw = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    user, colon, password = raw.partition(":")
    if not colon:
        return None
    return user, password


def poly_endpoint(view: RoomDirectory, user: str) -> Endpoint | None:
    """The ``POLY`` endpoint a Basic user name names, if any."""
    name = user.strip().rsplit("\\", 1)[-1].lower()
    if not name:
        return None
    polys = [e for e in view.endpoints.values() if e.type == "POLY"]
    for endpoint in polys:
        if name in (endpoint.name.lower(), endpoint.api_username.lower()):
            return endpoint
    by_room = [e for e in polys if e.room_resource_email.lower() == name]
    return by_room[0] if len(by_room) == 1 else None


def password_matches(db: Database, endpoint: Endpoint, password: str, *, now: datetime) -> bool:
    """Whether ``password`` is the endpoint's live token or its own configured password
    (database reads: call off the event loop)."""
    if not password:
        return False
    record = db.tokens.verify_recent(password, now=now, kind="endpoint")
    if record is not None:
        return record.endpoint == endpoint.name
    try:
        resolved = db.config.endpoint(endpoint.name)
    except SecretRefError:
        return False
    secret = resolved.api_password if resolved is not None else None
    if not secret:
        return False
    return hmac.compare_digest(secret.reveal().encode("utf-8"), password.encode("utf-8"))


class FailureCounter:
    """Recent failed logons per key (bounded; no I/O, times passed in)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._failures: OrderedDict[str, list[datetime]] = OrderedDict()

    def fail(self, key: str, *, now: datetime) -> int:
        """Count a failure; returns how many there were within ``FAILURE_WINDOW``."""
        with self._lock:
            recent = [t for t in self._failures.pop(key, []) if now - t < FAILURE_WINDOW]
            recent.append(now)
            self._failures[key] = recent[-FAILURES_FOR_ALARM * 4 :]
            while len(self._failures) > _TRACKED:
                self._failures.popitem(last=False)
            return len(recent)

    def succeed(self, key: str) -> None:
        """Forget a key's failures."""
        with self._lock:
            self._failures.pop(key, None)
