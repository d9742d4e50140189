"""meeting_rules: route_check (false: not checked against the call routing rules)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07 03:00:00.000000

``otj config apply`` renders each enabled meeting processing rule's alias on its type's sample
invitations and warns when no call routing rule routes it; ``route_check: false`` marks a rule
whose calls the gateway is not meant to carry. Stored rules are checked (true).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("meeting_rules", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("route_check", sa.Boolean(), nullable=False, server_default=sa.true())
        )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("meeting_rules", schema=None) as batch_op:
        batch_op.drop_column("route_check")
