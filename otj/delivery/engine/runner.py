"""The worker's deliverer: push changed rooms to their Cisco codecs (the local xAPI, or the
Webex cloud xAPI for ``WEBEX`` endpoints), keep state and alarms.

:class:`DeliveryRunner` reads the store (rooms marked for delivery, endpoint states, meetings),
runs :func:`otj.delivery.engine.fleet.deliver_fleet` on an event loop of its own (so httpx keeps its
connections to the codecs between cycles) and writes back states, alarms and delivery marks.
Only endpoints that may need work are looked at: rooms marked as changed, endpoints that failed,
asked for a sync, were never delivered, or are due for a read-back.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Callable, Coroutine, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

import httpx

from otj.delivery.devices.bookings import Booking, bookings_for_room
from otj.delivery.devices.cisco import (
    BookingsClient,
    CiscoConnection,
    CiscoDefaults,
    CiscoXapiClient,
    DeliveryOutcome,
    connection_for,
)
from otj.delivery.devices.errors import EndpointError, MissingCredentials
from otj.delivery.devices.poly import PolyCheck
from otj.delivery.devices.webex_cloud import (
    WEBEX_API,
    WEBEX_API_ENV,
    WebexCloud,
    WebexDeviceClient,
    credentials_for,
)
from otj.delivery.engine.fleet import DeliveryJob, deliver_fleet
from otj.delivery.engine.plan import (
    DEFAULT_VERIFY_EVERY,
    Decision,
    DeliveryState,
    after_failure,
    alarm_changes,
    with_sync_required,
)
from otj.delivery.notices.lobby import RoomNotice, cloud_alert
from otj.delivery.notices.room_notices import claim_notices, show_notice
from otj.model import DEFAULT_PROFILE, Endpoint, Profile

if TYPE_CHECKING:
    from otj.store import Database

log = logging.getLogger(__name__)
T = TypeVar("T")

#: Alarm kinds raised on an endpoint (subject = endpoint name).
ALARM_DELIVERY = "delivery"
ALARM_MISMATCH = "delivery-mismatch"
#: Environment variable with the API's public base URL (used when none is passed).
PUBLIC_URL_ENV = "OTJ_PUBLIC_URL"
#: Meetings that ended longer ago than this are no longer sent to a codec.
PAST_WINDOW = timedelta(hours=12)

TransportFactory = Callable[[CiscoConnection], httpx.AsyncBaseTransport | None]


# --- report -----------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class EndpointReport:
    """One endpoint's line in a delivery report."""

    endpoint: str
    room: str
    action: str
    reason: str
    bookings: int = 0
    error: str = ""
    #: Bookings sent as RoomOS native (WebRTC) joins.
    webrtc: int = 0


@dataclass(frozen=True, kw_only=True, slots=True)
class DeliveryReport:
    """What one delivery cycle did."""

    considered: int = 0
    pushed: int = 0
    verified: int = 0
    skipped: int = 0
    failed: int = 0
    rooms_delivered: tuple[str, ...] = ()
    endpoints: tuple[EndpointReport, ...] = field(default=())

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form (for logs and the admin API)."""
        return asdict(self)


# --- the runner -------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class _Done:
    """One endpoint's outcome in a cycle, with the state it started from."""

    endpoint: Endpoint
    before: DeliveryState
    bookings: int
    outcome: DeliveryOutcome


@dataclass(frozen=True, kw_only=True, slots=True)
class _Refused:
    """An endpoint the runner cannot contact as configured (no API credentials)."""

    endpoint: Endpoint
    state: DeliveryState
    error: EndpointError
    now: datetime

    def done(self) -> _Done:
        """A failure outcome, recorded like a device failure with its alarm (once: while the
        configuration stays the same, the state and the alarm stay as they are)."""
        message = str(self.error)
        state = self.state
        recorded = state.failures and (state.error_kind, state.last_error) == (
            self.error.kind,
            message,
        )
        failed = (
            state
            if recorded
            else replace(
                after_failure(state, kind=self.error.kind, message=message, now=self.now),
                retry_at=None,  # retried when the configuration changes, not on a back-off
            )
        )
        return _Done(
            endpoint=self.endpoint,
            before=self.state,
            bookings=0,
            outcome=DeliveryOutcome(
                endpoint=self.endpoint.name,
                decision=Decision(action="skip", reason="configuration"),
                state=failed,
                error=message,
                error_kind=self.error.kind,
            ),
        )


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
        self.defaults = defaults or CiscoDefaults()
        # Where codecs post HttpFeedback events: our API as the codecs can reach it.
        self.feedback_base_url = (feedback_base_url or os.environ.get(PUBLIC_URL_ENV, "")).rstrip(
            "/"
        )
        self.concurrency = concurrency
        self.deadline = deadline
        self.verify_every = verify_every
        self._transport_factory = transport_factory
        self._clients: dict[str, CiscoXapiClient] = {}
        self.webex_base_url = (
            webex_base_url or os.environ.get(WEBEX_API_ENV, "") or WEBEX_API
        ).rstrip("/")
        self._webex_transport = webex_transport
        self._webex_concurrency = webex_concurrency
        self.webex: WebexCloud | None = None
        self._webex_clients: dict[str, WebexDeviceClient] = {}
        self._closing: set[asyncio.Task[None]] = set()
        self._config: tuple[int, list[Endpoint], Mapping[str, Profile]] | None = None
        self._loop: _LoopThread | None = None
        self._lock = threading.Lock()
        self._loop_lock = threading.Lock()
        self._poly = PolyCheck()  # POLY endpoints pull over EWS: alarm when they cannot

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

    async def deliver_pending_async(self, *, now: datetime) -> DeliveryReport:
        """Run one delivery cycle from async code (on the runner's own loop)."""
        with self._lock:
            future = self._running_loop().submit(self._cycle(now))
        return await asyncio.wrap_future(future)

    def close(self) -> None:
        """Close every codec connection and stop the loop."""
        with self._lock, self._loop_lock:
            if self._loop is None:
                return
            self._loop.submit(self._close_clients()).result(timeout=30)
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
                    cloud, _ = self._webex_client(endpoint, profile)
                    await asyncio.wait_for(cloud.command(name, arguments=arguments), self.deadline)
                else:
                    client, _ = self._client(endpoint, profile)
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

    def _client(self, endpoint: Endpoint, profile: Profile) -> tuple[CiscoXapiClient, bool]:
        """The endpoint's client, and whether its connection settings changed (a different
        device may answer now: its list must be pushed again).

        Raises ``MissingCredentials`` (and drops the endpoint's client) when neither the
        endpoint nor its profile gives an API username.
        """
        client = self._clients.get(endpoint.name)
        try:
            connection = connection_for(endpoint, self.defaults.for_profile(profile))
        except MissingCredentials:
            if client is not None:
                self._close_later(self._clients.pop(endpoint.name))
            raise
        moved = client is not None and client.connection != connection
        if client is None or moved:
            if client is not None:
                self._close_later(client)
            transport = self._transport_factory(connection) if self._transport_factory else None
            client = CiscoXapiClient(connection, transport=transport)
            self._clients[endpoint.name] = client
        return client, moved

    def _webex_client(self, endpoint: Endpoint, profile: Profile) -> tuple[WebexDeviceClient, bool]:
        """A cloud device's client, and whether its device id or authorisation changed.

        Raises ``MissingCredentials`` (naming what is missing) without a device id or without
        the profile's Webex client id, secret and refresh token.
        """
        try:
            credentials = credentials_for(endpoint, profile)
        except MissingCredentials:
            self._webex_clients.pop(endpoint.name, None)
            raise
        if self.webex is None:
            self.webex = WebexCloud(
                self.webex_base_url,
                transport=self._webex_transport,
                concurrency=self._webex_concurrency,
            )
        client = self._webex_clients.get(endpoint.name)
        moved = client is not None and (
            client.connection.device_id != endpoint.webex_device_id
            or client.connection.credentials != credentials
        )
        if client is None or moved:
            client = self.webex.device(
                endpoint.name,
                endpoint.webex_device_id,
                credentials,
                room=endpoint.room_resource_email,
            )
            self._webex_clients[endpoint.name] = client
        return client, moved

    def _device_client(self, endpoint: Endpoint, profile: Profile) -> tuple[BookingsClient, bool]:
        if endpoint.type == "WEBEX":
            return self._webex_client(endpoint, profile)
        return self._client(endpoint, profile)

    def _close_later(self, client: CiscoXapiClient) -> None:
        task = asyncio.get_running_loop().create_task(client.aclose())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def _close_clients(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        await asyncio.gather(*(c.aclose() for c in clients), return_exceptions=True)
        self._webex_clients = {}
        if self.webex is not None:
            await self.webex.aclose()
            self.webex = None

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
        db = self.db
        await asyncio.to_thread(self._poly.run, db, now=now)
        pending = {p.room: p.generation for p in await asyncio.to_thread(db.rooms.pending_delivery)}
        endpoints, profiles = await asyncio.to_thread(self._configuration)
        stored = {s.endpoint: s for s in await asyncio.to_thread(db.delivery.all)}
        read_rooms = await asyncio.to_thread(db.rooms.read_at_least_once)

        rooms_of: dict[str, list[Endpoint]] = {}
        for endpoint in endpoints:
            rooms_of.setdefault(endpoint.room_resource_email.lower(), []).append(endpoint)

        jobs: list[tuple[Endpoint, DeliveryJob]] = []
        refused: list[_Refused] = []
        lists: dict[str, tuple[Booking, ...]] = {}
        skipped: list[EndpointReport] = []
        blocked_rooms: set[str] = set()
        for endpoint in endpoints:
            if not (
                endpoint.type == "WEBEX" or (endpoint.type == "CISCO" and endpoint.api_address)
            ):
                continue  # POLY and PULL endpoints read their meetings themselves
            room = endpoint.room_resource_email.lower()
            if room not in read_rooms:
                blocked_rooms.add(room)
                skipped.append(
                    EndpointReport(
                        endpoint=endpoint.name,
                        room=room,
                        action="skip",
                        reason="calendar not read yet",
                    )
                )
                continue
            state = stored.get(endpoint.name) or DeliveryState(endpoint=endpoint.name)
            profile = profiles.get(endpoint.name, DEFAULT_PROFILE)
            try:
                client, moved = self._device_client(endpoint, profile)
            except MissingCredentials as exc:
                refused.append(_Refused(endpoint=endpoint, state=state, error=exc, now=now))
                continue
            if moved or state.error_kind == MissingCredentials.kind:
                # settings changed (or credentials arrived): push now, whatever the back-off
                log.info("%s: connection settings changed, pushing again", endpoint.name)
                state = with_sync_required(state)
            if not self._due(state, room_pending=room in pending, now=now):
                if state.failures:
                    blocked_rooms.add(room)
                skipped.append(
                    EndpointReport(
                        endpoint=endpoint.name, room=room, action="skip", reason="not due"
                    )
                )
                continue
            if room not in lists:
                meetings = await asyncio.to_thread(
                    db.meetings.list,
                    room,
                    start=now - PAST_WINDOW,
                    end=now + timedelta(days=max(1, profile.display_upcoming_meetings)),
                    listed_only=True,
                    with_trace=False,
                )
                lists[room] = bookings_for_room(meetings, profile=profile)
            feedback = (
                await asyncio.to_thread(self.feedback_url, endpoint.name, now=now)
                if endpoint.type == "CISCO"
                else ""
            )
            jobs.append(
                (
                    endpoint,
                    DeliveryJob(
                        client=client, state=state, bookings=lists[room], feedback_url=feedback
                    ),
                )
            )

        for item in refused:
            if item.state.error_kind != item.error.kind:
                log.error("%s: %s", item.endpoint.name, item.error)
        outcomes = await deliver_fleet(
            [job for _, job in jobs],
            now=now,
            concurrency=self.concurrency,
            deadline=self.deadline,
            verify_every=self.verify_every,
        )
        done = [
            _Done(endpoint=endpoint, before=job.state, bookings=len(job.bookings), outcome=o)
            for (endpoint, job), o in zip(jobs, outcomes, strict=True)
        ] + [r.done() for r in refused]
        reports = await asyncio.to_thread(self._record, done, now)
        failed_rooms = {
            d.endpoint.room_resource_email.lower()
            for d in done
            if d.outcome.error or (d.outcome.decision.action == "skip" and d.outcome.state.failures)
        } | blocked_rooms
        delivered = await asyncio.to_thread(
            db.rooms.mark_delivered_many,
            {room: generation for room, generation in pending.items() if room not in failed_rooms},
        )
        counts = {"push": 0, "verify": 0}
        for outcome in outcomes:
            if outcome.pushed:
                counts["push"] += 1
            elif outcome.verified:
                counts["verify"] += 1
        failed = sum(1 for d in done if d.outcome.error)
        report = DeliveryReport(
            considered=len(done),
            pushed=counts["push"],
            verified=counts["verify"],
            skipped=len(skipped)
            + sum(1 for o in outcomes if not (o.pushed or o.verified or o.error)),
            failed=failed,
            rooms_delivered=tuple(sorted(delivered)),
            endpoints=tuple(reports),
        )
        if jobs:
            log.info(
                "delivery: %d considered, %d pushed, %d verified, %d failed",
                report.considered,
                report.pushed,
                report.verified,
                report.failed,
            )
        return report

    def _record(self, done: Sequence[_Done], now: datetime) -> list[EndpointReport]:
        """Write the new states in one transaction, then raise or clear alarms."""
        reports = []
        for item in done:
            endpoint, outcome = item.endpoint, item.outcome
            reports.append(
                EndpointReport(
                    endpoint=endpoint.name,
                    room=endpoint.room_resource_email.lower(),
                    action="push" if outcome.pushed else outcome.decision.action,
                    reason=outcome.decision.reason,
                    bookings=item.bookings,
                    error=outcome.error,
                    webrtc=outcome.webrtc,
                )
            )
        self.db.delivery.save_many(
            {item.endpoint.name: (item.before, item.outcome.state) for item in done}, now=now
        )
        for item in done:
            endpoint, outcome = item.endpoint, item.outcome
            for change in alarm_changes(item.before, outcome.state):
                kind = ALARM_DELIVERY if change.key == "delivery" else ALARM_MISMATCH
                if change.raise_alarm:
                    self.db.alarms.raise_alarm(
                        kind, endpoint.name, change.message, now=now, severity=change.severity
                    )
                else:
                    self.db.alarms.clear(kind, endpoint.name, now=now)
        return reports
