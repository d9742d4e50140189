"""endpoint_delivery: when a device last read its meetings

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 04:00:00.000000

``last_read_at``: when a pulling device (a Poly endpoint reading its emulated Exchange
calendar) last read its meetings; empty until it does.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import otj.store.types

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("endpoint_delivery", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("last_read_at", otj.store.types.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("endpoint_delivery", schema=None) as batch_op:
        batch_op.drop_column("last_read_at")
