"""Per-room poll plans built from the stored configuration, cached per configuration revision.

A plan holds the room's profile, its compiled meeting processing rules, the integration (with
its secrets resolved) and a fingerprint of all of them: when the fingerprint differs from the
one stored with the room's sync state, the next poll is a full read, so changed rules or
settings are applied to every event, not only to the ones that change later.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

import otj
from calendars.base import CalendarEvent, CalendarSource, IntegrationConfig
from otj.model import Meeting, MeetingRule, Profile
from otj.worker.quota import PollInterval, interval_in_force, quota_floor

if TYPE_CHECKING:
    from otj.store import Database
    from otj.store.values import IntegrationSettings, RoomAssignment

log = logging.getLogger(__name__)

#: Profile fields with this prefix are delivery settings (``Profile.endpoint_api_username`` …).
DELIVERY_PREFIX = "endpoint_"


class MeetingProcessor(Protocol):
    """Compiled meeting processing rules (``otj.rules.RuleSet``)."""

    def process(self, event: CalendarEvent, profile: Profile, *, now: datetime) -> Meeting:
        """The meeting an endpoint gets for one event."""
        ...


ProcessorFactory = Callable[[Sequence[MeetingRule]], MeetingProcessor]
SourceFactory = Callable[[IntegrationConfig], CalendarSource]


def rules_processor(rules: Sequence[MeetingRule]) -> MeetingProcessor:
    """``otj.rules.RuleSet.compile(rules)``."""
    from otj.rules import RuleSet

    return RuleSet.compile(rules)


def resolve_integration(
    settings: IntegrationSettings, *, environ: Mapping[str, str] | None = None
) -> IntegrationConfig:
    """Validate the stored integration and resolve its secret references now."""
    from calendars.config import integration_from_mapping

    return integration_from_mapping(settings.to_mapping(), environ=environ)


def _meeting_settings(profile: Profile) -> dict[str, Any]:
    """The profile's fields that shape meetings: not its endpoints' API defaults (delivery
    settings, one of them a secret), so changing those never forces a full calendar read."""
    return {k: v for k, v in asdict(profile).items() if not k.startswith(DELIVERY_PREFIX)}


def fingerprint(assignment: RoomAssignment) -> str:
    """SHA-256 of everything that shapes a room's meetings (not the secrets)."""
    integration = assignment.integration
    data = {
        "version": otj.__version__,
        "profile": _meeting_settings(assignment.profile),
        "rules": [asdict(r) for r in assignment.rules],
        "integration": None
        if integration is None
        else {"name": integration.name, "type": integration.type, "options": integration.options},
    }
    text = json.dumps(data, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True, kw_only=True, slots=True)
class RoomPlan:
    """How to poll one room right now; ``error`` set when the configuration cannot work."""

    room: str
    profile: Profile
    integration: str | None
    daily_quota: int
    fingerprint: str
    processor: MeetingProcessor | None = None
    source: CalendarSource | None = None
    error: str = ""
    error_subject: str = ""
    integration_rooms: int = 0
    """Rooms sharing the integration (and its daily quota) with this one."""

    @property
    def quota_floor(self) -> float:
        """The shortest interval the integration's daily quota allows for its rooms."""
        return quota_floor(self.daily_quota, self.integration_rooms)

    @property
    def in_force(self) -> PollInterval:
        """The poll interval (the profile's, never below the quota floor) and why."""
        return interval_in_force(
            poll_interval=float(self.profile.poll_interval),
            floor=self.quota_floor,
            integration=self.integration or "",
            rooms=self.integration_rooms,
            daily_quota=self.daily_quota,
        )

    @property
    def interval(self) -> float:
        """The poll interval in seconds: ``poll_interval``, or longer when the quota says so."""
        return self.in_force.seconds

    @property
    def safety_interval(self) -> float:
        """The poll interval while push notifications are healthy (``notification_safety_poll``)."""
        return float(self.profile.notification_safety_poll)


@dataclass(slots=True)
class _Built:
    revision: int
    plans: dict[str, RoomPlan] = field(default_factory=dict)
    sources: dict[str, tuple[str, CalendarSource]] = field(default_factory=dict)


class PlanBook:
    """Builds plans from the store; rebuilds when the configuration revision moves on."""

    def __init__(
        self,
        db: Database,
        *,
        source_factory: SourceFactory,
        processor_factory: ProcessorFactory = rules_processor,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self._db = db
        self._source_factory = source_factory
        self._processor_factory = processor_factory
        self._environ = environ
        self._built: _Built | None = None
        self._lock = threading.Lock()

    def refresh(self, *, force: bool = False) -> bool:
        """Rebuild when the configuration changed; True when it did."""
        revision = self._db.config.revision()
        with self._lock:
            if not force and self._built is not None and self._built.revision == revision:
                return False
            old = self._built
            self._built = self._build(revision, old)
            if old is not None:
                keep = {id(s) for _, s in self._built.sources.values()}
                for _, source in old.sources.values():
                    if id(source) not in keep:
                        _close(source)
            return True

    def plans(self) -> dict[str, RoomPlan]:
        """Every room's plan (built on first use)."""
        if self._built is None:
            self.refresh()
        assert self._built is not None
        return dict(self._built.plans)

    def get(self, room: str) -> RoomPlan | None:
        """One room's plan."""
        if self._built is None:
            self.refresh()
        assert self._built is not None
        return self._built.plans.get(room)

    def close(self) -> None:
        """Close every calendar source."""
        with self._lock:
            if self._built is not None:
                for _, source in self._built.sources.values():
                    _close(source)
                self._built = None

    def _build(self, revision: int, old: _Built | None) -> _Built:
        built = _Built(revision=revision)
        processors: dict[tuple[str, ...], MeetingProcessor | str] = {}
        configs: dict[str, IntegrationConfig | str] = {}
        for assignment in self._db.config.room_assignments():
            built.plans[assignment.room] = self._plan(assignment, built, old, processors, configs)
        rooms = Counter(plan.integration for plan in built.plans.values() if plan.integration)
        for room, plan in built.plans.items():
            if plan.integration:
                built.plans[room] = replace(plan, integration_rooms=rooms[plan.integration])
        return built

    def _plan(
        self,
        assignment: RoomAssignment,
        built: _Built,
        old: _Built | None,
        processors: dict[tuple[str, ...], MeetingProcessor | str],
        configs: dict[str, IntegrationConfig | str],
    ) -> RoomPlan:
        base: dict[str, Any] = {
            "room": assignment.room,
            "profile": assignment.profile,
            "integration": assignment.integration.name if assignment.integration else None,
            "daily_quota": 1_000_000,
            "fingerprint": fingerprint(assignment),
        }
        settings = assignment.integration
        if settings is None:
            return RoomPlan(
                **base,
                error=f"profile {assignment.profile.name!r} names no calendar integration",
                error_subject=assignment.profile.name,
            )
        config = configs.get(settings.name)
        if config is None:
            try:
                config = resolve_integration(settings, environ=self._environ)
            except ValueError as exc:  # IntegrationConfigError: unresolvable secret, bad key
                config = str(exc)
            configs[settings.name] = config
        if isinstance(config, str):
            return RoomPlan(**base, error=config, error_subject=settings.name)
        base["daily_quota"] = config.daily_request_quota
        source = self._source(settings.name, config, built, old)
        if isinstance(source, str):
            return RoomPlan(**base, error=source, error_subject=settings.name)
        key = tuple(json.dumps(asdict(r), sort_keys=True) for r in assignment.rules)
        processor = processors.get(key)
        if processor is None:
            try:
                processor = self._processor_factory(assignment.rules)
            except Exception as exc:
                log.exception("%s: meeting processing rules do not compile", assignment.room)
                processor = f"meeting processing rules do not compile: {exc}"
            processors[key] = processor
        if isinstance(processor, str):
            return RoomPlan(**base, error=processor, error_subject=assignment.profile.name)
        return RoomPlan(**base, processor=processor, source=source)

    def _source(
        self, name: str, config: IntegrationConfig, built: _Built, old: _Built | None
    ) -> CalendarSource | str:
        digest = hashlib.sha256(
            json.dumps(
                {
                    "type": config.type,
                    "options": dict(config.options),
                    "secrets": {k: v.reveal() for k, v in config.secrets.items()},
                },
                sort_keys=True,
                default=str,
            ).encode()
        ).hexdigest()
        if name in built.sources:
            return built.sources[name][1]
        if old is not None and name in old.sources and old.sources[name][0] == digest:
            built.sources[name] = old.sources[name]
            return old.sources[name][1]
        try:
            source = self._source_factory(config)
        except Exception as exc:  # noqa: BLE001 (bad credentials, unknown type: this integration only)
            log.warning("integration %s: cannot create the calendar source: %s", name, exc)
            return f"integration {name!r}: {exc}"
        built.sources[name] = (digest, source)
        return source


def _close(source: CalendarSource) -> None:
    try:
        source.close()
    except Exception:
        log.warning("closing a calendar source failed", exc_info=True)
