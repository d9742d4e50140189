"""meetings: text stored before the calendar edge cleaned it is cleaned as the edge would

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 17:00:00.000000

From this revision invitation text is cleaned once, where it enters (``calendars.text``), and
the device adapters no longer clean it again when they write a booking. Rows written before it
hold text as the calendar sent it (only NULs and lone surrogates were removed), so the one-line
fields a booking carries are cleaned here the same way: characters XML 1.0 cannot carry
dropped, runs of whitespace folded to one space. The rule is written out below, not imported:
this revision must keep doing what it did when later code changes.
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | None = None
depends_on: str | None = None

_NOT_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_WHITESPACE = re.compile(r"\s+")
_FIELDS = ("subject", "organizer_name", "organizer_email", "alias", "join_url")


def _one_line(value: str | None) -> str | None:
    if value is None:
        return None
    return _WHITESPACE.sub(" ", _NOT_XML_CHAR.sub("", value)).strip()


def upgrade() -> None:
    """Apply this revision."""
    meetings = sa.table("meetings", sa.column("id"), *(sa.column(name) for name in _FIELDS))
    connection = op.get_bind()
    changed = []
    for row in connection.execute(sa.select(meetings)).mappings():
        cleaned = {name: _one_line(row[name]) for name in _FIELDS}
        if any(cleaned[name] != row[name] for name in _FIELDS):
            changed.append({"row_id": row["id"], **cleaned})
    if changed:
        connection.execute(
            meetings.update()
            .where(meetings.c.id == sa.bindparam("row_id"))
            .values({name: sa.bindparam(name) for name in _FIELDS}),
            changed,
        )


def downgrade() -> None:
    """Nothing to revert: the cleaned text is what the rows would hold when written today."""
