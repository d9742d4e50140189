"""The worker's deliverer: push changed rooms to their Cisco codecs (the local xAPI, or the
Webex cloud xAPI for ``WEBEX`` endpoints), keep state and alarms.

:class:`DeliveryRunner` reads the store (rooms marked for delivery, endpoint states, meetings),
runs :func:`otj.delivery.engine.fleet.deliver_fleet` on an event loop of its own (so httpx keeps
its connections to the codecs between cycles, :mod:`otj.delivery.engine.clients`) and writes back
states, alarms and delivery marks. Only endpoints that may need work are looked at: rooms marked
as changed, endpoints that failed, asked for a sync, were never delivered, or are due for a
read-back.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Coroutine, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

import httpx

from otj.delivery.devices.bookings import Booking, bookings_for_room
from otj.delivery.devices.cisco import CiscoDefaults
from otj.delivery.devices.errors import EndpointError, MissingCredentials
from otj.delivery.devices.poly import PolyCheck
from otj.delivery.devices.webex_cloud import WEBEX_API, WEBEX_API_ENV, WebexCloud
from otj.delivery.engine.clients import DeviceClients, TransportFactory
from otj.delivery.engine.fleet import DeliveryJob, deliver_fleet
from otj.delivery.engine.plan import (
    DEFAULT_VERIFY_EVERY,
    DeliveryState,
    alarm_changes,
    with_sync_required,
)
from otj.delivery.engine.report import (
    Attempt,
    DeliveryReport,
    EndpointReport,
    Refused,
    summary,
)
from otj.delivery.notices.lobby import RoomNotice, cloud_alert
from otj.delivery.notices.room_notices import claim_notices, show_notice
from otj.model import DEFAULT_PROFILE, PAST_WINDOW, Endpoint, Profile

if TYPE_CHECKING:
    from otj.store import Database

log = logging.getLogger(__name__)
T = TypeVar("T")

#: Alarm kinds raised on an endpoint (subject = endpoint name).
ALARM_DELIVERY = "delivery"
ALARM_MISMATCH = "delivery-mismatch"
#: Environment variable with the API's public base URL (used when none is passed).
PUBLIC_URL_ENV = "OTJ_PUBLIC_URL"


@dataclass(kw_only=True, slots=True)
class _Selection:
    """A cycle's endpoints, sorted: work for the fleet, endpoints refused for their
    configuration, endpoints skipped, and the rooms that must stay marked for delivery."""

    jobs: list[tuple[Endpoint, DeliveryJob]] = field(default_factory=list)
    refused: list[Refused] = field(default_factory=list)
    skipped: list[EndpointReport] = field(default_factory=list)
    blocked_rooms: set[str] = field(default_factory=set)

    def skip(self, endpoint: Endpoint, room: str, reason: str, *, blocks_room: bool) -> None:
        """Leave an endpoint out of this cycle (and its room pending when ``blocks_room``)."""
        if blocks_room:
            self.blocked_rooms.add(room)
        self.skipped.append(
            EndpointReport(endpoint=endpoint.name, room=room, action="skip", reason=reason)
        )


def _pushed_to(endpoint: Endpoint) -> bool:
    """Whether the runner pushes to an endpoint (POLY and PULL endpoints read their meetings
    themselves; a CISCO endpoint without an API address has nothing to push to)."""
    return endpoint.type == "WEBEX" or (endpoint.type == "CISCO" and bool(endpoint.api_address))


class _LoopThread:
    """An event loop in a daemon thread; coroutines are submitted from any thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self.loop.run_forever, name="otj-delivery", daemon=True
        )
        self._thread.start()

    def submit(self, coroutine: Coroutine[Any, Any, T]) -> Future[T]:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        if not self._thread.is_alive():
            self.loop.close()


class DeliveryRunner:
    """Implements the worker's ``Deliverer``: ``deliver_pending(now=…) -> DeliveryReport``.

    Each codec is reached with its own API settings, blanks filled from its profile's
    ``endpoint_*`` defaults; ``defaults`` contributes the service's timeouts. An endpoint with
    no username from either fails on its own (kind ``credentials``, with an alarm) until the
    configuration gives one, and is then pushed at once.

    ``WEBEX`` endpoints go through the Webex cloud xAPI at ``webex_base_url`` (default
    ``$OTJ_WEBEX_API_URL`` or https://webexapis.com) with their profile's Webex authorisation;
    one without a device id or authorisation fails the same way. ``POLY`` and ``PULL``
    endpoints read their meetings themselves and are not handled here.
    """

    def __init__(
        self,
        db: Database,
        *,
        defaults: CiscoDefaults | None = None,
        feedback_base_url: str = "",
        concurrency: int = 50,
        deadline: float = 30.0,
        verify_every: timedelta | None = DEFAULT_VERIFY_EVERY,
        transport_factory: TransportFactory | None = None,
        webex_base_url: str = "",
        webex_transport: httpx.AsyncBaseTransport | None = None,
        webex_concurrency: int = 20,
    ) -> None:
        self.db = db
        # Where codecs post HttpFeedback events: our API as the codecs can reach it.
        self.feedback_base_url = (feedback_base_url or os.environ.get(PUBLIC_URL_ENV, "")).rstrip(
            "/"
        )
        self.concurrency = concurrency
        self.deadline = deadline
        self.verify_every = verify_every
        self.clients = DeviceClients(
            defaults=defaults or CiscoDefaults(),
            transport_factory=transport_factory,
            webex_base_url=(
                webex_base_url or os.environ.get(WEBEX_API_ENV, "") or WEBEX_API
            ).rstrip("/"),
            webex_transport=webex_transport,
            webex_concurrency=webex_concurrency,
        )
        self._config: tuple[int, list[Endpoint], Mapping[str, Profile]] | None = None
        self._loop: _LoopThread | None = None
        self._lock = threading.Lock()
        self._loop_lock = threading.Lock()
        self._poly = PolyCheck()  # POLY endpoints pull over EWS: alarm when they cannot

    @property
    def webex(self) -> WebexCloud | None:
        """The Webex cloud client (``None`` until a ``WEBEX`` endpoint needed it)."""
        return self.clients.webex

    # -- public ------------------------------------------------------------------------------

    def deliver_pending(self, *, now: datetime) -> DeliveryReport:
        """Run one delivery cycle (blocking; safe to call from a scheduler thread)."""
        with self._lock:
            return self._running_loop().submit(self._cycle(now)).result()

    def notify_rooms(self, *, now: datetime) -> int:
        """Tell rooms whose calls just ended in the lobby or were refused (blocking; runs
        beside a delivery cycle, never waits for one); returns how many were told."""
        return self._running_loop().submit(self._notify_rooms(now)).result()

    def _running_loop(self) -> _LoopThread:
        with self._loop_lock:
            if self._loop is None:
                self._loop = _LoopThread()
            return self._loop

    def close(self) -> None:
        """Close every codec connection and stop the loop."""
        with self._lock, self._loop_lock:
            if self._loop is None:
                return
            self._loop.submit(self.clients.aclose()).result(timeout=30)
            self._loop.stop()
            self._loop = None

    def feedback_url(self, endpoint: str, *, now: datetime) -> str:
        """The HttpFeedback URL for an endpoint ("" when no public base URL is configured)."""
        if not self.feedback_base_url:
            return ""
        secret = self.db.delivery.feedback_secret(endpoint, now=now)
        return (
            f"{self.feedback_base_url}/api/v1/endpoints/{quote(endpoint, safe='')}"
            f"/feedback/{secret}"
        )

    async def _notify_rooms(self, now: datetime) -> int:
        endpoints, profiles = await asyncio.to_thread(self._configuration)
        claimed = await asyncio.to_thread(claim_notices, self.db, endpoints, now=now)

        async def tell(endpoint: Endpoint, notice: RoomNotice) -> bool:
            profile = profiles.get(endpoint.name, DEFAULT_PROFILE)
            try:
                if endpoint.type == "WEBEX":
                    name, arguments = cloud_alert(notice)
                    cloud, _ = self.clients.webex_device(endpoint, profile)
                    await asyncio.wait_for(cloud.command(name, arguments=arguments), self.deadline)
                else:
                    client, _ = self.clients.cisco(endpoint, profile)
                    await asyncio.wait_for(show_notice(client, notice), self.deadline)
            except (EndpointError, TimeoutError) as exc:
                log.warning(
                    "%s: cannot show why call %d ended: %s",
                    endpoint.name,
                    notice.call,
                    exc or f"no answer within {self.deadline:g} s",
                )
                return False
            log.info("%s: told the room its call ended (%s)", endpoint.name, notice.cause)
            return True

        told = await asyncio.gather(*(tell(e, n) for e, n in claimed))
        return sum(told)

    # -- one cycle ---------------------------------------------------------------------------

    def _configuration(self) -> tuple[list[Endpoint], Mapping[str, Profile]]:
        """Endpoints and each endpoint's profile (secrets resolved: the profile holds the
        endpoints' default credentials), re-read only when the configuration revision changed.
        The endpoints of one room share a profile (``otj config apply`` checks it)."""
        revision = self.db.config.revision()
        if self._config is None or self._config[0] != revision:
            endpoints = self.db.config.endpoints()
            profiles = self.db.config.endpoint_profiles(secrets="resolve")
            self._config = (revision, endpoints, profiles)
        return self._config[1], self._config[2]

    def _due(self, state: DeliveryState, *, room_pending: bool, now: datetime) -> bool:
        if state.retry_at is not None and now < state.retry_at:
            return False
        if room_pending or state.pushed_digest is None or state.failures or state.sync_required:
            return True
        if self.verify_every is None:
            return False
        return state.contacted_at is None or now - state.contacted_at >= self.verify_every

    async def _cycle(self, now: datetime) -> DeliveryReport:
        """Select the endpoints that need work, deliver to them all at once, record states
        and alarms, and clear the delivery mark of every room whose endpoints all succeeded."""
        db = self.db
        await asyncio.to_thread(self._poly.run, db, now=now)
        pending = {p.room: p.generation for p in await asyncio.to_thread(db.rooms.pending_delivery)}
        selection = await self._select(pending, now=now)
        for item in selection.refused:
            if item.state.error_kind != item.error.kind:
                log.error("%s: %s", item.endpoint.name, item.error)
        outcomes = await deliver_fleet(
            [job for _, job in selection.jobs],
            now=now,
            concurrency=self.concurrency,
            deadline=self.deadline,
            verify_every=self.verify_every,
        )
        attempts = [
            Attempt(endpoint=endpoint, before=job.state, bookings=len(job.bookings), outcome=o)
            for (endpoint, job), o in zip(selection.jobs, outcomes, strict=True)
        ] + [r.attempt() for r in selection.refused]
        reports = await asyncio.to_thread(self._record, attempts, now)
        failed_rooms = {
            a.endpoint.room_resource_email.lower()
            for a in attempts
            if a.outcome.error or (a.outcome.decision.action == "skip" and a.outcome.state.failures)
        } | selection.blocked_rooms
        delivered = await asyncio.to_thread(
            db.rooms.mark_delivered_many,
            {room: generation for room, generation in pending.items() if room not in failed_rooms},
        )
        report = summary(outcomes, attempts, selection.skipped, reports, delivered)
        if selection.jobs:
            log.info(
                "delivery: %d considered, %d pushed, %d verified, %d failed",
                report.considered,
                report.pushed,
                report.verified,
                report.failed,
            )
        return report

    async def _select(self, pending: Mapping[str, int], *, now: datetime) -> _Selection:
        """Sort this cycle's push endpoints: a room whose calendar was never read keeps its
        endpoints waiting (an empty list would wipe the device), an endpoint without
        credentials is refused, one not due is skipped, the others get their room's list."""
        db = self.db
        endpoints, profiles = await asyncio.to_thread(self._configuration)
        stored = {s.endpoint: s for s in await asyncio.to_thread(db.delivery.all)}
        read_rooms = await asyncio.to_thread(db.rooms.read_at_least_once)
        selection = _Selection()
        lists: dict[str, tuple[Booking, ...]] = {}
        for endpoint in filter(_pushed_to, endpoints):
            room = endpoint.room_resource_email.lower()
            if room not in read_rooms:
                selection.skip(endpoint, room, "calendar not read yet", blocks_room=True)
                continue
            state = stored.get(endpoint.name) or DeliveryState(endpoint=endpoint.name)
            profile = profiles.get(endpoint.name, DEFAULT_PROFILE)
            try:
                client, moved = self.clients.for_endpoint(endpoint, profile)
            except MissingCredentials as exc:
                selection.refused.append(
                    Refused(endpoint=endpoint, state=state, error=exc, now=now)
                )
                continue
            if moved or state.error_kind == MissingCredentials.kind:
                # settings changed (or credentials arrived): push now, whatever the back-off
                log.info("%s: connection settings changed, pushing again", endpoint.name)
                state = with_sync_required(state)
            if not self._due(state, room_pending=room in pending, now=now):
                selection.skip(endpoint, room, "not due", blocks_room=bool(state.failures))
                continue
            if room not in lists:
                lists[room] = await self._room_bookings(room, profile, now=now)
            feedback = (
                await asyncio.to_thread(self.feedback_url, endpoint.name, now=now)
                if endpoint.type == "CISCO"
                else ""
            )
            job = DeliveryJob(
                client=client, state=state, bookings=lists[room], feedback_url=feedback
            )
            selection.jobs.append((endpoint, job))
        return selection

    async def _room_bookings(
        self, room: str, profile: Profile, *, now: datetime
    ) -> tuple[Booking, ...]:
        """The room's booking list: its listed meetings from ``PAST_WINDOW`` ago to the end of
        the profile's ``display_upcoming_meetings`` days."""
        meetings = await asyncio.to_thread(
            self.db.meetings.list,
            room,
            start=now - PAST_WINDOW,
            end=now + timedelta(days=max(1, profile.display_upcoming_meetings)),
            listed_only=True,
            with_trace=False,
        )
        return bookings_for_room(meetings, profile=profile)

    def _record(self, attempts: Sequence[Attempt], now: datetime) -> list[EndpointReport]:
        """Write the new states in one transaction, then raise or clear alarms."""
        self.db.delivery.save_many(
            {a.endpoint.name: (a.before, a.outcome.state) for a in attempts}, now=now
        )
        for attempt in attempts:
            name = attempt.endpoint.name
            for change in alarm_changes(attempt.before, attempt.outcome.state):
                kind = ALARM_DELIVERY if change.key == "delivery" else ALARM_MISMATCH
                if change.raise_alarm:
                    self.db.alarms.raise_alarm(
                        kind, name, change.message, now=now, severity=change.severity
                    )
                else:
                    self.db.alarms.clear(kind, name, now=now)
        return [attempt.report() for attempt in attempts]
