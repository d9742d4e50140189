"""Delivery state of each endpoint."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from otj.store.tables.base import NAME, Base, Json


class EndpointDeliveryRow(Base):
    """Delivery state of one endpoint (what was pushed, when, with what result)."""

    __tablename__ = "endpoint_delivery"

    endpoint: Mapped[str] = mapped_column(
        String(NAME), ForeignKey("endpoints.name", ondelete="CASCADE"), primary_key=True
    )
    last_payload_hash: Mapped[str] = mapped_column(String(128), default="")
    last_push_at: Mapped[datetime | None] = mapped_column(nullable=True)
    last_result: Mapped[str] = mapped_column(String(32), default="")
    last_error: Mapped[str] = mapped_column(Text, default="")
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    sync_required: Mapped[bool] = mapped_column(Boolean, default=False)
    verified_at: Mapped[datetime | None] = mapped_column(nullable=True)
    mismatch_detail: Mapped[str] = mapped_column(Text, default="")
    software_version: Mapped[str] = mapped_column(String(128), default="")
    updated_at: Mapped[datetime | None] = mapped_column(nullable=True)
    # HttpFeedback: the sealed secret in the URL the codec posts events to, and a digest of the
    # URL registered on the device (re-registered when the URL changes).
    feedback_secret: Mapped[Json | None] = mapped_column(JSON, nullable=True)
    feedback_registered: Mapped[str] = mapped_column(String(64), default="", server_default="")
    # when a pulling device (Poly over EWS) last read its meetings
    last_read_at: Mapped[datetime | None] = mapped_column(nullable=True)
