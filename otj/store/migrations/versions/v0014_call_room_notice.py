"""calls: when the calling room was told why its call ended

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 06:00:00.000000

``room_notified_at``: set when the delivery side has told the room (its Cisco codec's screen)
that a call ended in the lobby (not admitted) or was refused by the host (480 "Call
rejected"); empty otherwise. Setting it is how one of several workers claims the notice.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import otj.store.types

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("room_notified_at", otj.store.types.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.drop_column("room_notified_at")
