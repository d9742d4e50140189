"""The SIP gateway's state: call detail records, TLS identity and licences in use."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from otj.store.tables.base import NAME, Base, Json


class CallRow(Base):
    """A call detail record of the gateway."""

    __tablename__ = "calls"
    __table_args__ = (Index("ix_calls_invite_at", "invite_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(String(255), index=True)
    direction: Mapped[str] = mapped_column(String(16))
    caller_uri: Mapped[str] = mapped_column(Text)
    caller_name: Mapped[str] = mapped_column(Text, default="")
    endpoint_name: Mapped[str] = mapped_column(String(NAME), default="")
    source_address: Mapped[str] = mapped_column(String(255), default="")
    transport: Mapped[str] = mapped_column(String(8), default="")
    dialled_alias: Mapped[str] = mapped_column(Text, default="")
    routed_alias: Mapped[str] = mapped_column(Text, default="")
    rule: Mapped[str] = mapped_column(String(NAME), default="")
    target: Mapped[str] = mapped_column(Text, default="")
    conference: Mapped[str] = mapped_column(String(255), default="", index=True)
    invite_at: Mapped[datetime]
    ringing_at: Mapped[datetime | None] = mapped_column(nullable=True)
    answer_at: Mapped[datetime | None] = mapped_column(nullable=True)
    end_at: Mapped[datetime | None] = mapped_column(nullable=True, index=True)
    final_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    cause: Mapped[str] = mapped_column(String(32), default="")
    detail: Mapped[str] = mapped_column(Text, default="")
    attempts: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    attribution: Mapped[str] = mapped_column(String(16), default="", server_default="")  # 0012
    room_notified_at: Mapped[datetime | None] = mapped_column(nullable=True)
    # Virtual Reception calls (revision 0011): the reception's name, the digits' outcome
    # (calendar_join | id | invalid | timeout) and how the call was transferred (refer | 3pcc)
    reception: Mapped[str] = mapped_column(String(NAME), default="", server_default="")
    digits_outcome: Mapped[str] = mapped_column(String(16), default="", server_default="")
    transfer_method: Mapped[str] = mapped_column(String(8), default="", server_default="")
    media_engine: Mapped[str] = mapped_column(String(255), default="", server_default="")
    media_room_packets: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    media_room_bytes: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    media_room_lost: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    media_far_packets: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    media_far_bytes: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    media_far_lost: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class GatewayIdentityRow(Base):
    """The gateway's TLS identity: slot ``pending`` (a request awaiting its certificate) and
    slot ``active`` (the installed certificate chain); the private key is a secret envelope."""

    __tablename__ = "gateway_identity"

    slot: Mapped[str] = mapped_column(String(16), primary_key=True)
    common_name: Mapped[str] = mapped_column(String(255))
    private_key: Mapped[Json] = mapped_column(JSON)
    request_pem: Mapped[str] = mapped_column(Text, default="")
    chain_pem: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime]


class GatewayLicenceRow(Base):
    """Licences one gateway process holds, published by its heartbeat until ``expires_at``."""

    __tablename__ = "gateway_licences"

    process: Mapped[str] = mapped_column(String(255), primary_key=True)
    in_use: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    updated_at: Mapped[datetime]
