"""``otj status`` as an administrator reads it: whole error messages, rooms by name, and a trace
that explains the meetings an endpoint does not show.

A configuration with an ICS integration is applied, ``otj worker --once`` polls the rooms (one
with a calendar file, one whose file is missing) and ``otj status`` reads the store, each as a
separate ``python -m otj`` process.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.integration.service.test_cli_mistakes import otj

ROOM = "fjord@rooms.example.com"
MISSING = "aurora@rooms.example.com"
START = (datetime.now(UTC) + timedelta(days=1)).replace(hour=9, minute=0, second=0, microsecond=0)


def vevent(uid: str, summary: str, offset_hours: int, *extra: str) -> str:
    start = START + timedelta(hours=offset_hours)
    end = start + timedelta(minutes=30)
    lines = [
        "BEGIN:VEVENT",
        f"UID:{uid}",
        f"DTSTAMP:{START:%Y%m%dT%H%M%SZ}",
        f"DTSTART:{start:%Y%m%dT%H%M%SZ}",
        f"DTEND:{end:%Y%m%dT%H%M%SZ}",
        f"SUMMARY:{summary}",
        "ORGANIZER;CN=Ola Nordmann:mailto:ola@example.com",
        "DESCRIPTION:Join https://meet.google.com/abc-defg-hij",
        *extra,
        "END:VEVENT",
    ]
    return "\r\n".join(lines)


CALENDAR = "\r\n".join(
    [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//otj tests//EN",
        vevent("plain", "Weekly sync", 0),
        vevent(
            "declined",
            "Double-booked",
            1,
            f"ATTENDEE;CUTYPE=RESOURCE;PARTSTAT=DECLINED:mailto:{ROOM}",
        ),
        vevent("cancelled", "Called off", 2, "STATUS:CANCELLED"),
        vevent("private", "Salary talk", 3, "CLASS:PRIVATE"),
        "END:VCALENDAR",
        "",
    ]
)


@pytest.fixture(scope="module")
def polled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp_path = tmp_path_factory.mktemp("status")
    calendars = tmp_path / ("calendars-" + "x" * 60)  # error messages longer than a table cell
    calendars.mkdir()
    (calendars / f"{ROOM}.ics").write_text(CALENDAR)
    config = tmp_path / "config.yaml"
    config.write_text(
        json.dumps(
            {
                "integrations": [
                    {
                        "name": "Files",
                        "type": "ics",
                        "path_template": str(calendars / "{room}.ics"),
                    }
                ],
                "profiles": [
                    {
                        "name": "Office",
                        "integration": "Files",
                        "enable_private_meetings": False,
                        "replace_subject_type": "PRIVATE",
                    }
                ],
                "endpoint_groups": [{"name": "Rooms", "profile": "Office"}],
                "endpoints": [
                    {
                        "name": "Fjord Room",
                        "room_resource_email": ROOM,
                        "type": "PULL",
                        "group": "Rooms",
                    },
                    {
                        "name": "Aurora Room",
                        "room_resource_email": MISSING,
                        "type": "PULL",
                        "group": "Rooms",
                    },
                ],
                "meeting_processing_rules": [
                    {
                        "name": "Meet",
                        "profile": "Office",
                        "priority": 10,
                        "meeting_type": "googlemeetsipguestjoin",
                    }
                ],
            }
        )
    )
    applied = otj("config", "apply", str(config), cwd=tmp_path)
    assert applied.returncode == 0, applied.stderr
    worker = otj("worker", "--once", cwd=tmp_path, timeout=120)
    assert "Traceback" not in worker.stderr, worker.stderr
    return tmp_path


def test_status_rooms_and_alarms_show_the_whole_message(polled: Path) -> None:
    rooms = otj("status", "rooms", cwd=polled)
    assert rooms.returncode == 0, rooms.stderr
    data = json.loads(otj("status", "rooms", "--json", cwd=polled).stdout)
    error = next(r for r in data if r["room"] == MISSING)["last_error"]
    assert len(error) > 80
    assert f"{MISSING}: {next(r for r in data if r['room'] == MISSING)['last_error_kind']}: " in (
        rooms.stdout
    )
    assert error in rooms.stdout  # whole, on its own line

    alarms = otj("status", "alarms", cwd=polled)
    assert alarms.returncode == 0, alarms.stderr
    active = json.loads(otj("status", "alarms", "--json", cwd=polled).stdout)
    assert active
    for alarm in active:
        assert len(alarm["message"]) > 80
        assert f"    {alarm['message']}\n" in alarms.stdout


@pytest.mark.parametrize("given", ["Fjord Room", "fjord room", "fjord", ROOM.upper()])
def test_meetings_accepts_the_room_by_name(polled: Path, given: str) -> None:
    result = otj("status", "meetings", "--room", given, cwd=polled)
    assert result.returncode == 0, result.stderr
    assert "Weekly sync" in result.stdout


def test_an_unknown_room_lists_the_known_ones(polled: Path) -> None:
    result = otj("status", "meetings", "--room", "nowhere", cwd=polled)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "error: no room 'nowhere'" in result.stderr
    assert f"  {ROOM}: Fjord Room" in result.stderr
    assert f"  {MISSING}: Aurora Room" in result.stderr


def test_trace_all_explains_what_is_not_shown_and_replaced_subjects(polled: Path) -> None:
    shown = otj("status", "meetings", "--room", "Fjord Room", "--trace", cwd=polled).stdout
    assert "Double-booked" not in shown

    result = otj("status", "meetings", "--room", "Fjord Room", "--trace", "--all", cwd=polled)
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert "not shown: the room declined the invitation (profile 'Office')" in text
    assert "not shown: the event is cancelled in the calendar (profile 'Office')" in text
    assert (
        "not shown: a private meeting and enable_private_meetings is off (profile 'Office')" in text
    )
    assert (
        "subject replaced by the organizer's name: a private meeting and "
        "replace_subject_type is PRIVATE (profile 'Office')"
    ) in text
    assert "Salary talk" not in text  # the replaced subject is never shown
