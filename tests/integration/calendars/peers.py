"""One calendar scenario, loaded into each peer in its own native form, and a source for each.

The peers: the Google, Graph and EWS fakes (driven by the real client libraries), a real
Radicale server (CalDAV) and an HTTP server publishing ``.ics`` files with ETags.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.utils import formatdate
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any, Protocol
from urllib.parse import quote, unquote, urlsplit
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server
from zoneinfo import ZoneInfo

import icalendar

from calendars.base import CalendarEvent, CalendarSource, SyncResult
from calendars.sources.caldav import CalDavCalendarSource, CalDavSettings
from calendars.sources.exchange import ExchangeCalendarSource, ExchangeSettings
from calendars.sources.google import GoogleCalendarSource, GoogleSettings
from calendars.sources.graph import GraphCalendarSource, GraphSettings
from calendars.sources.ics import IcsCalendarSource, IcsSettings
from otj.secret import Secret
from tests.fakes.ews import EwsFake
from tests.fakes.google_calendar import GoogleCalendarFake
from tests.fakes.google_calendar_http import Response, ScriptedHTTPServer
from tests.fakes.graph import GraphFake
from tests.fakes.graph_store import FakeAttendee, FakeEvent

ROOM = "fjord@resource.example.com"
OSLO = ZoneInfo("Europe/Oslo")
WINDOW_START = datetime(2026, 3, 23, tzinfo=UTC)
WINDOW_END = datetime(2026, 4, 6, tzinfo=UTC)


@dataclass(frozen=True, kw_only=True)
class ScenarioEvent:
    """A meeting in neutral form; each peer loader writes it in the peer's own format."""

    uid: str
    subject: str
    start: datetime | date
    end: datetime | date
    tz: str = "Europe/Oslo"
    location: str = ""
    body: str = ""
    organizer: tuple[str, str] = ("Ann Organizer", "ann@example.com")
    private: bool = False
    room_response: str = "accepted"
    rrule: str | None = None
    moved: Mapping[datetime, tuple[datetime, datetime]] = field(default_factory=dict)
    cancelled: tuple[datetime, ...] = ()


def scenario() -> list[ScenarioEvent]:
    """Single, recurring (one moved, one cancelled), private, declined, all-day, across DST."""
    return [
        ScenarioEvent(
            uid="single-1@otj.test",
            subject="Design review",
            start=datetime(2026, 3, 24, 10, tzinfo=OSLO),
            end=datetime(2026, 3, 24, 11, tzinfo=OSLO),
            location="Fjord",
            body="Join https://meet.google.com/abc-defg-hij",
        ),
        ScenarioEvent(
            uid="series-1@otj.test",
            subject="Stand-up",
            start=datetime(2026, 3, 23, 9, tzinfo=OSLO),
            end=datetime(2026, 3, 23, 9, 30, tzinfo=OSLO),
            rrule="FREQ=DAILY;COUNT=5",
            moved={
                datetime(2026, 3, 25, 9, tzinfo=OSLO): (
                    datetime(2026, 3, 25, 14, tzinfo=OSLO),
                    datetime(2026, 3, 25, 14, 30, tzinfo=OSLO),
                )
            },
            cancelled=(datetime(2026, 3, 26, 9, tzinfo=OSLO),),
        ),
        ScenarioEvent(
            uid="private-1@otj.test",
            subject="Salary talk",
            start=datetime(2026, 3, 25, 12, tzinfo=OSLO),
            end=datetime(2026, 3, 25, 13, tzinfo=OSLO),
            private=True,
        ),
        ScenarioEvent(
            uid="declined-1@otj.test",
            subject="Double booked",
            start=datetime(2026, 3, 26, 15, tzinfo=OSLO),
            end=datetime(2026, 3, 26, 16, tzinfo=OSLO),
            room_response="declined",
        ),
        ScenarioEvent(
            uid="allday-1@otj.test",
            subject="Office closed",
            start=date(2026, 3, 27),
            end=date(2026, 3, 28),
        ),
        ScenarioEvent(
            uid="dst-1@otj.test",
            subject="Weekend sync",
            start=datetime(2026, 3, 28, 10, tzinfo=OSLO),
            end=datetime(2026, 3, 28, 11, tzinfo=OSLO),
            rrule="FREQ=DAILY;COUNT=3",
        ),
    ]


UPDATED_UID = "single-1@otj.test"
UPDATED_SUBJECT = "Design review (moved to Fjord 2)"
DELETED_UID = "private-1@otj.test"


# ---------------------------------------------------------------------------------------------
# the projection the contract compares
# ---------------------------------------------------------------------------------------------
def body_text(event: CalendarEvent) -> str:
    text = event.body or re.sub(r"<[^>]+>", " ", event.body_html)
    return " ".join(html.unescape(text).split())


def project(event: CalendarEvent) -> tuple[Any, ...]:
    """What must be identical across peers (ids differ by nature; cancelled ones keep little)."""
    start = event.start.astimezone(UTC)
    if event.status == "cancelled":
        return ("cancelled", event.ical_uid, start)
    return (
        event.status,
        event.ical_uid,
        start,
        event.end.astimezone(UTC),
        event.subject,
        event.location,
        body_text(event),
        event.all_day,
        event.private,
        event.room_response,
        event.organizer_email,
        bool(event.recurring_id),
    )


def expected(events: list[ScenarioEvent]) -> list[tuple[Any, ...]]:
    """The projections the scenario must produce (computed from the scenario, not a peer)."""
    out: list[tuple[Any, ...]] = []
    for ev in events:
        for start, end, cancelled in _instances(ev):
            if cancelled:
                out.append(("cancelled", ev.uid, start.astimezone(UTC)))
                continue
            all_day = not isinstance(ev.start, datetime)
            out.append(
                (
                    "confirmed",
                    ev.uid,
                    start.astimezone(UTC),
                    end.astimezone(UTC),
                    ev.subject,
                    ev.location,
                    ev.body,
                    all_day,
                    ev.private,
                    ev.room_response,
                    ev.organizer[1],
                    ev.rrule is not None,
                )
            )
    return sorted(out, key=repr)


def _instances(ev: ScenarioEvent) -> Iterator[tuple[datetime, datetime, bool]]:
    if not isinstance(ev.start, datetime):
        assert not isinstance(ev.end, datetime)
        yield (
            datetime.combine(ev.start, datetime.min.time(), UTC),
            datetime.combine(ev.end, datetime.min.time(), UTC),
            False,
        )
        return
    assert isinstance(ev.end, datetime)
    if ev.rrule is None:
        yield ev.start, ev.end, False
        return
    count = int(ev.rrule.split("COUNT=")[1])
    for day in range(count):
        start = ev.start + timedelta(days=day)
        end = ev.end + timedelta(days=day)
        if start in ev.cancelled:
            yield start, end, True
        elif start in ev.moved:
            yield *ev.moved[start], False
        else:
            yield start, end, False


def apply(store: dict[str, CalendarEvent], result: SyncResult) -> None:
    """What the worker does with a result: a full read replaces, an incremental one patches."""
    if result.full:
        store.clear()
    for removed in result.removed_ids:
        store.pop(removed, None)
    for event in result.events:
        store[event.id] = event


# ---------------------------------------------------------------------------------------------
# peers
# ---------------------------------------------------------------------------------------------
class Peer(Protocol):
    name: str

    def load(self, events: list[ScenarioEvent]) -> None: ...

    def update_subject(self, uid: str, subject: str) -> None: ...

    def delete(self, uid: str) -> None: ...

    def source(self, *, timeout: float = 10.0) -> CalendarSource: ...


class GooglePeer:
    name = "google"

    def __init__(self, fake: GoogleCalendarFake) -> None:
        self.fake = fake
        self.info = fake.service_account_info()
        self.ids: dict[str, str] = {}

    def load(self, events: list[ScenarioEvent]) -> None:
        self.fake.add_calendar(ROOM)
        for ev in events:
            resource: dict[str, Any] = {
                "id": hashlib.sha1(ev.uid.encode()).hexdigest()[:26],
                "iCalUID": ev.uid,
                "summary": ev.subject,
                "location": ev.location,
                "description": ev.body,
                "organizer": {"email": ev.organizer[1], "displayName": ev.organizer[0]},
                "start": _google_time(ev.start, ev.tz),
                "end": _google_time(ev.end, ev.tz),
                "visibility": "private" if ev.private else "default",
                "attendees": [
                    {"email": ev.organizer[1], "organizer": True, "responseStatus": "accepted"},
                    {"email": ROOM, "resource": True, "responseStatus": ev.room_response},
                ],
            }
            if ev.rrule:
                resource["recurrence"] = [f"RRULE:{ev.rrule}"]
            event_id = self.fake.put_event(ROOM, resource)
            self.ids[ev.uid] = event_id
            for original, (start, end) in ev.moved.items():
                self.fake.override_instance(
                    ROOM,
                    event_id,
                    original,
                    {"start": _google_time(start, ev.tz), "end": _google_time(end, ev.tz)},
                )
            for original in ev.cancelled:
                self.fake.cancel_instance(ROOM, event_id, original)

    def update_subject(self, uid: str, subject: str) -> None:
        self.fake.patch_event(ROOM, self.ids[uid], summary=subject)

    def delete(self, uid: str) -> None:
        self.fake.delete_event(ROOM, self.ids[uid])

    def source(self, *, timeout: float = 10.0, **overrides: Any) -> GoogleCalendarSource:
        settings = {
            "service_account_info": self.info,
            "api_endpoint": self.fake.api_endpoint,
            "num_retries": 0,
            "timeout": timeout,
            "page_size": 4,
            **overrides,
        }
        return GoogleCalendarSource(GoogleSettings(**settings))


def _google_time(value: datetime | date, tz: str) -> dict[str, str]:
    if isinstance(value, datetime):
        return {"dateTime": value.isoformat(), "timeZone": tz}
    return {"date": value.isoformat()}


def _fake_event(ev: ScenarioEvent, *, html_body: bool = False) -> FakeEvent:
    tz = ZoneInfo(ev.tz)
    all_day = not isinstance(ev.start, datetime)
    start = (
        ev.start
        if isinstance(ev.start, datetime)
        else datetime.combine(ev.start, datetime.min.time(), tz)
    )
    end = (
        ev.end
        if isinstance(ev.end, datetime)
        else datetime.combine(ev.end, datetime.min.time(), tz)
    )
    return FakeEvent(
        uid=ev.uid,
        subject=ev.subject,
        start=start,
        end=end,
        tz=ev.tz,
        all_day=all_day,
        location=ev.location,
        body=f"<html><body><p>{html.escape(ev.body)}</p></body></html>" if html_body else ev.body,
        body_type="html" if html_body else "text",
        organizer_name=ev.organizer[0],
        organizer_email=ev.organizer[1],
        private=ev.private,
        attendees=[
            FakeAttendee(email=ev.organizer[1], name=ev.organizer[0], response="organizer"),
            FakeAttendee(email=ROOM, name="Fjord", kind="resource", response=ev.room_response),  # type: ignore[arg-type]
        ],
        rrule=ev.rrule,
    )


class _StorePeer:
    """Graph and EWS share the Exchange mailbox model."""

    fake: GraphFake | EwsFake

    def __init__(self) -> None:
        self.ids: dict[str, str] = {}

    def load(self, events: list[ScenarioEvent]) -> None:
        self.fake.store.add_mailbox(ROOM)
        for ev in events:
            item_id = self.fake.store.put(ROOM, _fake_event(ev))
            self.ids[ev.uid] = item_id
            for original, (start, end) in ev.moved.items():
                self.fake.store.modify_occurrence(ROOM, item_id, original, start=start, end=end)
            for original in ev.cancelled:
                self.fake.store.cancel_occurrence(ROOM, item_id, original)

    def update_subject(self, uid: str, subject: str) -> None:
        self.fake.store.update(ROOM, self.ids[uid], subject=subject)

    def delete(self, uid: str) -> None:
        self.fake.store.delete(ROOM, self.ids[uid])


class GraphPeer(_StorePeer):
    name = "graph"

    def __init__(self, fake: GraphFake, ca_file: Path) -> None:
        super().__init__()
        self.fake = fake
        self.ca_file = ca_file

    def source(self, *, timeout: float = 10.0, **overrides: Any) -> GraphCalendarSource:
        fake = self.fake
        settings = {
            "tenant_id": fake.tenant_id,
            "client_id": fake.client_id,
            "client_secret": Secret(fake.client_secret),
            "authority_host": fake.authority_host,
            "graph_endpoint": fake.graph_endpoint,
            "ca_file": str(self.ca_file),
            "page_size": 4,
            "timeout": timeout,
            **overrides,
        }
        return GraphCalendarSource(GraphSettings(**settings))


class EwsPeer(_StorePeer):
    name = "exchange"

    def __init__(self, fake: EwsFake) -> None:
        super().__init__()
        self.fake = fake

    def source(self, *, timeout: float = 10.0, **overrides: Any) -> ExchangeCalendarSource:
        settings = {
            "service_endpoint": self.fake.service_endpoint,
            "username": "EXAMPLE\\svc-otj",
            "password": Secret("ews-password"),
            "auth": "basic",
            "version": "Exchange2016",
            "max_wait": 2.0,
            "timeout": timeout,
            **overrides,
        }
        return ExchangeCalendarSource(ExchangeSettings(**settings))


def scenario_ics(events: list[ScenarioEvent], *, room: str = ROOM) -> bytes:
    """The scenario as one iCalendar object per UID (series + RECURRENCE-ID overrides)."""
    cal = icalendar.Calendar()
    cal.add("prodid", "-//otj//tests//EN")
    cal.add("version", "2.0")
    for ev in events:
        for vevent in vevents(ev, room=room):
            cal.add_component(vevent)
    cal.add_missing_timezones()
    return cal.to_ical()


def vevents(ev: ScenarioEvent, *, room: str = ROOM) -> list[icalendar.Event]:
    def base(start: datetime | date, end: datetime | date) -> icalendar.Event:
        vevent = icalendar.Event()
        vevent.add("uid", ev.uid)
        vevent.add("dtstamp", datetime(2026, 3, 1, tzinfo=UTC))
        vevent.add("summary", ev.subject)
        if ev.location:
            vevent.add("location", ev.location)
        if ev.body:
            vevent.add("description", ev.body)
        vevent.add("dtstart", start)
        vevent.add("dtend", end)
        organizer = icalendar.vCalAddress(f"mailto:{ev.organizer[1]}")
        organizer.params["CN"] = ev.organizer[0]
        vevent.add("organizer", organizer)
        room_address = icalendar.vCalAddress(f"mailto:{room}")
        room_address.params["CUTYPE"] = "RESOURCE"
        room_address.params["PARTSTAT"] = ev.room_response.upper()
        vevent.add("attendee", room_address)
        if ev.private:
            vevent.add("class", "PRIVATE")
        return vevent

    master = base(ev.start, ev.end)
    if ev.rrule:
        master.add("rrule", icalendar.vRecur.from_ical(ev.rrule))
    out = [master]
    for original, (start, end) in ev.moved.items():
        override = base(start, end)
        override.add("recurrence-id", original)
        out.append(override)
    for original in ev.cancelled:
        assert isinstance(ev.end, datetime)
        assert isinstance(ev.start, datetime)
        override = base(original, original + (ev.end - ev.start))
        override.add("recurrence-id", original)
        override.add("status", "CANCELLED")
        out.append(override)
    return out


class IcsHttpServer(ScriptedHTTPServer):
    """Publishes ``/{room}.ics`` with a strong ETag and Last-Modified; honours If-None-Match."""

    def __init__(self) -> None:
        super().__init__()
        self.files: dict[str, bytes] = {}
        self.modified: dict[str, float] = {}
        self._files_lock = threading.Lock()

    def publish(self, room: str, content: bytes, *, when: float) -> None:
        with self._files_lock:
            self.files[room.lower()] = content
            self.modified[room.lower()] = when

    def room_of(self, path: str) -> str | None:
        name = unquote(urlsplit(path).path.rsplit("/", 1)[-1])
        return name[:-4] if name.endswith(".ics") else None

    def route(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Response:
        room = (self.room_of(path) or "").lower()
        with self._files_lock:
            content = self.files.get(room)
            modified = self.modified.get(room, 0.0)
        if content is None:
            return Response(status=404, body=b"not found", content_type="text/plain")
        etag = '"' + hashlib.sha256(content).hexdigest()[:32] + '"'
        last_modified = formatdate(modified, usegmt=True)
        common = {"ETag": etag, "Last-Modified": last_modified}
        if headers.get("If-None-Match") == etag:
            return Response(status=304, body=b"", headers=common)
        return Response(
            status=200, body=content, content_type="text/calendar; charset=utf-8", headers=common
        )

    def url_template(self) -> str:
        return f"{self.base_url}/calendars/{{room}}.ics"


class IcsPeer:
    name = "ics"

    def __init__(self, server: IcsHttpServer) -> None:
        self.server = server
        self.events: list[ScenarioEvent] = []
        self.version = 0.0

    def _publish(self) -> None:
        self.version += 1
        self.server.publish(ROOM, scenario_ics(self.events), when=1_780_000_000 + self.version)

    def load(self, events: list[ScenarioEvent]) -> None:
        self.events = list(events)
        self._publish()

    def update_subject(self, uid: str, subject: str) -> None:
        self.events = [_renamed(e, uid, subject) for e in self.events]
        self._publish()

    def delete(self, uid: str) -> None:
        self.events = [e for e in self.events if e.uid != uid]
        self._publish()

    def source(self, *, timeout: float = 10.0, **overrides: Any) -> IcsCalendarSource:
        settings = {"url_template": self.server.url_template(), "timeout": timeout, **overrides}
        return IcsCalendarSource(IcsSettings(**settings))


def _renamed(ev: ScenarioEvent, uid: str, subject: str) -> ScenarioEvent:
    if ev.uid != uid:
        return ev
    return ScenarioEvent(**{**ev.__dict__, "subject": subject})


# ---------------------------------------------------------------------------------------------
# Radicale (a real CalDAV server, in-process WSGI on port 0)
# ---------------------------------------------------------------------------------------------
class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        return


class RadicaleServer:
    """Radicale 3 with htpasswd (plain) auth, owner_only rights and its own storage folder."""

    username = "rooms"
    password = "radicale-secret"

    def __init__(self, directory: Path) -> None:
        import radicale
        import radicale.config

        directory.mkdir(parents=True, exist_ok=True)
        users = directory / "users"
        users.write_text(f"{self.username}:{self.password}\n")
        config = radicale.config.load()
        config.update(
            {
                "storage": {"filesystem_folder": str(directory / "collections")},
                "auth": {
                    "type": "htpasswd",
                    "htpasswd_filename": str(users),
                    "htpasswd_encryption": "plain",
                    "delay": "0",
                },
                "rights": {"type": "owner_only"},
                "logging": {"level": "warning"},
            },
            "otj-tests",
            privileged=True,
        )
        self._server = make_server(
            "127.0.0.1",
            0,
            radicale.Application(config),
            server_class=_ThreadingWSGIServer,
            handler_class=_QuietHandler,
        )
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._server.server_port}/"

    def calendar_url_template(self) -> str:
        return f"{self.url}{self.username}/{{room}}/"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class CalDavPeer:
    name = "caldav"

    def __init__(self, server: RadicaleServer, room: str = ROOM) -> None:
        from caldav.davclient import DAVClient

        self.server = server
        self.room = room
        self.client = DAVClient(
            url=server.url,
            username=server.username,
            password=server.password,
            timeout=10,
            enable_rfc6764=False,
        )
        self.url = server.calendar_url_template().replace("{room}", quote(room, safe="@"))
        self.hrefs: dict[str, Any] = {}
        self.events: dict[str, ScenarioEvent] = {}

    def load(self, events: list[ScenarioEvent]) -> None:
        calendar = self.client.calendar(url=self.url)
        self.client.mkcalendar(self.url)
        for ev in events:
            self._save(calendar, ev)

    def _save(self, calendar: Any, ev: ScenarioEvent) -> None:
        cal = icalendar.Calendar()
        cal.add("prodid", "-//otj//tests//EN")
        cal.add("version", "2.0")
        for vevent in vevents(ev, room=self.room):
            cal.add_component(vevent)
        cal.add_missing_timezones()
        self.hrefs[ev.uid] = calendar.save_event(cal.to_ical().decode())
        self.events[ev.uid] = ev

    def update_subject(self, uid: str, subject: str) -> None:
        calendar = self.client.calendar(url=self.url)
        self._save(calendar, _renamed(self.events[uid], uid, subject))

    def delete(self, uid: str) -> None:
        self.hrefs.pop(uid).delete()

    def source(self, *, timeout: float = 10.0, **overrides: Any) -> CalDavCalendarSource:
        settings = {
            "url": self.server.url,
            "calendar_url_template": self.server.calendar_url_template(),
            "username": self.server.username,
            "password": Secret(self.server.password),
            "timeout": timeout,
            **overrides,
        }
        return CalDavCalendarSource(CalDavSettings(**settings))


def dump(events: list[CalendarEvent]) -> str:
    """Readable assertion output."""
    return json.dumps([repr(project(e)) for e in events], indent=1)
