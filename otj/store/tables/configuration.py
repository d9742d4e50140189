"""Configuration objects (DESIGN.md §3), keyed by the names of the configuration file."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, false, text, true
from sqlalchemy.orm import Mapped, mapped_column

from otj.store.tables.base import EMAIL, NAME, Base, Json


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
