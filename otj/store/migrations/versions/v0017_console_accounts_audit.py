"""console: administrators, sessions, the configuration audit log, acknowledged alarms

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 06:00:00.000000

``admins`` (argon2 hashes, lock-out state), ``admin_sessions`` (by the SHA-256 of the cookie),
``audit_log`` (every configuration change with its YAML diff), and ``alarms`` gain
``acknowledged_at``/``acknowledged_by``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import otj.store.types

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | None = None
depends_on: str | None = None


def _when(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, otj.store.types.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "admins",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("failed_attempts", sa.Integer(), nullable=False),
        _when("locked_until", nullable=True),
        _when("created_at"),
        _when("last_sign_in_at", nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_admins")),
    )
    op.create_table(
        "admin_sessions",
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("admin", sa.String(length=200), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        _when("created_at"),
        _when("last_seen_at"),
        _when("expires_at"),
        sa.ForeignKeyConstraint(
            ["admin"],
            ["admins.name"],
            name=op.f("fk_admin_sessions_admin_admins"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id_hash", name=op.f("pk_admin_sessions")),
    )
    op.create_index(op.f("ix_admin_sessions_admin"), "admin_sessions", ["admin"])
    op.create_index(op.f("ix_admin_sessions_expires_at"), "admin_sessions", ["expires_at"])
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        _when("at"),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("diff", sa.Text(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index(op.f("ix_audit_log_at"), "audit_log", ["at"])
    with op.batch_alter_table("alarms", schema=None) as batch_op:
        batch_op.add_column(_when("acknowledged_at", nullable=True))
        batch_op.add_column(
            sa.Column("acknowledged_by", sa.String(length=200), nullable=False, server_default="")
        )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("alarms", schema=None) as batch_op:
        batch_op.drop_column("acknowledged_by")
        batch_op.drop_column("acknowledged_at")
    op.drop_index(op.f("ix_audit_log_at"), table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_index(op.f("ix_admin_sessions_expires_at"), table_name="admin_sessions")
    op.drop_index(op.f("ix_admin_sessions_admin"), table_name="admin_sessions")
    op.drop_table("admin_sessions")
    op.drop_table("admins")
