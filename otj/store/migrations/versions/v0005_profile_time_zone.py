"""profiles: the rooms' time zone (for the room panel)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 03:00:00.000000

A profile gains ``time_zone``, an IANA name such as ``Europe/Oslo``; blank (every stored
profile) means the server's time zone.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("profiles", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("time_zone", sa.String(length=64), nullable=False, server_default="")
        )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("profiles", schema=None) as batch_op:
        batch_op.drop_column("time_zone")
