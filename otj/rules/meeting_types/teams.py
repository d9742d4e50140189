"""Microsoft Teams through Pexip's SIP Guest Join: ``teamssipguestjoin``.

Dials ``<meeting id>.<passcode>@teams.pexip.me`` (``<id>.<passcode>.<company_id>@…`` with a
company ID). Both values come from one Teams block (see ``base``): from a Teams link
(``teams.microsoft.com``, ``teams.cloud.microsoft``, ``teams.live.com``) or a "Microsoft Teams
meeting" heading in location or body to the end of that block, the meeting ID after a "Meeting
ID" label and the passcode after a "Passcode" label, in any language of ``labels``. A Teams
block that has only a link gives no match: its meeting cannot be joined this way, and a Zoom or
Webex meeting beside it must not lend it numbers. Variables: ``meeting_id``, ``passcode``,
``company_id``, ``join_url``.
"""

from __future__ import annotations

import re

from otj.rules.meeting_types.base import WHERE, Found, Missed, TypeSettings, block_at, digits
from otj.rules.meeting_types.labels import Labelled
from otj.rules.text import ALL_SOURCES, FREE_TEXT, EventText

TEAMS_LINK = re.compile(
    r"https?://(?i:teams\.microsoft\.com|teams\.cloud\.microsoft|teams\.live\.com)/[^\s<>\"']*"
)
_MEETING_ID = Labelled("meeting_id", r"(\d(?:[ \u00a0]?\d)*)")
_PASSCODE = Labelled("passcode", r"([A-Za-z0-9]+)")


def find_teams_guest_join(settings: TypeSettings, text: EventText) -> Found | Missed:
    """A Teams block with its ``Meeting ID`` and ``Passcode``."""
    any_link = next(
        (m for s in text.having(ALL_SOURCES, "teams") if (m := TEAMS_LINK.search(text.text(s)))),
        None,
    )
    looked: list[str] = []
    for source in text.having(FREE_TEXT, "teams"):
        body = text.text(source)
        done = -1
        for start in (link.start() for link in TEAMS_LINK.finditer(body)):
            if start < done:
                continue
            block = block_at("teams", source, body, start)
            done = block.end
            meeting = _MEETING_ID.first(body, block.start, block.end)
            if meeting is None:
                looked.append(block.describe())
                continue
            passcode = _PASSCODE.first(body, meeting[1], block.end) or _PASSCODE.first(
                body, block.start, block.end
            )
            if passcode is None:
                looked.append(block.describe())
                continue
            link = TEAMS_LINK.search(body, block.start, block.end) or any_link
            meeting_id, code = digits(meeting[0]), passcode[0]
            company = f".{settings.company_id}" if settings.company_id else ""
            return Found(
                alias=f"{meeting_id}.{code}{company}@teams.pexip.me",
                source=source,
                summary=f"Teams block, Meeting ID {meeting_id}, Passcode {code}",
                variables={
                    "meeting_id": meeting_id,
                    "passcode": code,
                    "company_id": settings.company_id,
                    "join_url": "" if link is None else link.group(0),
                },
            )
    if any_link is None and not looked:
        return Missed(detail=f"no teams.microsoft.com / teams.cloud.microsoft link in {WHERE}")
    where = (
        "; ".join(looked) if looked else "location or body (the link is only in conference data)"
    )
    return Missed(
        detail=f"Teams link found, but no 'Meeting ID' with a 'Passcode' in its block: {where}"
    )
