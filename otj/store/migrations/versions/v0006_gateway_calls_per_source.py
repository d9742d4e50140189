"""gateway_settings: max_calls_per_source (calls in progress per source address)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 03:00:00.000000

The gateway bounds the calls in progress from one source address (default 20, 0 = unlimited)
so that INVITEs that are answered and never ACKed cannot hold every licence.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("gateway_settings", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "max_calls_per_source", sa.Integer(), nullable=False, server_default=sa.text("20")
            )
        )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("gateway_settings", schema=None) as batch_op:
        batch_op.drop_column("max_calls_per_source")
