"""endpoints, profiles, meetings: Webex cloud delivery and RoomOS native (WebRTC) joins

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 04:00:00.000000

An endpoint gains ``webex_device_id`` (``WEBEX`` endpoints, delivered through the Webex cloud
xAPI); a profile gains ``webrtc_join`` and the Webex authorisation of its endpoints
(``endpoint_webex_client_id``, and the sealed ``endpoint_webex_client_secret`` and
``endpoint_webex_refresh_token``); a meeting gains ``join_url`` (its Meet/Teams URL for a
native join). Every stored row gets blanks: nothing changes until a configuration sets them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("endpoints", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("webex_device_id", sa.String(length=255), nullable=False, server_default="")
        )
    with op.batch_alter_table("profiles", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("webrtc_join", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(
            sa.Column(
                "endpoint_webex_client_id",
                sa.String(length=255),
                nullable=False,
                server_default="",
            )
        )
        batch_op.add_column(sa.Column("endpoint_webex_client_secret", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("endpoint_webex_refresh_token", sa.JSON(), nullable=True))
    with op.batch_alter_table("meetings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("join_url", sa.Text(), nullable=False, server_default=""))


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("meetings", schema=None) as batch_op:
        batch_op.drop_column("join_url")
    with op.batch_alter_table("profiles", schema=None) as batch_op:
        batch_op.drop_column("endpoint_webex_refresh_token")
        batch_op.drop_column("endpoint_webex_client_secret")
        batch_op.drop_column("endpoint_webex_client_id")
        batch_op.drop_column("webrtc_join")
    with op.batch_alter_table("endpoints", schema=None) as batch_op:
        batch_op.drop_column("webex_device_id")
