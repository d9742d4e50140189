"""What each adapter does beyond the contract: paging, threads, headers, validators."""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

from calendars.base import SyncResult
from calendars.sources.ics import IcsCalendarSource, IcsSettings
from calendars.syncstate import SyncState
from tests.fakes.ews import EwsFake
from tests.fakes.google_calendar import GoogleCalendarFake
from tests.fakes.graph import GraphFake
from tests.integration.calendars.peers import (
    ROOM,
    WINDOW_END,
    WINDOW_START,
    CalDavPeer,
    EwsPeer,
    GooglePeer,
    GraphPeer,
    IcsHttpServer,
    IcsPeer,
    RadicaleServer,
    scenario,
    scenario_ics,
)

START, END = WINDOW_START, WINDOW_END


def other_room(i: int) -> str:
    return f"room{i}@resource.example.com"


# ----------------------------------------------------------------------------- Google
def test_google_pages_and_counts_requests(google_fake: GoogleCalendarFake) -> None:
    peer = GooglePeer(google_fake)
    peer.load(scenario())
    result = peer.source().sync(ROOM, start=START, end=END, state=None)  # page size 4
    pages = -(-len(result.events) // 4)
    assert result.requests == pages
    path = f"/calendar/v3/calendars/{ROOM.replace('@', '%40')}/events"
    assert google_fake.requests_by_path[path] == pages
    assert google_fake.requests_by_room[ROOM] == pages
    assert google_fake.token_requests == 1
    assert google_fake.handling_seconds > 0


def test_google_threads_share_one_source(google_fake: GoogleCalendarFake) -> None:
    peer = GooglePeer(google_fake)
    for i in range(40):
        google_fake.put_event(
            other_room(i),
            {
                "summary": f"m{i}",
                "start": {"dateTime": (START + timedelta(hours=i)).isoformat()},
                "end": {"dateTime": (START + timedelta(hours=i, minutes=30)).isoformat()},
            },
        )
    source = peer.source()
    seen_threads: set[int] = set()

    def one(i: int) -> tuple[int, SyncResult]:
        seen_threads.add(threading.get_ident())
        return i, source.sync(other_room(i), start=START, end=END, state=None)

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(one, range(40)))
    assert all(r.events[0].subject == f"m{i}" and r.requests == 1 for i, r in results)
    assert len(seen_threads) > 1
    assert google_fake.token_requests <= len(seen_threads)


def test_google_incremental_reports_moves_out_of_the_window(
    google_fake: GoogleCalendarFake,
) -> None:
    peer = GooglePeer(google_fake)
    peer.load(scenario())
    source = peer.source()
    first = source.sync(ROOM, start=START, end=END, state=None)
    google_fake.patch_event(
        ROOM,
        peer.ids["single-1@otj.test"],
        start={"dateTime": "2026-05-01T10:00:00+02:00"},
        end={"dateTime": "2026-05-01T11:00:00+02:00"},
    )
    changed = source.sync(ROOM, start=START, end=END, state=first.sync_state)
    assert changed.full is False
    assert changed.events == ()
    assert changed.removed_ids == (peer.ids["single-1@otj.test"],)


def test_google_domain_wide_delegation_subject(google_fake: GoogleCalendarFake) -> None:
    peer = GooglePeer(google_fake)
    peer.load(scenario()[:1])
    google_fake.share(ROOM, "admin@example.com")
    result = peer.source(subject="admin@example.com").sync(ROOM, start=START, end=END, state=None)
    assert len(result.events) == 1
    assert google_fake.subjects_seen == ["admin@example.com"]


# ----------------------------------------------------------------------------- Graph
def test_graph_sends_prefer_headers_and_pages(
    graph_fake: GraphFake, tls_files: tuple[Path, Path]
) -> None:
    peer = GraphPeer(graph_fake, tls_files[0])
    peer.load(scenario())
    result = peer.source(page_size=5).sync(ROOM, start=START, end=END, state=None)
    assert result.requests == -(-len(result.events) // 5)
    assert graph_fake.prefer_seen[-1] == (
        'outlook.timezone="UTC", outlook.body-content-type="html", odata.maxpagesize="5"'
    )
    assert all(e.start.utcoffset() == timedelta(0) for e in result.events)
    text = peer.source(body_content_type="text").sync(ROOM, start=START, end=END, state=None)
    single = next(e for e in text.events if e.ical_uid == "single-1@otj.test")
    assert single.body == "Join https://meet.google.com/abc-defg-hij"
    assert single.body_html == ""


def test_graph_teams_meeting_is_a_conference(
    graph_fake: GraphFake, tls_files: tuple[Path, Path]
) -> None:
    from tests.fakes.graph_store import FakeEvent

    graph_fake.store.put(
        ROOM,
        FakeEvent(
            subject="Teams",
            start=START + timedelta(hours=3),
            end=START + timedelta(hours=4),
            join_url="https://teams.microsoft.com/l/meetup-join/1",
            conference_id="987654",
        ),
    )
    result = (
        GraphPeer(graph_fake, tls_files[0]).source().sync(ROOM, start=START, end=END, state=None)
    )
    conference = result.events[0].conference
    assert conference is not None
    assert conference.solution == "teamsForBusiness"
    assert conference.id == "987654"
    assert conference.entry_points[0].uri == "https://teams.microsoft.com/l/meetup-join/1"


# ----------------------------------------------------------------------------- EWS
def test_ews_impersonation_header_and_request_shape(ews_fake: EwsFake) -> None:
    peer = EwsPeer(ews_fake)
    peer.load(scenario())
    source = peer.source()
    first = source.sync(ROOM, start=START, end=END, state=None)
    ops = [op for op, _ in ews_fake.operations]
    assert ops[:2] == ["GetFolder", "GetFolder"]  # root, then the calendar (once per room)
    assert ops[2:] == ["SyncFolderItems", "FindItem", "GetItem"]
    assert first.requests == 5
    find_item = next(b for b in ews_fake.request_bodies if "<m:FindItem" in b)
    assert "<t:PrimarySmtpAddress>" + ROOM + "</t:PrimarySmtpAddress>" in find_item
    assert '<m:CalendarView StartDate="2026-03-23T00:00:00Z" EndDate="2026-04-06T00:00:00Z"/>' in (
        find_item
    )
    again = source.sync(ROOM, start=START, end=END, state=first.sync_state)
    assert (again.full, again.requests) == (False, 1)
    assert [op for op, _ in ews_fake.operations][-1] == "SyncFolderItems"


# ----------------------------------------------------------------------------- CalDAV
def test_caldav_requests_and_ctag_mode(radicale: RadicaleServer, caldav_room: str) -> None:
    peer = CalDavPeer(radicale, room=caldav_room)
    peer.load(scenario())
    source = peer.source()
    first = source.sync(caldav_room, start=START, end=END, state=None)
    assert first.requests == 2  # PROPFIND sync-token + REPORT calendar-query
    assert first.sync_state is not None
    stored = SyncState.decode(first.sync_state, kind="caldav")
    assert stored.extra["mode"] == "sync-token"
    props = (
        source._client()
        .calendar(url=source.calendar_url(caldav_room))
        .get_properties([__import__("calendars.sources.caldav", fromlist=["_GetCTag"])._GetCTag()])
    )
    ctag = next(iter(props.values()))
    as_ctag = SyncState(
        kind="caldav",
        token=str(ctag),
        window_start=stored.window_start,
        window_end=stored.window_end,
        extra={"mode": "ctag"},
    )
    unchanged = source.sync(caldav_room, start=START, end=END, state=as_ctag.encode())
    assert (unchanged.full, unchanged.requests) == (False, 1)
    peer.delete("private-1@otj.test")
    changed = source.sync(caldav_room, start=START, end=END, state=unchanged.sync_state)
    assert changed.full is True
    assert "private-1@otj.test" not in {e.ical_uid for e in changed.events}


# ----------------------------------------------------------------------------- ICS
def test_ics_url_conditional_get(ics_server: IcsHttpServer) -> None:
    peer = IcsPeer(ics_server)
    peer.load(scenario())
    source = peer.source()
    first = source.sync(ROOM, start=START, end=END, state=None)
    second = source.sync(ROOM, start=START, end=END, state=first.sync_state)
    assert (second.full, second.requests) == (False, 1)
    assert [entry[0] for entry in ics_server.request_log] == ["GET", "GET"]
    # the server answered 304: the second request carried the ETag
    assert second.sync_state is not None
    assert SyncState.decode(second.sync_state, kind="ics").extra["etag"].startswith('"')


def test_ics_file_unchanged_costs_no_read(tmp_path: Path) -> None:
    path = tmp_path / f"{ROOM}.ics"
    path.write_bytes(scenario_ics(scenario()))
    source = IcsCalendarSource(IcsSettings(path_template=str(tmp_path / "{room}.ics")))
    first = source.sync(ROOM, start=START, end=END, state=None)
    assert first.full
    assert len(first.events) == 12
    path.chmod(0o000)  # unchanged size and mtime: the file is not even opened
    try:
        same = source.sync(ROOM, start=START, end=END, state=first.sync_state)
    finally:
        path.chmod(0o600)
    assert (same.full, same.events, same.requests) == (False, (), 0)
    # rewritten with the same content: read again, same digest, still no change
    stat = path.stat()
    path.write_bytes(path.read_bytes())
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    touched = source.sync(ROOM, start=START, end=END, state=same.sync_state)
    assert touched.full is False
    path.write_bytes(scenario_ics(scenario()[:1]))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 2_000_000_000))
    changed = source.sync(ROOM, start=START, end=END, state=touched.sync_state)
    assert changed.full is True
    assert {e.ical_uid for e in changed.events} == {"single-1@otj.test"}


def test_ics_timezone_option_applies_to_all_day(tmp_path: Path) -> None:
    from zoneinfo import ZoneInfo

    (tmp_path / f"{ROOM}.ics").write_bytes(scenario_ics(scenario()))
    source = IcsCalendarSource(
        IcsSettings(path_template=str(tmp_path / "{room}.ics"), default_tz=ZoneInfo("Europe/Oslo"))
    )
    events = source.sync(ROOM, start=START, end=END, state=None).events
    all_day = next(e for e in events if e.all_day)
    assert all_day.start == datetime(2026, 3, 27, tzinfo=ZoneInfo("Europe/Oslo"))
    assert all_day.start.astimezone(UTC).hour == 23


def test_ews_threads_share_one_source(ews_fake: EwsFake) -> None:
    from tests.fakes.graph_store import FakeEvent

    for i in range(12):
        ews_fake.store.put(
            other_room(i),
            FakeEvent(
                subject=f"m{i}",
                start=START + timedelta(hours=i),
                end=START + timedelta(hours=i, minutes=30),
            ),
        )
    source = EwsPeer(ews_fake).source()

    def one(i: int) -> tuple[int, SyncResult]:
        return i, source.sync(other_room(i), start=START, end=END, state=None)

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(one, range(12)))
    assert all(r.events[0].subject == f"m{i}" for i, r in results)
    assert sum(r.requests for _, r in results) == 12 * 5
    source.close()
