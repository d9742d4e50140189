"""push leases and the notification queue (several worker processes)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 06:00:00.000000

``push_leases``: one row per room that can push, naming the worker process that holds its
subscription (until ``lease_expires_at``), the subscription's id, state and token hash.
``push_notifications``: notifications an API process received for a room another process holds.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from otj.store.types import UTCDateTime

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "push_leases",
        sa.Column("room", sa.String(length=320), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=True),
        sa.Column("lease_expires_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("channel_id", sa.String(length=1024), nullable=False),
        sa.Column("resource_id", sa.String(length=1024), nullable=False),
        sa.Column("channel_expires_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("validating_until", UTCDateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("room", name=op.f("pk_push_leases")),
    )
    op.create_index(op.f("ix_push_leases_channel_id"), "push_leases", ["channel_id"])
    op.create_table(
        "push_notifications",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("room", sa.String(length=320), nullable=False),
        sa.Column("event", sa.String(length=40), nullable=False),
        sa.Column("received_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_push_notifications")),
    )
    op.create_index(op.f("ix_push_notifications_room"), "push_notifications", ["room"])
    op.create_index(
        op.f("ix_push_notifications_received_at"), "push_notifications", ["received_at"]
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("push_notifications")
    op.drop_table("push_leases")
