"""Sample invitations per meeting type, for the dial-plan check of ``otj config apply``.

Each built-in meeting type gets one or more short invitations written in the shape its vendor
sends (DESIGN.md §4.2). ``{domain}`` stands for the rule's ``domain`` (``vc.example.com`` when
the rule has none), so types that read the domain find their address. ``regex``, ``regex_re2``
and ``custom`` rules, which have no vendor, are tried on every sample.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from calendars.base import CalendarEvent, Conference, EntryPoint
from otj.model import MeetingRule

DEFAULT_DOMAIN = "vc.example.com"


@dataclass(frozen=True, kw_only=True, slots=True)
class Sample:
    """One sample invitation: a short name for messages, and its text."""

    name: str
    subject: str
    body: str = ""
    location: str = ""
    conference: Conference | None = None

    def event(self, *, domain: str, now: datetime) -> CalendarEvent:
        """The sample as a calendar event an hour after ``now``, ``{domain}`` filled in."""
        conference = self.conference
        if conference is not None:
            points = tuple(
                EntryPoint(type=p.type, uri=p.uri.replace("{domain}", domain), pin=p.pin)
                for p in conference.entry_points
            )
            conference = Conference(
                solution=conference.solution, id=conference.id, entry_points=points
            )
        return CalendarEvent(
            id=f"sample:{self.name}",
            room="room@example.com",
            start=now + timedelta(hours=1),
            end=now + timedelta(hours=2),
            subject=self.subject,
            body=self.body.replace("{domain}", domain),
            location=self.location.replace("{domain}", domain),
            conference=conference,
        )


_TEAMS_HEAD = (
    "Microsoft Teams meeting\n"
    "Join on your computer, mobile app or room device\n"
    "Click here to join the meeting <https://teams.microsoft.com/l/meetup-join/"
    "19%3ameeting_OTJsample%40thread.v2/0?context=%7b%22Tid%22%3a%22c0de%22%7d>\n"
    "Meeting ID: 318 224 907 553\n"
    "Passcode: Qe7tWm\n"
)

SAMPLES: dict[str, Sample] = {
    s.name: s
    for s in (
        Sample(
            name="Google Meet link",
            subject="Design review",
            body="Join with Google Meet\nhttps://meet.google.com/rtw-pqzs-kmn\n"
            "Join by phone\n(US) +1 304-555-0199 PIN: 408 113 226#\n",
        ),
        Sample(
            name="Google Meet conference data",
            subject="Weekly sync",
            conference=Conference(
                solution="hangoutsMeet",
                id="bvx-hjwq-tre",
                entry_points=(
                    EntryPoint(type="video", uri="https://meet.google.com/bvx-hjwq-tre"),
                    EntryPoint(type="phone", uri="tel:+1-304-555-0199", pin="408113226"),
                ),
            ),
        ),
        Sample(
            name="Google Meet with a SIP entry point",
            subject="All hands",
            body="Join with Google Meet: https://meet.google.com/kdw-fmro-yxa\n"
            "Join from a video conferencing system: 5820174639281@{domain}\n",
            conference=Conference(
                solution="hangoutsMeet",
                id="kdw-fmro-yxa",
                entry_points=(
                    EntryPoint(type="video", uri="https://meet.google.com/kdw-fmro-yxa"),
                    EntryPoint(type="sip", uri="sip:5820174639281@{domain}"),
                ),
            ),
        ),
        Sample(
            name="Teams with Pexip CVI",
            subject="Sprint review",
            body=_TEAMS_HEAD + "Join with a video conferencing device\nteams@{domain}\n"
            "Video Conference ID: 118 903 442 7\n"
            "Alternate VTC instructions <https://pexip.me/teams/{domain}/1189034427>\n",
        ),
        Sample(
            name="Teams with Cisco CVI",
            subject="Budget",
            body=_TEAMS_HEAD + "Join with a video conferencing device\nexample@m.webex.com\n"
            "Video Conference ID: 227 410 985 1\nAlternate VTC instructions\n",
        ),
        Sample(
            name="Teams with Poly CVI",
            subject="Operations",
            body=_TEAMS_HEAD + "Join with a video conferencing device\nexample@t.plcm.vc\n"
            "Video Conference ID: 336 521 094 2\n",
        ),
        Sample(name="Teams", subject="Supplier meeting", body=_TEAMS_HEAD),
        Sample(
            name="Zoom",
            subject="Customer demo",
            body="Join Zoom Meeting\nhttps://us06web.zoom.us/j/84129376051?pwd=sAmPle0tj.1\n"
            "Meeting ID: 841 2937 6051\nPasscode: 602214\n",
        ),
        Sample(
            name="Webex",
            subject="Quarterly review",
            body="Join meeting\nhttps://example.webex.com/example/j.php?MTID=m0tjsample\n"
            "Meeting number (access code): 2641 087 3359\n"
            "Join by video system, application or Skype for Business\n"
            "Dial 26410873359@example.webex.com\n",
        ),
        Sample(
            name="GoTo",
            subject="Planning",
            body="Please join my meeting from your computer, tablet or smartphone.\n"
            "https://meet.goto.com/618274953\n"
            "Join from a video-conferencing room or system.\n"
            "Dial in or type: 67.217.95.2 or inroomlink.goto.com\nMeeting ID: 618 274 953\n",
        ),
        Sample(
            name="Pexip VMR",
            subject="Project kickoff",
            body="Join from a video system: pexip://meet.alice@{domain}\n",
        ),
        Sample(
            name="Pexip Service",
            subject="Partner call",
            body="Join the meeting: https://pexip.me/meet.alice@{domain}\n",
        ),
        Sample(
            name="Skype for Business",
            subject="Status",
            body="Join Skype Meeting <https://meet.{domain}/alice/K7Q2ZP9D>\n",
        ),
        Sample(
            name="video address",
            subject="Team meeting",
            location="meet.alice@{domain}",
            body="We meet in my virtual meeting room meet.alice@{domain}.\n",
        ),
    )
}

BY_TYPE: dict[str, tuple[str, ...]] = {
    "googlemeetsipguestjoin": ("Google Meet link", "Google Meet conference data"),
    "hangouts": ("Google Meet with a SIP entry point",),
    "teams": ("Teams with Pexip CVI",),
    "pexipinfinityteamsbody": ("Teams with Pexip CVI",),
    "pexipserviceteamsbody": ("Teams with Pexip CVI",),
    "ciscoteamsbody": ("Teams with Cisco CVI",),
    "polyteamsbody": ("Teams with Poly CVI",),
    "teamssipguestjoin": ("Teams",),
    "zoom": ("Zoom",),
    "webex": ("Webex",),
    "gotomeeting": ("GoTo",),
    "pexipinfinity": ("Pexip VMR",),
    "pexipservice": ("Pexip Service",),
    "s4b": ("Skype for Business",),
    "polys4bbody": ("Skype for Business",),
    "domain": ("video address",),
}
"""The samples of each built-in type; a type not listed is tried on every sample."""


def samples_for(rule: MeetingRule) -> tuple[Sample, ...]:
    """The sample invitations a rule of this meeting type is rendered on."""
    names = BY_TYPE.get(rule.meeting_type)
    if names is None:
        return tuple(SAMPLES.values())
    return tuple(SAMPLES[name] for name in names)


def sample_domain(rule: MeetingRule) -> str:
    """The domain written into a rule's samples."""
    return rule.domain.strip() or DEFAULT_DOMAIN
