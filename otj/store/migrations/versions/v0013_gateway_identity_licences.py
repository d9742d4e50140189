"""gateway: the identity certificate and the licences each gateway process holds

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 06:00:00.000000

``gateway_identity`` keeps the gateway's TLS key (encrypted) with its pending certificate request
and its installed certificate chain; ``gateway_licences`` has one heartbeat row per running
gateway process (licences in use, expiry), so licences are counted across the cluster.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import otj.store.types

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "gateway_identity",
        sa.Column("slot", sa.String(length=16), nullable=False),
        sa.Column("common_name", sa.String(length=255), nullable=False),
        sa.Column("private_key", sa.JSON(), nullable=False),
        sa.Column("request_pem", sa.Text(), nullable=False),
        sa.Column("chain_pem", sa.Text(), nullable=False),
        sa.Column("updated_at", otj.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("slot", name=op.f("pk_gateway_identity")),
    )
    op.create_table(
        "gateway_licences",
        sa.Column("process", sa.String(length=255), nullable=False),
        sa.Column("in_use", sa.Integer(), nullable=False),
        sa.Column("expires_at", otj.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", otj.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("process", name=op.f("pk_gateway_licences")),
    )
    with op.batch_alter_table("gateway_licences", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_gateway_licences_expires_at"), ["expires_at"], unique=False
        )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("gateway_licences", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_gateway_licences_expires_at"))
    op.drop_table("gateway_licences")
    op.drop_table("gateway_identity")
