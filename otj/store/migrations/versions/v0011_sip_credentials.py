"""sip_credentials; call_routing_rules.match_source and outbound_credentials

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 06:10:00.000000

Trusted and untrusted calls (the product documentation's access-token model): a call routing
rule may require the call to come from given networks (``match_source``), and may answer the
far end's digest challenge with a stored SIP credential (``outbound_credentials``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "sip_credentials",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("username", sa.String(length=255), nullable=False),
        sa.Column("password", sa.JSON(), nullable=True),
        sa.Column("realm", sa.String(length=255), nullable=False, server_default=""),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_sip_credentials")),
    )
    with op.batch_alter_table("call_routing_rules", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("match_source", sa.JSON(), nullable=False, server_default="[]")
        )
        batch_op.add_column(
            sa.Column(
                "outbound_credentials", sa.String(length=200), nullable=False, server_default=""
            )
        )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("call_routing_rules", schema=None) as batch_op:
        batch_op.drop_column("outbound_credentials")
        batch_op.drop_column("match_source")
    op.drop_table("sip_credentials")
