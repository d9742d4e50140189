"""delivery: HttpFeedback secret and registered-URL digest per endpoint

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 23:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("endpoint_delivery", schema=None) as batch_op:
        batch_op.add_column(sa.Column("feedback_secret", sa.JSON(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "feedback_registered", sa.String(length=64), nullable=False, server_default=""
            )
        )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("endpoint_delivery", schema=None) as batch_op:
        batch_op.drop_column("feedback_registered")
        batch_op.drop_column("feedback_secret")
