"""profiles: the poll interval while push notifications are healthy

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 03:00:00.000000

A profile gains ``notification_safety_poll``: seconds between polls of a room whose push
subscription is healthy; every stored profile gets the default, 900 (15 minutes).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("profiles", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "notification_safety_poll", sa.Integer(), nullable=False, server_default="900"
            )
        )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("profiles", schema=None) as batch_op:
        batch_op.drop_column("notification_safety_poll")
