"""endpoints.sip_uri; gateway display name templates and organisation

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 06:30:00.000000

The meeting host admits guests by name: calls are attributed to a room by its registration, its
configured SIP URI or an address only it uses, and named with a template; other calls are
marked as unverified (``guestjoin.attribution``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("endpoints", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("sip_uri", sa.String(length=320), nullable=False, server_default="")
        )
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("attribution", sa.String(length=16), nullable=False, server_default="")
        )
    with op.batch_alter_table("gateway_settings", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "caller_display_name", sa.Text(), nullable=False, server_default="{{ room_name }}"
            )
        )
        batch_op.add_column(
            sa.Column(
                "unattributed_display_name",
                sa.Text(),
                nullable=False,
                server_default="{{ caller_name }} (unverified)",
            )
        )
        batch_op.add_column(
            sa.Column("organisation", sa.String(length=255), nullable=False, server_default="")
        )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("gateway_settings", schema=None) as batch_op:
        batch_op.drop_column("organisation")
        batch_op.drop_column("unattributed_display_name")
        batch_op.drop_column("caller_display_name")
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.drop_column("attribution")
    with op.batch_alter_table("endpoints", schema=None) as batch_op:
        batch_op.drop_column("sip_uri")
