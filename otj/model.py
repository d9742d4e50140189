"""Frozen domain values shared by the rules, the store, the worker, delivery and the gateway.

Configuration objects follow Pexip Infinity's One-Touch Join model (DESIGN.md §3) so that
administrators recognise them. ``CalendarEvent`` lives in ``calendars.base``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal

from otj.secret import Secret


class Platform(StrEnum):
    """The meeting platform, as Cisco's ``MeetingPlatform`` booking field spells it."""

    GOOGLE_MEET = "GoogleMeet"
    MICROSOFT_TEAMS = "MicrosoftTeams"
    ZOOM = "Zoom"
    WEBEX = "Webex"
    OTHER = "Other"


class CallProtocol(StrEnum):
    """How the endpoint dials the alias."""

    SIP = "SIP"
    H323 = "H323"


class ReplaceSubject(StrEnum):
    """Profile ``replace_subject_type`` (Pexip: ALL, NEVER, PRIVATE)."""

    ALL = "ALL"
    NEVER = "NEVER"
    PRIVATE = "PRIVATE"


EndpointAuth = Literal["basic", "session"]
"""How the service logs in to an endpoint's API: HTTP Basic on every request, or a session."""

TraceOutcome = Literal["matched", "no_match", "error", "disabled"]


@dataclass(frozen=True, kw_only=True, slots=True)
class TraceStep:
    """What one rule did with one event: matched / did not match (and on what) / failed (why)."""

    rule: str
    meeting_type: str
    outcome: TraceOutcome
    detail: str = ""


@dataclass(frozen=True, kw_only=True, slots=True)
class Meeting:
    """What an endpoint gets for one calendar event, after the rules and privacy settings.

    ``listed`` false means the endpoint must not show it; ``unlisted_reason`` says why. The
    trace is kept either way so an administrator can see why a room shows no Join button.
    """

    room: str
    event_id: str
    subject: str
    organizer_name: str
    organizer_email: str
    start: datetime
    end: datetime
    join_from: datetime
    join_until: datetime
    alias: str | None
    protocol: CallProtocol
    platform: Platform
    rule: str | None
    private: bool = False
    listed: bool = True
    unlisted_reason: str = ""
    ical_uid: str = ""
    trace: tuple[TraceStep, ...] = ()
    #: The Google Meet / Teams join URL for a RoomOS native (WebRTC) join, found only for a
    #: meeting without an alias when its profile has ``webrtc_join`` (blank otherwise).
    join_url: str = ""


# --- configuration objects (Pexip OTJ model) -------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class Profile:
    """A One-Touch Join profile: window, buffers, privacy and listing settings.

    The ``endpoint_*`` fields are the defaults of its endpoints' API settings: an endpoint's
    own ``api_username``/``api_password``/``use_https``/``verify_cert`` win when set; blank
    (or absent) means the profile's. They shape delivery only, never the meetings.
    """

    name: str
    display_upcoming_meetings: int = 7
    start_buffer: int = 5
    end_buffer: int = 0
    replace_subject_type: ReplaceSubject = ReplaceSubject.PRIVATE
    replace_subject_template: str = ""
    replace_empty_subject: bool = True
    enable_private_meetings: bool = True
    process_alias_private_meetings: bool = True
    enable_non_video_meetings: bool = True
    poll_interval: int = 60
    #: Seconds between polls while the room's push subscription is healthy (safety net).
    notification_safety_poll: int = 900
    integration: str = ""
    description: str = ""
    endpoint_api_username: str = ""
    endpoint_api_password: Secret | None = field(default=None, repr=False)
    endpoint_use_https: bool = True
    endpoint_verify_cert: bool = True
    endpoint_api_auth: EndpointAuth = "basic"
    endpoint_feedback_slot: int = 1
    #: The rooms' IANA time zone (``Europe/Oslo``) for the room panel; blank: the server's.
    time_zone: str = ""
    #: A Meet or Teams meeting without a SIP alias is sent to RoomOS 11+ devices as a native
    #: (``Protocol: WebRTC``) booking with its join URL instead of one without a Join button.
    webrtc_join: bool = False
    #: Webex cloud xAPI authorisation for the profile's ``WEBEX`` endpoints: the integration's
    #: (or service app's) client id and secret and a refresh token (OAuth refresh_token grant).
    endpoint_webex_client_id: str = ""
    endpoint_webex_client_secret: Secret | None = field(default=None, repr=False)
    endpoint_webex_refresh_token: Secret | None = field(default=None, repr=False)


DEFAULT_PROFILE = Profile(name="default")

PAST_WINDOW = timedelta(hours=12)
"""How long after its end a meeting is still delivered to its room (pushed, pulled, over EWS)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class MeetingRule:
    """A meeting processing rule (DESIGN.md §4.2)."""

    name: str
    meeting_type: str
    priority: int = 100
    enabled: bool = True
    profile: str = ""
    domain: str = ""
    company_id: str = ""
    include_pin: bool = False
    match_string: str = ""
    replace_string: str = ""
    custom_template: str = ""
    transform_rule: str = ""
    default_processing_enabled: bool = True
    description: str = ""
    route_check: bool = True
    """False: ``otj config apply`` does not check this rule's aliases against the call routing
    rules (its calls are not meant to go through the gateway)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class EndpointGroup:
    """A group of endpoints sharing one profile."""

    name: str
    profile: str
    description: str = ""


EndpointType = Literal["CISCO", "POLY", "WEBEX", "PULL"]


@dataclass(frozen=True, kw_only=True, slots=True)
class Endpoint:
    """A room's video endpoint and how to reach its API.

    ``None`` (and a blank username or no password) means "the profile's ``endpoint_*``
    default"; ``api_port`` ``None`` means the scheme's port (443 for HTTPS, 80 for HTTP).
    """

    name: str
    group: str
    room_resource_email: str
    type: EndpointType = "CISCO"
    api_address: str = ""
    api_port: int | None = None
    use_https: bool | None = None
    verify_cert: bool | None = None
    api_username: str = ""
    api_password: Secret | None = None
    sip_username: str = ""
    sip_password: Secret | None = None
    #: the SIP URI the endpoint calls from (From header): attributes its calls to this room
    sip_uri: str = ""
    description: str = ""
    #: ``WEBEX`` endpoints: the device id of the Webex Devices API (cloud xAPI target).
    webex_device_id: str = ""


@dataclass(frozen=True, kw_only=True, slots=True)
class CallRoutingRule:
    """A gateway call routing rule with Pexip's fields (DESIGN.md §8)."""

    name: str
    priority: int = 100
    enabled: bool = True
    match_incoming_calls: bool = True
    match_outgoing_calls: bool = False
    match_incoming_sip: bool = True
    match_incoming_h323: bool = False
    match_incoming_webrtc: bool = False
    match_incoming_only_if_registered: bool = False
    match_string_full: bool = False
    match_string: str = ""
    replace_string: str = ""
    called_device_type: Literal["external", "registered"] = "external"
    outgoing_protocol: Literal["sip", "h323"] = "sip"
    sip_proxy: str = "dns"
    treat_as_trusted: bool = False
    description: str = ""
    # source networks (CIDR) the call must come from; empty = any source
    match_source: tuple[str, ...] = ()
    # a ``sip_credentials`` name: answer the far end's 401/407 challenges with it
    outbound_credentials: str = ""
    #: ``relay``: the call's media goes through rtpengine (``gateway.rtpengines``)
    media: Literal["direct", "relay"] = "direct"
    #: SRTP towards the far end of a relayed call (the room keeps plain RTP)
    outbound_media_encryption: Literal["none", "best_effort", "required"] = "none"


@dataclass(frozen=True, kw_only=True, slots=True)
class IdRule:
    """A Virtual Reception's mapping of typed digits to an alias (full match, ``\\1`` groups)."""

    match: str
    replace: str = ""


@dataclass(frozen=True, kw_only=True, slots=True)
class VirtualReception:
    """A gateway alias answered by an IVR that joins the room's meeting or a typed meeting ID.

    ``aliases`` are full-match, case-insensitive patterns like call routing rules' match
    strings; ``id_rules`` map typed digits to the alias dialled (first full match wins).
    """

    name: str
    aliases: tuple[str, ...] = ()
    language: str = "en"
    calendar_join: bool = True
    id_rules: tuple[IdRule, ...] = ()
    attempts: int = 3
    digit_timeout: int = 5  # seconds without a digit before the input counts as given
    description: str = ""


SipTransport = Literal["udp", "tcp", "tls"]


@dataclass(frozen=True, kw_only=True, slots=True)
class SipCredential:
    """A username and password the gateway answers a far end's digest challenge with.

    ``realm`` empty: answer any realm the far end names; otherwise only that realm (RFC 3261
    §22.2: a UAC answers a challenge for a realm it holds credentials for).
    """

    name: str
    username: str
    password: Secret | None = None
    realm: str = ""


@dataclass(frozen=True, kw_only=True, slots=True)
class SipProxy:
    """A configured outbound SIP proxy a call routing rule can target instead of DNS."""

    name: str
    address: str
    port: int = 5060
    transport: SipTransport = "udp"


@dataclass(frozen=True, kw_only=True, slots=True)
class ListenAddress:
    """One gateway listening socket."""

    transport: SipTransport
    address: str
    port: int


@dataclass(frozen=True, kw_only=True, slots=True)
class RtpEngineAddress:
    """One rtpengine's ng control address (``HOST:PORT``) and its share of relayed calls."""

    address: str
    weight: int = 1


@dataclass(frozen=True, kw_only=True, slots=True)
class GatewaySettings:
    """The ``gateway:`` section."""

    listen: tuple[ListenAddress, ...] = (
        ListenAddress(transport="udp", address="0.0.0.0", port=5060),  # noqa: S104
        ListenAddress(transport="tcp", address="0.0.0.0", port=5060),  # noqa: S104
        ListenAddress(transport="tls", address="0.0.0.0", port=5061),  # noqa: S104
    )
    tls_certificate: Secret | None = None
    tls_private_key: Secret | None = None
    dns_servers: tuple[str, ...] = ()
    call_licenses: int = 100
    max_outbound_kbps: int = 2000
    allowed_sources: tuple[str, ...] = ()
    max_calls_per_source: int = 20  # calls in progress per source address (0 = unlimited)
    cdr_retention_days: int = 90  # call detail records older than this are deleted
    # the name the meeting host sees (guestjoin.attribution): sandboxed Jinja templates
    caller_display_name: str = "{{ room_name }}"
    unattributed_display_name: str = "{{ caller_name }} (unverified)"
    organisation: str = ""
    rtpengines: tuple[RtpEngineAddress, ...] = ()  # media relays of rules with media: relay
