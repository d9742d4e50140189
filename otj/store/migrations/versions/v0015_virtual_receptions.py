"""Virtual Receptions and their call detail fields

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 06:00:00.000000

A ``virtual_receptions`` table (the ``virtual_receptions:`` configuration section), and three
columns on ``calls``: the reception that answered the call, the digits' outcome and the
transfer method (blank for calls that never met a reception).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | None = None
depends_on: str | None = None

_CALL_COLUMNS = (("reception", 200), ("digits_outcome", 16), ("transfer_method", 8))


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "virtual_receptions",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("aliases", sa.JSON(), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.Column("calendar_join", sa.Boolean(), nullable=False),
        sa.Column("id_rules", sa.JSON(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("digit_timeout", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_virtual_receptions")),
    )
    with op.batch_alter_table("calls", schema=None) as batch_op:
        for name, length in _CALL_COLUMNS:
            batch_op.add_column(
                sa.Column(name, sa.String(length=length), nullable=False, server_default="")
            )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("calls", schema=None) as batch_op:
        for name, _length in reversed(_CALL_COLUMNS):
            batch_op.drop_column(name)
    op.drop_table("virtual_receptions")
