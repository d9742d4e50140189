"""Frozen values the repositories return and accept (ORM rows never leave ``otj.store``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

from otj.model import (
    CallRoutingRule,
    Endpoint,
    EndpointGroup,
    GatewaySettings,
    Meeting,
    MeetingRule,
    Profile,
    SipCredential,
    SipProxy,
    VirtualReception,
)
from otj.secret import Secret

INLINE_KEEP = "stored:inline"
"""What ``otj config export`` writes for an inline secret: ``apply`` keeps the stored value."""
#: The secret fields of a profile (sealed in the store, resolved for delivery).
PROFILE_SECRETS = (
    "endpoint_api_password",
    "endpoint_webex_client_secret",
    "endpoint_webex_refresh_token",
)

IntegrationType = Literal["google", "graph", "exchange", "caldav", "ics"]


@dataclass(frozen=True, kw_only=True, slots=True)
class IntegrationSettings:
    """A calendar integration as configured: options plus secrets (references or inline).

    A secret read back with ``resolve=False`` has an empty value when it is a reference; call
    ``to_mapping()`` and ``calendars.config.integration_from_mapping`` to build the source's
    ``IntegrationConfig`` with the references resolved.
    """

    name: str
    type: IntegrationType
    daily_request_quota: int | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    secrets: Mapping[str, Secret] = field(default_factory=dict)

    def to_mapping(self) -> dict[str, Any]:
        """The ``integrations:`` entry: references as written, inline secrets revealed."""
        out: dict[str, Any] = {"name": self.name, "type": self.type}
        if self.daily_request_quota is not None:
            out["daily_request_quota"] = self.daily_request_quota
        out.update(self.options)
        for key, secret in self.secrets.items():
            out[key] = secret.ref or secret.reveal()
        return out


@dataclass(frozen=True, kw_only=True, slots=True)
class ApiSettings:
    """The ``api:`` section."""

    listen: str = "127.0.0.1:8080"


SECTIONS = (
    "integrations",
    "profiles",
    "endpoint_groups",
    "endpoints",
    "meeting_processing_rules",
    "sip_proxies",
    "sip_credentials",
    "call_routing_rules",
    "virtual_receptions",
    "gateway",
    "api",
)
Section = Literal[
    "integrations",
    "profiles",
    "endpoint_groups",
    "endpoints",
    "meeting_processing_rules",
    "sip_proxies",
    "sip_credentials",
    "call_routing_rules",
    "virtual_receptions",
    "gateway",
    "api",
]


@dataclass(frozen=True, kw_only=True, slots=True)
class Configuration:
    """A whole or partial configuration; ``sections`` names the sections it carries."""

    sections: frozenset[str]
    integrations: tuple[IntegrationSettings, ...] = ()
    profiles: tuple[Profile, ...] = ()
    endpoint_groups: tuple[EndpointGroup, ...] = ()
    endpoints: tuple[Endpoint, ...] = ()
    meeting_processing_rules: tuple[MeetingRule, ...] = ()
    sip_proxies: tuple[SipProxy, ...] = ()
    sip_credentials: tuple[SipCredential, ...] = ()
    call_routing_rules: tuple[CallRoutingRule, ...] = ()
    virtual_receptions: tuple[VirtualReception, ...] = ()
    gateway: GatewaySettings | None = None
    api: ApiSettings | None = None


ChangeAction = Literal["created", "updated", "deleted"]


@dataclass(frozen=True, kw_only=True, slots=True)
class Change:
    """One object created, updated (with the names of the fields that changed) or deleted."""

    section: str
    name: str
    action: ChangeAction
    fields: tuple[str, ...] = ()

    def describe(self) -> str:
        """``updated profiles 'Head office': poll_interval, start_buffer``."""
        text = f"{self.action} {self.section} {self.name!r}"
        return f"{text}: {', '.join(self.fields)}" if self.fields else text


@dataclass(frozen=True, kw_only=True, slots=True)
class ChangeReport:
    """What an apply changed; empty when the store already matched."""

    changes: tuple[Change, ...] = ()
    revision: int = 0

    @property
    def changed(self) -> bool:
        """True when anything was written."""
        return bool(self.changes)


@dataclass(frozen=True, kw_only=True, slots=True)
class RoomAssignment:
    """How one room is polled and processed: its endpoints, profile, integration and rules."""

    room: str
    endpoints: tuple[str, ...]
    profile: Profile
    integration: IntegrationSettings | None
    rules: tuple[MeetingRule, ...]


@dataclass(frozen=True, kw_only=True, slots=True)
class RoomClaim:
    """A room leased for one poll, with the state the poll starts from."""

    room: str
    owner: str
    lease_expires_at: datetime
    sync_state: str | None
    sync_fingerprint: str
    window_end: datetime | None
    last_full_sync_at: datetime | None
    consecutive_failures: int
    meetings_hash: str


@dataclass(frozen=True, kw_only=True, slots=True)
class PollCommit:
    """Everything one successful poll writes, in one transaction.

    ``meetings`` are the processed events of this read. A ``full`` read replaces the room's
    meetings (upsert by event id, delete the ones not in it); an incremental read upserts them
    and deletes ``removed_event_ids``. Meetings that ended before ``window_start`` are pruned.
    The delivery hash covers listed meetings overlapping ``[window_start, display_end)``.
    """

    room: str
    owner: str
    now: datetime
    full: bool
    meetings: Sequence[Meeting]
    removed_event_ids: Sequence[str] = ()
    sync_state: str | None
    sync_fingerprint: str
    window_start: datetime
    window_end: datetime
    display_end: datetime
    next_poll_at: datetime
    requests: int = 0
    duration_ms: int = 0
    integration: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class CommitOutcome:
    """What a poll commit did: meetings written or deleted, and whether delivery is needed."""

    upserted: int
    deleted: int
    listed: int
    changed: bool
    delivery_generation: int


@dataclass(frozen=True, kw_only=True, slots=True)
class RoomStatus:
    """One room's line in ``otj status rooms`` (Pexip ``mjx_endpoint`` status)."""

    room: str
    endpoints: tuple[str, ...]
    profile: str
    integration: str
    last_poll_at: datetime | None
    last_success_at: datetime | None
    next_poll_at: datetime | None
    meetings: int
    last_error: str
    last_error_kind: str
    last_error_at: datetime | None
    consecutive_failures: int
    polls: int
    last_requests: int
    last_duration_ms: int
    full_sync: bool
    delivery_pending: bool
    leased_by: str | None


@dataclass(frozen=True, kw_only=True, slots=True)
class PendingRoom:
    """A room whose meeting list changed since its last delivery."""

    room: str
    generation: int
    meetings_hash: str


Severity = Literal["info", "warning", "error", "critical"]


@dataclass(frozen=True, kw_only=True, slots=True)
class Alarm:
    """An alarm on a subject (a room, an integration, an endpoint)."""

    id: int
    kind: str
    subject: str
    severity: Severity
    message: str
    raised_at: datetime
    updated_at: datetime
    cleared_at: datetime | None = None
    acknowledged_at: datetime | None = None
    acknowledged_by: str = ""

    @property
    def active(self) -> bool:
        """Not cleared yet."""
        return self.cleared_at is None


TokenKind = Literal["admin", "endpoint"]


@dataclass(frozen=True, kw_only=True, slots=True)
class ApiToken:
    """A bearer token's record (the token itself is shown once, at creation, and never stored)."""

    id: int
    kind: TokenKind
    name: str
    endpoint: str | None
    prefix: str
    created_at: datetime
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class UsageDay:
    """Requests made to one integration on one UTC day."""

    integration: str
    day: date
    requests: int
