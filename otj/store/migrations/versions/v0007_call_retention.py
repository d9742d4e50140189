"""calls: attempts (summaries of rejected calls); gateway: CDR retention in days

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 03:30:00.000000

A call record with ``attempts`` above one stands for that many calls the gateway refused from
one source, for one cause, in one minute. ``cdr_retention_days`` (default 90) is how long call
records are kept. Existing records are single calls, and existing settings get the default.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("attempts", sa.Integer(), nullable=False, server_default=sa.text("1"))
        )
    with op.batch_alter_table("gateway_settings", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "cdr_retention_days", sa.Integer(), nullable=False, server_default=sa.text("90")
            )
        )


def downgrade() -> None:
    """Revert this revision (summaries become single records)."""
    with op.batch_alter_table("gateway_settings", schema=None) as batch_op:
        batch_op.drop_column("cdr_retention_days")
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.drop_column("attempts")
