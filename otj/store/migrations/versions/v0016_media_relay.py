"""media relay: routing rules' media and outbound_media_encryption, gateway rtpengines, and the
media figures of call detail records

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 06:00:00.000000

A call routing rule gains ``media`` (direct | relay, default direct: today's behaviour) and
``outbound_media_encryption`` (none | best_effort | required, default none); the gateway gains
``rtpengines`` (a list of {address, weight}, default empty); a call record gains the rtpengine
it used and the packets, bytes and lost packets received from the room and from the far end.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | None = None
depends_on: str | None = None

_COUNTERS = (
    ("media_room_packets", sa.Integer()),
    ("media_room_bytes", sa.BigInteger()),
    ("media_room_lost", sa.Integer()),
    ("media_far_packets", sa.Integer()),
    ("media_far_bytes", sa.BigInteger()),
    ("media_far_lost", sa.Integer()),
)


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("call_routing_rules", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("media", sa.String(16), nullable=False, server_default="direct")
        )
        batch_op.add_column(
            sa.Column(
                "outbound_media_encryption", sa.String(16), nullable=False, server_default="none"
            )
        )
    with op.batch_alter_table("gateway_settings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("rtpengines", sa.JSON(), nullable=False, server_default="[]"))
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("media_engine", sa.String(255), nullable=False, server_default="")
        )
        for name, kind in _COUNTERS:
            batch_op.add_column(sa.Column(name, kind, nullable=False, server_default="0"))


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("calls", schema=None) as batch_op:
        for name, _ in reversed(_COUNTERS):
            batch_op.drop_column(name)
        batch_op.drop_column("media_engine")
    with op.batch_alter_table("gateway_settings", schema=None) as batch_op:
        batch_op.drop_column("rtpengines")
    with op.batch_alter_table("call_routing_rules", schema=None) as batch_op:
        batch_op.drop_column("outbound_media_encryption")
        batch_op.drop_column("media")
