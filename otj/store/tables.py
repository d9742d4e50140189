"""SQLAlchemy 2 tables: configuration objects (DESIGN.md §3) and the service's state.

Rows never leave ``otj.store``: repositories turn them into the frozen values of ``otj.model``.
Objects reference each other by name (the keys of the configuration file). Secret columns hold a
JSON envelope written by ``otj.store.secrets`` (a reference or a Fernet token), never plain text.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from otj.store.types import UTCDateTime

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

NAME = 200
EMAIL = 320
EVENT_ID = 1024
Json = dict[str, Any]


class Base(DeclarativeBase):
    """Declarative base with a constraint naming convention (stable Alembic migrations)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime(), date: Date()}


# --- configuration ----------------------------------------------------------------------------


class ProfileRow(Base):
    """A One-Touch Join profile."""

    __tablename__ = "profiles"

    name: Mapped[str] = mapped_column(String(NAME), primary_key=True)
    description: Mapped[str] = mapped_column(Text, default="")
    display_upcoming_meetings: Mapped[int] = mapped_column(Integer)
    start_buffer: Mapped[int] = mapped_column(Integer)
    end_buffer: Mapped[int] = mapped_column(Integer)
    replace_subject_type: Mapped[str] = mapped_column(String(16))
    replace_subject_template: Mapped[str] = mapped_column(Text)
    replace_empty_subject: Mapped[bool] = mapped_column(Boolean)
    enable_private_meetings: Mapped[bool] = mapped_column(Boolean)
    process_alias_private_meetings: Mapped[bool] = mapped_column(Boolean)
    enable_non_video_meetings: Mapped[bool] = mapped_column(Boolean)
    poll_interval: Mapped[int] = mapped_column(Integer)
    integration: Mapped[str | None] = mapped_column(
        String(NAME), ForeignKey("integrations.name", ondelete="RESTRICT"), nullable=True
    )
    # defaults of its endpoints' API settings (revision 0003)
    endpoint_api_username: Mapped[str] = mapped_column(String(255), default="", server_default="")
    endpoint_api_password: Mapped[Json | None] = mapped_column(JSON, nullable=True)
    endpoint_use_https: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    endpoint_verify_cert: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    endpoint_api_auth: Mapped[str] = mapped_column(
        String(16), default="basic", server_default="basic"
    )
    endpoint_feedback_slot: Mapped[int] = mapped_column(
        Integer, default=1, server_default=text("1")
    )
    # the rooms' IANA time zone for the room panel, blank: the server's (revision 0004)
    time_zone: Mapped[str] = mapped_column(String(64), default="", server_default="")
    # native (WebRTC) joins and Webex cloud delivery (revision 0007)
    webrtc_join: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    endpoint_webex_client_id: Mapped[str] = mapped_column(
        String(255), default="", server_default=""
    )
    endpoint_webex_client_secret: Mapped[Json | None] = mapped_column(JSON, nullable=True)
    endpoint_webex_refresh_token: Mapped[Json | None] = mapped_column(JSON, nullable=True)
    # poll interval while the room's push subscription is healthy (revision 0008)
    notification_safety_poll: Mapped[int] = mapped_column(
        Integer, default=900, server_default=text("900")
    )


class IntegrationRow(Base):
    """A calendar integration: non-secret options as JSON, secrets as sealed envelopes."""

    __tablename__ = "integrations"

    name: Mapped[str] = mapped_column(String(NAME), primary_key=True)
    type: Mapped[str] = mapped_column(String(16))
    daily_request_quota: Mapped[int | None] = mapped_column(Integer, nullable=True)
    options: Mapped[Json] = mapped_column(JSON)
    secrets: Mapped[Json] = mapped_column(JSON)


class EndpointGroupRow(Base):
    """A group of endpoints sharing one profile."""

    __tablename__ = "endpoint_groups"

    name: Mapped[str] = mapped_column(String(NAME), primary_key=True)
    profile: Mapped[str] = mapped_column(
        String(NAME), ForeignKey("profiles.name", ondelete="RESTRICT")
    )
    description: Mapped[str] = mapped_column(Text, default="")


class EndpointRow(Base):
    """A room's video endpoint."""

    __tablename__ = "endpoints"

    name: Mapped[str] = mapped_column(String(NAME), primary_key=True)
    group: Mapped[str] = mapped_column(
        String(NAME), ForeignKey("endpoint_groups.name", ondelete="RESTRICT")
    )
    room_resource_email: Mapped[str] = mapped_column(String(EMAIL), index=True)
    type: Mapped[str] = mapped_column(String(16))
    api_address: Mapped[str] = mapped_column(String(255))
    # NULL: the profile's default (revision 0003)
    api_port: Mapped[int | None] = mapped_column(Integer, nullable=True)
    use_https: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    verify_cert: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    api_username: Mapped[str] = mapped_column(String(255))
    api_password: Mapped[Json | None] = mapped_column(JSON, nullable=True)
    sip_username: Mapped[str] = mapped_column(String(255), index=True)
    sip_password: Mapped[Json | None] = mapped_column(JSON, nullable=True)
    sip_uri: Mapped[str] = mapped_column(String(320), default="", server_default="")  # 0012
    description: Mapped[str] = mapped_column(Text, default="")
    # WEBEX endpoints: the Webex device id (revision 0007)
    webex_device_id: Mapped[str] = mapped_column(String(255), default="", server_default="")


class MeetingRuleRow(Base):
    """A meeting processing rule; ``profile`` NULL means every profile."""

    __tablename__ = "meeting_rules"

    name: Mapped[str] = mapped_column(String(NAME), primary_key=True)
    profile: Mapped[str | None] = mapped_column(
        String(NAME), ForeignKey("profiles.name", ondelete="RESTRICT"), nullable=True
    )
    meeting_type: Mapped[str] = mapped_column(String(64))
    priority: Mapped[int] = mapped_column(Integer)
    enabled: Mapped[bool] = mapped_column(Boolean)
    domain: Mapped[str] = mapped_column(String(255))
    company_id: Mapped[str] = mapped_column(String(255))
    include_pin: Mapped[bool] = mapped_column(Boolean)
    match_string: Mapped[str] = mapped_column(Text)
    replace_string: Mapped[str] = mapped_column(Text)
    custom_template: Mapped[str] = mapped_column(Text)
    transform_rule: Mapped[str] = mapped_column(Text)
    default_processing_enabled: Mapped[bool] = mapped_column(Boolean)
    description: Mapped[str] = mapped_column(Text, default="")
    # false: not checked against the call routing rules (revision 0004)
    route_check: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())


class SipProxyRow(Base):
    """An outbound SIP proxy a call routing rule can target."""

    __tablename__ = "sip_proxies"

    name: Mapped[str] = mapped_column(String(NAME), primary_key=True)
    address: Mapped[str] = mapped_column(String(255))
    port: Mapped[int] = mapped_column(Integer)
    transport: Mapped[str] = mapped_column(String(8))


class SipCredentialRow(Base):
    """A SIP credential the gateway answers far ends' challenges with (revision 0011)."""

    __tablename__ = "sip_credentials"

    name: Mapped[str] = mapped_column(String(NAME), primary_key=True)
    username: Mapped[str] = mapped_column(String(255))
    password: Mapped[Json | None] = mapped_column(JSON, nullable=True)
    realm: Mapped[str] = mapped_column(String(255), default="")


class CallRoutingRuleRow(Base):
    """A gateway call routing rule; ``sip_proxy`` is ``dns`` or a proxy name."""

    __tablename__ = "call_routing_rules"

    name: Mapped[str] = mapped_column(String(NAME), primary_key=True)
    priority: Mapped[int] = mapped_column(Integer)
    enabled: Mapped[bool] = mapped_column(Boolean)
    match_incoming_calls: Mapped[bool] = mapped_column(Boolean)
    match_outgoing_calls: Mapped[bool] = mapped_column(Boolean)
    match_incoming_sip: Mapped[bool] = mapped_column(Boolean)
    match_incoming_h323: Mapped[bool] = mapped_column(Boolean)
    match_incoming_webrtc: Mapped[bool] = mapped_column(Boolean)
    match_incoming_only_if_registered: Mapped[bool] = mapped_column(Boolean)
    match_string_full: Mapped[bool] = mapped_column(Boolean)
    match_string: Mapped[str] = mapped_column(Text)
    replace_string: Mapped[str] = mapped_column(Text)
    called_device_type: Mapped[str] = mapped_column(String(16))
    outgoing_protocol: Mapped[str] = mapped_column(String(8))
    sip_proxy: Mapped[str] = mapped_column(String(NAME))
    treat_as_trusted: Mapped[bool] = mapped_column(Boolean)
    description: Mapped[str] = mapped_column(Text, default="")
    # revision 0011: source networks (CIDR list) and the sip_credentials answering challenges
    match_source: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    outbound_credentials: Mapped[str] = mapped_column(String(NAME), default="", server_default="")
    media: Mapped[str] = mapped_column(String(16), default="direct", server_default="direct")
    outbound_media_encryption: Mapped[str] = mapped_column(
        String(16), default="none", server_default="none"
    )


class VirtualReceptionRow(Base):
    """A Virtual Reception; ``aliases`` a list of patterns, ``id_rules`` [{match, replace}]."""

    __tablename__ = "virtual_receptions"

    name: Mapped[str] = mapped_column(String(NAME), primary_key=True)
    aliases: Mapped[list[str]] = mapped_column(JSON)
    language: Mapped[str] = mapped_column(String(16))
    calendar_join: Mapped[bool] = mapped_column(Boolean)
    id_rules: Mapped[list[Json]] = mapped_column(JSON)
    attempts: Mapped[int] = mapped_column(Integer)
    digit_timeout: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(Text, default="")


class GatewaySettingsRow(Base):
    """The single ``gateway:`` section (id is always 1)."""

    __tablename__ = "gateway_settings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    listen: Mapped[list[Json]] = mapped_column(JSON)
    tls_certificate: Mapped[Json | None] = mapped_column(JSON, nullable=True)
    tls_private_key: Mapped[Json | None] = mapped_column(JSON, nullable=True)
    dns_servers: Mapped[list[str]] = mapped_column(JSON)
    call_licenses: Mapped[int] = mapped_column(Integer)
    max_outbound_kbps: Mapped[int] = mapped_column(Integer)
    allowed_sources: Mapped[list[str]] = mapped_column(JSON)
    max_calls_per_source: Mapped[int] = mapped_column(
        Integer, default=20, server_default=text("20")
    )
    cdr_retention_days: Mapped[int] = mapped_column(Integer, default=90, server_default="90")
    # revision 0012: the name the meeting host sees
    caller_display_name: Mapped[str] = mapped_column(
        Text, default="{{ room_name }}", server_default="{{ room_name }}"
    )
    unattributed_display_name: Mapped[str] = mapped_column(
        Text,
        default="{{ caller_name }} (unverified)",
        server_default="{{ caller_name }} (unverified)",
    )
    organisation: Mapped[str] = mapped_column(String(255), default="", server_default="")
    rtpengines: Mapped[list[Json]] = mapped_column(JSON, default=list, server_default="[]")


class SettingRow(Base):
    """Small named settings (``api`` section, configuration revision)."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)


# --- state --------------------------------------------------------------------------------------


class RoomRow(Base):
    """A room calendar the worker polls: sync state, schedule, lease and last outcome."""

    __tablename__ = "rooms"

    room: Mapped[str] = mapped_column(String(EMAIL), primary_key=True)
    sync_state: Mapped[str | None] = mapped_column(Text, nullable=True)
    sync_fingerprint: Mapped[str] = mapped_column(String(64), default="")
    window_end: Mapped[datetime | None] = mapped_column(nullable=True)
    last_full_sync_at: Mapped[datetime | None] = mapped_column(nullable=True)
    next_poll_at: Mapped[datetime | None] = mapped_column(nullable=True, index=True)
    not_before: Mapped[datetime | None] = mapped_column(nullable=True)
    lease_owner: Mapped[str | None] = mapped_column(String(200), nullable=True)
    lease_expires_at: Mapped[datetime | None] = mapped_column(nullable=True)
    last_poll_at: Mapped[datetime | None] = mapped_column(nullable=True)
    last_success_at: Mapped[datetime | None] = mapped_column(nullable=True)
    last_error: Mapped[str] = mapped_column(Text, default="")
    last_error_kind: Mapped[str] = mapped_column(String(32), default="")
    last_error_at: Mapped[datetime | None] = mapped_column(nullable=True)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    last_requests: Mapped[int] = mapped_column(Integer, default=0)
    last_duration_ms: Mapped[int] = mapped_column(Integer, default=0)
    polls: Mapped[int] = mapped_column(Integer, default=0)
    meeting_count: Mapped[int] = mapped_column(Integer, default=0)
    meetings_hash: Mapped[str] = mapped_column(String(64), default="")
    delivery_pending: Mapped[bool] = mapped_column(Boolean, default=False)
    delivery_generation: Mapped[int] = mapped_column(Integer, default=0)


class MeetingRow(Base):
    """One processed calendar event of a room (listed or not), with its rule trace."""

    __tablename__ = "meetings"
    __table_args__ = (
        UniqueConstraint("room", "event_id", name="uq_meetings_room_event"),
        Index("ix_meetings_room_start", "room", "start"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    room: Mapped[str] = mapped_column(String(EMAIL), ForeignKey("rooms.room", ondelete="CASCADE"))
    event_id: Mapped[str] = mapped_column(String(EVENT_ID))
    ical_uid: Mapped[str] = mapped_column(String(EVENT_ID), default="")
    subject: Mapped[str] = mapped_column(Text)
    organizer_name: Mapped[str] = mapped_column(Text)
    organizer_email: Mapped[str] = mapped_column(String(EMAIL))
    start: Mapped[datetime]
    end: Mapped[datetime]
    join_from: Mapped[datetime]
    join_until: Mapped[datetime]
    alias: Mapped[str | None] = mapped_column(Text, nullable=True)
    protocol: Mapped[str] = mapped_column(String(8))
    platform: Mapped[str] = mapped_column(String(32))
    rule: Mapped[str | None] = mapped_column(String(NAME), nullable=True)
    private: Mapped[bool] = mapped_column(Boolean)
    listed: Mapped[bool] = mapped_column(Boolean)
    unlisted_reason: Mapped[str] = mapped_column(Text, default="")
    trace: Mapped[list[Json]] = mapped_column(JSON)
    content_hash: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime]
    # the native (WebRTC) join URL, blank without one (revision 0007)
    join_url: Mapped[str] = mapped_column(Text, default="", server_default="")


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


class IntegrationUsageRow(Base):
    """Requests made to one integration on one UTC day (shared by every worker process)."""

    __tablename__ = "integration_usage"

    integration: Mapped[str] = mapped_column(String(NAME), primary_key=True)
    day: Mapped[date] = mapped_column(primary_key=True)
    requests: Mapped[int] = mapped_column(Integer, default=0)


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


# --- console (revision 0011) -----------------------------------------------------------------


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


class PushLeaseRow(Base):
    """Which worker process holds a room's push subscription (lease) and its state.

    ``token_sha256`` is the SHA-256 of the subscription's secret (Graph ``clientState``, Google
    channel token): any API process can check a notification, none can forge one from the row.
    """

    __tablename__ = "push_leases"

    room: Mapped[str] = mapped_column(String(EMAIL), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), default="")
    owner: Mapped[str | None] = mapped_column(String(200), nullable=True)
    lease_expires_at: Mapped[datetime | None] = mapped_column(nullable=True)
    state: Mapped[str] = mapped_column(String(16), default="unsubscribed")
    channel_id: Mapped[str] = mapped_column(String(EVENT_ID), default="", index=True)
    resource_id: Mapped[str] = mapped_column(String(EVENT_ID), default="")
    channel_expires_at: Mapped[datetime | None] = mapped_column(nullable=True)
    token_sha256: Mapped[str] = mapped_column(String(64), default="")
    validating_until: Mapped[datetime | None] = mapped_column(nullable=True)
    reason: Mapped[str] = mapped_column(Text, default="")


class PushNotificationRow(Base):
    """An authenticated notification waiting for the worker that holds the room's lease."""

    __tablename__ = "push_notifications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    room: Mapped[str] = mapped_column(String(EMAIL), index=True)
    event: Mapped[str] = mapped_column(String(40))
    received_at: Mapped[datetime] = mapped_column(index=True)
