"""The demo's room panels, paired automatically: a panel token per demo room.

``pair(db, now=…)`` gives every PULL endpoint of the demo group a fresh endpoint token named
``demo panel <endpoint>`` (the previous one is revoked, so restarts do not pile them up) and
returns ``(room, link)`` pairs: opening ``/panel/<room>?token=…`` pairs the browser (the token
moves into the panel's cookie), as an administrator does by hand with ``otj endpoints token``.
The links are shown on the demo's home page only; they give access to the demo rooms only.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING
from urllib.parse import quote

from otj.demo.codecs import DEMO_GROUP

if TYPE_CHECKING:
    from otj.store import Database

TOKEN_NAME_PREFIX = "demo panel "  # noqa: S105 (a token name, not a secret)


def pair(db: Database, *, now: datetime, group: str = DEMO_GROUP) -> list[tuple[str, str]]:
    """A fresh panel token for each PULL endpoint of ``group``; ``(room, link)`` per room."""
    links = []
    for endpoint in db.config.endpoints():
        if endpoint.group != group or endpoint.type != "PULL":
            continue
        name = TOKEN_NAME_PREFIX + endpoint.name
        db.tokens.revoke("endpoint", name, now=now)
        token, _ = db.tokens.create("endpoint", name, now=now, endpoint=endpoint.name)
        room = endpoint.room_resource_email
        links.append((room, f"/panel/{quote(room, safe='@')}?token={quote(token)}"))
    return links
