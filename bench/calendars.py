"""Benchmark: Google Calendar source against the Google fake (real google-api-python-client).

N rooms (default 1,000) with 20 events each: one full sync and one no-change incremental cycle
(one ``syncToken`` request per room).
Prints requests per room per cycle, events normalised per second (end to end, and the
normaliser alone), and the fake's own request-handling time from the same run, so that the
client-side share (library + our adapter) is visible.

    .venv/bin/python bench/calendars.py [--rooms 1000] [--events 20] [--threads 1]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from calendars.base import SyncResult
from calendars.sources.google import GoogleCalendarSource, GoogleSettings
from calendars.sources.google_events import google_event_to_event
from tests.fakes.google_calendar import GoogleCalendarFake

START = datetime(2026, 3, 23, tzinfo=UTC)
END = START + timedelta(days=7)


def room_name(index: int) -> str:
    return f"room{index:05d}@resource.example.com"


def load(fake: GoogleCalendarFake, rooms: int, per_room: int) -> None:
    for r in range(rooms):
        room = room_name(r)
        fake.add_calendar(room)
        for e in range(per_room):
            begin = START + timedelta(hours=8 + (e * 7) % 150)
            fake.put_event(
                room,
                {
                    "summary": f"Meeting {e}",
                    "location": "Fjord",
                    "description": "Join https://meet.google.com/abc-defg-hij\n" + "agenda " * 40,
                    "organizer": {"email": "ann@example.com", "displayName": "Ann"},
                    "start": {"dateTime": begin.isoformat(), "timeZone": "Europe/Oslo"},
                    "end": {"dateTime": (begin + timedelta(minutes=45)).isoformat()},
                    "attendees": [
                        {"email": "ann@example.com", "responseStatus": "accepted"},
                        {"email": room, "resource": True, "responseStatus": "accepted"},
                    ],
                    "conferenceData": {
                        "conferenceId": "abc-defg-hij",
                        "conferenceSolution": {"key": {"type": "hangoutsMeet"}},
                        "entryPoints": [
                            {
                                "entryPointType": "video",
                                "uri": "https://meet.google.com/abc-defg-hij",
                            }
                        ],
                    },
                },
            )


def timed(fake: GoogleCalendarFake, action: Callable[[], Any]) -> tuple[Any, float, float, int]:
    """Run ``action``; return (result, wall seconds, fake handling seconds, HTTP requests)."""
    fake.reset_counters()
    began = time.perf_counter()
    result = action()
    wall = time.perf_counter() - began
    return result, wall, fake.handling_seconds, fake.total_requests


def sync_all(
    source: GoogleCalendarSource, rooms: int, states: Sequence[str | None], threads: int
) -> list[SyncResult]:
    def one(index: int) -> SyncResult:
        return source.sync(room_name(index), start=START, end=END, state=states[index])

    if threads == 1:
        return [one(i) for i in range(rooms)]
    with ThreadPoolExecutor(max_workers=threads) as pool:
        return list(pool.map(one, range(rooms)))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--rooms", type=int, default=1000)
    parser.add_argument("--events", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    rooms, per_room = args.rooms, args.events

    with GoogleCalendarFake() as fake:
        load(fake, rooms, per_room)
        source = GoogleCalendarSource(
            GoogleSettings(
                service_account_info=fake.service_account_info(),
                api_endpoint=fake.api_endpoint,
                num_retries=0,
            )
        )
        # warm up: token and service object (not measured)
        source.sync(room_name(0), start=START, end=END, state=None)

        full, wall_f, fake_f, http_f = timed(
            fake, lambda: sync_all(source, rooms, [None] * rooms, args.threads)
        )
        events = sum(len(r.events) for r in full)
        assert events == rooms * per_room, f"expected {rooms * per_room} events, got {events}"
        states = [r.sync_state for r in full]

        incr, wall_i, fake_i, http_i = timed(
            fake, lambda: sync_all(source, rooms, states, args.threads)
        )
        assert all(not r.full and not r.events for r in incr), "the cycle saw changes"
        own_i = sum(r.requests for r in incr)
        states = [r.sync_state for r in incr]

        source.close()

    sample = _sample_items(per_room)
    began = time.perf_counter()
    rounds = max(1, 20000 // len(sample))
    for _ in range(rounds):
        for item in sample:
            google_event_to_event(item, room=room_name(0), default_tz=UTC)
    pure_rate = rounds * len(sample) / (time.perf_counter() - began)

    def share(wall: float, server: float) -> str:
        return f"wall {wall:6.2f} s, fake handling {server:6.2f} s ({100 * server / wall:4.1f}%)"

    print(f"otj calendars bench: {rooms} rooms x {per_room} events, {args.threads} thread(s)")
    print(
        f"full sync         : {http_f / rooms:5.2f} HTTP requests/room, "
        f"{events / wall_f:8.0f} events/s end to end, {share(wall_f, fake_f)}"
    )
    print(
        f"incremental       : {own_i / rooms:5.2f} requests/room/cycle (fake counted "
        f"{http_i / rooms:.2f}), {rooms / wall_i:6.0f} rooms/s, {share(wall_i, fake_i)}"
    )
    print(f"normaliser alone  : {pure_rate:8.0f} events/s (google_event_to_event, no HTTP)")
    print(
        f"client-side share : full {wall_f - fake_f:.2f} s, incremental {wall_i - fake_i:.2f} s"
        " (wall minus the fake's own handling time)"
    )
    return 0


def _sample_items(per_room: int) -> list[dict[str, Any]]:
    with GoogleCalendarFake() as fake:
        load(fake, 1, per_room)
        return fake.events(room_name(0))


if __name__ == "__main__":
    sys.exit(main())
