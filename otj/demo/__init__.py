"""The bundled demo of ``otj serve``: rooms whose ICS calendars are generated relative to today.

Four rooms with invitations as the providers write them: Google Meet hosted by another
organisation (SIP Guest Join), Teams through Pexip CVI, Zoom, Webex, a private meeting, a
meeting the room declined, a lunch without video and a daily recurring series. The
configuration (an ICS integration on the data directory, a profile, meeting processing rules,
PULL endpoints, the SIP Guest Join call routing rule) is applied like any configuration file.
Calendars are rewritten on every start so the meetings are always around today.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import icalendar
import yaml

DOMAIN = "demo.otj.example"


@dataclass(frozen=True, kw_only=True, slots=True)
class DemoEvent:
    """One demo invitation."""

    uid: str
    subject: str
    start: datetime
    minutes: int
    organizer: tuple[str, str]
    body: str = ""
    location: str = ""
    private: bool = False
    room_declined: bool = False
    rrule: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True, slots=True)
class DemoRoom:
    """A demo room and its invitations."""

    name: str
    email: str
    events: tuple[DemoEvent, ...]


MEET_BODY = """\
Join with Google Meet
https://meet.google.com/{code}
Or dial: +1 470-555-0134 PIN: 123 456 789#
More phone numbers: https://tel.meet/{code}?pin=1234567890
"""

TEAMS_BODY = """\
________________________________________________________________________________
Microsoft Teams meeting
Join on your computer, mobile app or room device
Click here to join the meeting <https://teams.microsoft.com/l/meetup-join/19%3ameeting_demo%40thread.v2/0>
Meeting ID: 351 772 904 188
Passcode: Xa9bQ2
Join with a video conferencing device
teams@vc.{domain}
Video Conference ID: 123 456 789 0
Alternate VTC instructions <https://pexip.me/teams/vc.{domain}/1234567890>
________________________________________________________________________________
"""

ZOOM_BODY = """\
Join Zoom Meeting
https://us02web.zoom.us/j/85012345678?pwd=Zz9abcDEF1.1
Meeting ID: 850 1234 5678
Passcode: 135790
Join by SIP
85012345678@zoomcrc.com
"""

WEBEX_BODY = """\
Join meeting
https://acme.webex.com/acme/j.php?MTID=m1a2b3c
Meeting number (access code): 2550 123 4567
Join by video system, application or Skype for Business
Dial 25501234567@acme.webex.com
You can also dial 173.243.2.68 and enter your meeting number.
"""


def demo_rooms(now: datetime) -> tuple[DemoRoom, ...]:
    """The demo rooms with invitations placed around ``now`` (a meeting is always on)."""
    hour = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    day = hour.replace(hour=0)
    ext = ("Kari Nordmann", "kari@partner.example")
    own = ("Ola Hansen", f"ola@{DOMAIN}")

    def at(hours: float) -> datetime:
        return hour + timedelta(hours=hours)

    return (
        DemoRoom(
            name="Oslo Fjord",
            email=f"oslo-fjord@{DOMAIN}",
            events=(
                DemoEvent(
                    uid="meet-now",
                    subject="Partner planning (Google Meet)",
                    start=at(0),
                    minutes=60,
                    organizer=ext,
                    body=MEET_BODY.format(code="abc-defg-hij"),
                ),
                DemoEvent(
                    uid="meet-later",
                    subject="Vendor sync",
                    start=at(3),
                    minutes=30,
                    organizer=ext,
                    body=MEET_BODY.format(code="kqz-mxwa-rtp"),
                ),
                DemoEvent(
                    uid="standup",
                    subject="Daily stand-up",
                    start=day + timedelta(hours=8),
                    minutes=15,
                    organizer=own,
                    body=MEET_BODY.format(code="std-updl-yqa"),
                    rrule={"FREQ": "DAILY", "COUNT": 14},
                ),
            ),
        ),
        DemoRoom(
            name="Bergen Bryggen",
            email=f"bergen-bryggen@{DOMAIN}",
            events=(
                DemoEvent(
                    uid="teams-cvi",
                    subject="Sprint review (Teams)",
                    start=at(1),
                    minutes=60,
                    organizer=own,
                    body=TEAMS_BODY.format(domain=DOMAIN),
                ),
                DemoEvent(
                    uid="zoom-demo",
                    subject="Customer demo (Zoom)",
                    start=at(4),
                    minutes=45,
                    organizer=ext,
                    body=ZOOM_BODY,
                ),
                DemoEvent(
                    uid="lunch",
                    subject="Team lunch",
                    start=at(2),
                    minutes=60,
                    organizer=own,
                    location="Canteen",
                ),
            ),
        ),
        DemoRoom(
            name="Tromsø Aurora",
            email=f"tromso-aurora@{DOMAIN}",
            events=(
                DemoEvent(
                    uid="webex-qbr",
                    subject="Quarterly business review (Webex)",
                    start=at(2),
                    minutes=90,
                    organizer=ext,
                    body=WEBEX_BODY,
                ),
                DemoEvent(
                    uid="private-1on1",
                    subject="Salary talk",
                    start=at(5),
                    minutes=30,
                    organizer=own,
                    private=True,
                    body=ZOOM_BODY,
                ),
                DemoEvent(
                    uid="declined",
                    subject="Double-booked workshop",
                    start=at(6),
                    minutes=60,
                    organizer=ext,
                    room_declined=True,
                    body=MEET_BODY.format(code="dcl-inee-dxx"),
                ),
            ),
        ),
        DemoRoom(
            name="Stavanger Sky",
            email=f"stavanger-sky@{DOMAIN}",
            events=(
                DemoEvent(
                    uid="board-weekly",
                    subject="Board weekly (Teams)",
                    start=day + timedelta(days=1, hours=9),
                    minutes=60,
                    organizer=own,
                    body=TEAMS_BODY.format(domain=DOMAIN),
                    rrule={"FREQ": "WEEKLY", "COUNT": 4},
                ),
                DemoEvent(
                    uid="sip-direct",
                    subject="Lab test call",
                    start=at(1),
                    minutes=30,
                    organizer=own,
                    location="sip:lab-vmr@vc.demo.otj.example",
                ),
            ),
        ),
    )


def calendar_ics(room: DemoRoom, *, now: datetime) -> bytes:
    """The room's calendar as RFC 5545 text (made with the icalendar library)."""
    cal = icalendar.Calendar()
    cal.add("prodid", "-//otj//demo//EN")
    cal.add("version", "2.0")
    for event in room.events:
        vevent = icalendar.Event()
        vevent.add("uid", f"{event.uid}@{DOMAIN}")
        vevent.add("dtstamp", now)
        vevent.add("summary", event.subject)
        vevent.add("dtstart", event.start)
        vevent.add("dtend", event.start + timedelta(minutes=event.minutes))
        if event.body:
            vevent.add("description", event.body)
        if event.location:
            vevent.add("location", event.location)
        if event.private:
            vevent.add("class", "PRIVATE")
        if event.rrule:
            vevent.add("rrule", event.rrule)
        organizer = icalendar.vCalAddress(f"mailto:{event.organizer[1]}")
        organizer.params["cn"] = event.organizer[0]
        vevent.add("organizer", organizer)
        attendee = icalendar.vCalAddress(f"mailto:{room.email}")
        attendee.params["cn"] = room.name
        attendee.params["cutype"] = "ROOM"
        attendee.params["partstat"] = "DECLINED" if event.room_declined else "ACCEPTED"
        vevent.add("attendee", attendee)
        cal.add_component(vevent)
    return bytes(cal.to_ical())


def write_calendars(directory: Path, *, now: datetime) -> list[Path]:
    """(Re)write every demo room's ``<email>.ics`` in ``directory`` (only when it changed)."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for room in demo_rooms(now):
        path = directory / f"{room.email}.ics"
        content = calendar_ics(room, now=now.replace(hour=0, minute=0, second=0, microsecond=0))
        if (
            not path.exists()
            or hashlib.sha256(path.read_bytes()).digest() != hashlib.sha256(content).digest()
        ):
            path.write_bytes(content)
        written.append(path)
    return written


def demo_config(calendar_dir: Path, *, poll_interval: int = 30) -> str:
    """The demo configuration, as a configuration file (applied by ``otj serve``)."""
    doc = {
        "integrations": [
            {
                "name": "Demo calendars",
                "type": "ics",
                "path_template": str(calendar_dir.resolve() / "{room}.ics"),
            }
        ],
        "profiles": [
            {
                "name": "Demo",
                "integration": "Demo calendars",
                "display_upcoming_meetings": 7,
                "start_buffer": 5,
                "replace_subject_type": "PRIVATE",
                "poll_interval": poll_interval,
                "description": "Bundled demo profile (otj serve without a configuration)",
            }
        ],
        "endpoint_groups": [{"name": "Demo rooms", "profile": "Demo"}],
        "endpoints": [
            {
                "name": room.name,
                "group": "Demo rooms",
                "room_resource_email": room.email,
                "type": "PULL",
                "description": "Demo room (pull API and room panel)",
            }
            for room in demo_rooms(datetime.now(UTC))
        ],
        "meeting_processing_rules": [
            {
                "name": "Teams via Pexip CVI",
                "profile": "Demo",
                "priority": 20,
                "meeting_type": "teams",
            },
            {"name": "Zoom", "profile": "Demo", "priority": 40, "meeting_type": "zoom"},
            {"name": "Webex", "profile": "Demo", "priority": 41, "meeting_type": "webex"},
            {
                "name": "Google Meet SIP Guest Join",
                "profile": "Demo",
                "priority": 50,
                "meeting_type": "googlemeetsipguestjoin",
            },
        ],
        "call_routing_rules": [
            {
                "name": "SIP Guest Join to the Pexip Service",
                "priority": 10,
                "match_string": r"[a-z\-]{10,12}@google\.pexip\.me",
                "sip_proxy": "dns",
            }
        ],
    }
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)
