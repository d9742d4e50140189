"""The Google Meet / Microsoft Teams join URL of an invitation, for a RoomOS native join (pure).

A RoomOS 11 device joins a Meet or Teams meeting itself (WebRTC) from a booking whose
``Protocol`` is ``WebRTC``, ``MeetingPlatform`` ``GoogleMeet`` or ``MicrosoftTeams`` and
``Number`` the meeting's URL. Used for meetings the rules gave no SIP alias (no SIP Guest Join
rule, no CVI) when the profile has ``webrtc_join``.

The URL is looked for in the conference data (Google ``conferenceData`` video entry point,
Graph ``onlineMeeting.joinUrl``), then the location, then the body (plain text, then the link
targets of HTML), after undoing mail-gateway link wrapping (Safe Links, URL Defense).
"""

from __future__ import annotations

import html
import re
from dataclasses import replace

from calendars.base import CalendarEvent
from otj.model import Meeting, Platform, Profile, TraceStep
from otj.rules.links import decode_wrapped_links

#: ``https://meet.google.com/abc-defg-hij`` (the query, e.g. ``?authuser=0``, is not needed).
_MEET = re.compile(r"https://meet\.google\.com/[a-z]{3}-[a-z]{4}-[a-z]{3}(?![a-z-])", re.IGNORECASE)
#: Teams meeting links: ``/l/meetup-join/…`` (long form) and ``/meet/<id>?p=<passcode>``.
_TEAMS = re.compile(
    r"https://(?:teams\.microsoft\.com|teams\.live\.com|teams\.cloud\.microsoft)"
    r"/(?:l/meetup-join/|meet/)[^\s<>\"'\]]+",
    re.IGNORECASE,
)
_TRAILING = ".,;:!?)>'\""
#: The trace step's rule name.
STEP = "webrtc"


def _first_link(text: str) -> tuple[Platform, str] | None:
    if not text:
        return None
    text = decode_wrapped_links(html.unescape(text))
    found: list[tuple[int, Platform, str]] = []
    for pattern, platform in ((_MEET, Platform.GOOGLE_MEET), (_TEAMS, Platform.MICROSOFT_TEAMS)):
        match = pattern.search(text)
        if match is not None:
            found.append((match.start(), platform, match.group(0).rstrip(_TRAILING)))
    if not found:
        return None
    _, platform, url = min(found, key=lambda item: item[0])
    return platform, url


def find_native_join(event: CalendarEvent) -> tuple[Platform, str] | None:
    """The first Meet or Teams join URL of the event (platform, URL), or ``None``."""
    sources: list[str] = []
    if event.conference is not None:
        sources.extend(point.uri for point in event.conference.entry_points)
    sources.extend((event.location, event.body, event.body_html))
    for text in sources:
        hit = _first_link(text)
        if hit is not None:
            return hit
    return None


def with_native_join(meeting: Meeting, event: CalendarEvent, profile: Profile) -> Meeting:
    """``meeting`` with its native join URL and a trace step, when the profile asks for
    ``webrtc_join``, the rules gave no alias and the invitation has a Meet or Teams link."""
    if not profile.webrtc_join or meeting.alias:
        return meeting
    hit = find_native_join(event)
    if hit is None:
        return meeting
    platform, url = hit
    step = TraceStep(
        rule=STEP,
        meeting_type=STEP,
        outcome="matched",
        detail=f"no SIP alias: native {platform.value} join {url} (sent as Protocol WebRTC "
        "to Cisco devices on RoomOS 11 or later; older ones get no Join button)",
    )
    return replace(meeting, join_url=url, platform=platform, trace=(*meeting.trace, step))
