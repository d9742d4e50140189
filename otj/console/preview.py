"""The live preview: one invitation through the rules as edited and as saved, side by side.

``event_from_upload`` reads what an administrator pastes or uploads (an e-mail message, an
iCalendar file, plain text or HTML; ``auto`` decides by its first bytes). ``preview`` runs the
event through the saved rules of a profile and through the same rules with one rule replaced by
its edited version, and routes each alias through the call routing rules (the dial-plan check:
would the gateway route it?). Pure: rules, profile and the clock come in as arguments.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from calendars.base import CalendarEvent
from otj.config.dialplan import route_alias
from otj.invitation import InvitationError, event_from_eml, event_from_ics
from otj.model import CallProtocol, CallRoutingRule, Meeting, MeetingRule, Profile

Kind = Literal["auto", "eml", "ics", "text", "html"]
KINDS: tuple[Kind, ...] = ("auto", "eml", "ics", "text", "html")
PREVIEW_ROOM = "preview@room.invalid"
_HEADER = re.compile(rb"^[A-Za-z0-9-]{1,64}:[ \t]", re.MULTILINE)
_TAG = re.compile(rb"<(html|body|div|p|a|table|span|br)\b", re.IGNORECASE)


def detect(raw: bytes) -> Kind:
    """What ``raw`` looks like: iCalendar, an e-mail message, HTML or plain text."""
    head = raw.lstrip()[:4096]
    if head.upper().startswith(b"BEGIN:VCALENDAR"):
        return "ics"
    first = head.split(b"\n", 1)[0]
    if _HEADER.match(first) and (b"\r\n\r\n" in raw or b"\n\n" in raw):
        return "eml"
    if _TAG.search(head):
        return "html"
    return "text"


def event_from_upload(
    raw: bytes, *, kind: Kind, subject: str, now: datetime, room: str = PREVIEW_ROOM
) -> CalendarEvent:
    """An event from pasted or uploaded text (``InvitationError`` says what is wrong)."""
    chosen = detect(raw) if kind == "auto" else kind
    if chosen == "ics":
        return event_from_ics(raw, where="the iCalendar text", room=room)
    if chosen == "eml":
        return event_from_eml(raw, where="the e-mail message", room=room, now=now)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvitationError(f"the text is not UTF-8 (byte {exc.start})") from exc
    start = now + timedelta(hours=1)
    return CalendarEvent(
        id="preview",
        room=room,
        start=start,
        end=start + timedelta(hours=1),
        subject=subject,
        body=text if chosen == "text" else "",
        body_html=text if chosen == "html" else "",
        organizer_name="Preview",
        organizer_email="preview@example.invalid",
    )


@dataclass(frozen=True, kw_only=True, slots=True)
class Outcome:
    """One side of the preview: the meeting, and where the gateway would send its alias."""

    meeting: Meeting
    routed_by: str | None
    route_note: str


@dataclass(frozen=True, kw_only=True, slots=True)
class Preview:
    """The saved rules' outcome and the edited rules' outcome for one event."""

    saved: Outcome
    edited: Outcome | None

    @property
    def differs(self) -> bool:
        """Whether the edit changes the alias or the rule that produced it."""
        if self.edited is None:
            return False
        a, b = self.saved.meeting, self.edited.meeting
        return (a.alias, a.rule, a.listed) != (b.alias, b.rule, b.listed)


def rules_for(rules: Sequence[MeetingRule], profile: Profile) -> list[MeetingRule]:
    """The rules a profile's rooms run (those of the profile and those of every profile)."""
    return [r for r in rules if r.profile in ("", profile.name)]


def with_edit(
    rules: Sequence[MeetingRule], edited: MeetingRule, *, original: str
) -> list[MeetingRule]:
    """The rules with ``original`` (and any rule of the edited name) replaced by ``edited``."""
    gone = {original, edited.name}
    return [*(r for r in rules if r.name not in gone), edited]


def _outcome(
    rules: Sequence[MeetingRule],
    event: CalendarEvent,
    profile: Profile,
    routing: Sequence[CallRoutingRule],
    now: datetime,
) -> Outcome:
    from otj.rules import RuleSet

    meeting = RuleSet.compile(rules_for(rules, profile)).process(event, profile, now=now)
    if not meeting.alias:
        return Outcome(meeting=meeting, routed_by=None, route_note="no alias: no Join button")
    if meeting.protocol != CallProtocol.SIP:
        return Outcome(meeting=meeting, routed_by=None, route_note="H.323: dialled directly")
    decision = route_alias(meeting.alias, routing).decision
    if decision is None:
        note = "no call routing rule matches it: a call through the gateway would get 404"
        return Outcome(meeting=meeting, routed_by=None, route_note=note)
    return Outcome(
        meeting=meeting,
        routed_by=decision.rule,
        route_note=f"routed by {decision.rule!r} to {decision.destination}",
    )


def preview(
    event: CalendarEvent,
    *,
    saved_rules: Sequence[MeetingRule],
    edited: MeetingRule | None,
    original: str,
    profile: Profile,
    routing: Sequence[CallRoutingRule],
    now: datetime,
) -> Preview:
    """Both outcomes (the edited one only when the edit is valid)."""
    saved = _outcome(saved_rules, event, profile, routing, now)
    if edited is None:
        return Preview(saved=saved, edited=None)
    changed = with_edit(saved_rules, edited, original=original)
    return Preview(saved=saved, edited=_outcome(changed, event, profile, routing, now))
