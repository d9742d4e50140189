"""Administration: API tokens, alarms, console administrators and sessions, the audit log."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from otj.store.tables.base import EMAIL, NAME, Base


class ApiTokenRow(Base):
    """A bearer token (admin, or one endpoint's pull-API credential), stored as a SHA-256."""

    __tablename__ = "api_tokens"
    __table_args__ = (UniqueConstraint("kind", "name", name="uq_api_tokens_kind_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(NAME))
    endpoint: Mapped[str | None] = mapped_column(
        String(NAME), ForeignKey("endpoints.name", ondelete="CASCADE"), nullable=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None] = mapped_column(nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(nullable=True)


class AlarmRow(Base):
    """An alarm on a subject (room, integration, endpoint); active until ``cleared_at``."""

    __tablename__ = "alarms"
    __table_args__ = (Index("ix_alarms_kind_subject", "kind", "subject"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(EMAIL))
    severity: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text)
    raised_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    cleared_at: Mapped[datetime | None] = mapped_column(nullable=True, index=True)
    # acknowledged in the console (revision 0011): who and when; blank/None until then
    acknowledged_at: Mapped[datetime | None] = mapped_column(nullable=True)
    acknowledged_by: Mapped[str] = mapped_column(String(NAME), default="", server_default="")


class AdminRow(Base):
    """A console administrator: role, argon2 password hash and lock-out state."""

    __tablename__ = "admins"

    name: Mapped[str] = mapped_column(String(NAME), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(Text)
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(nullable=True)
    created_at: Mapped[datetime]
    last_sign_in_at: Mapped[datetime | None] = mapped_column(nullable=True)


class AdminSessionRow(Base):
    """A console session, by the SHA-256 of its cookie value, with its CSRF token."""

    __tablename__ = "admin_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    admin: Mapped[str] = mapped_column(
        String(NAME), ForeignKey("admins.name", ondelete="CASCADE"), index=True
    )
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)


class AuditRow(Base):
    """One configuration change: who, when, through what, what changed and the YAML diff."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(NAME))
    source: Mapped[str] = mapped_column(String(16))
    summary: Mapped[str] = mapped_column(Text)
    diff: Mapped[str] = mapped_column(Text)
    revision: Mapped[int] = mapped_column(Integer)
