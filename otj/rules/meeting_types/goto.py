"""GoTo Meeting: ``gotomeeting`` dials the room-system address of the invitation.

- The current template's "Join from a video-conferencing room or system" section:
  ``inroomlink.goto.com`` with a "Meeting ID" / "Access Code" → ``<id>@inroomlink.goto.com``;
- the older one: ``<meeting id>@<IP address or host>`` under a "Cisco devices" / "room system"
  heading → that address.

Values come from the GoTo block (see ``base``) around ``inroomlink.goto.com``, location before
body. Variables: ``meeting_id``.
"""

from __future__ import annotations

import re

from otj.rules.meeting_types.base import Found, Missed, TypeSettings, block_at, digits
from otj.rules.meeting_types.labels import Labelled
from otj.rules.text import FREE_TEXT, EventText

_INROOM = re.compile(r"inroomlink\.goto\.com", re.IGNORECASE)
_ID = Labelled("meeting_id|access_code", r"(\d(?:[ \u00a0-]?\d)*)")
_ROOM_HEADING = re.compile(
    r"cisco devices|room system|video ?conferencing (?:room|system)", re.IGNORECASE
)
_ROOM_ADDRESS = re.compile(
    r"(?<![\w.+-])(\d{9,10})@((?:\d{1,3}\.){3}\d{1,3}|(?:[a-z0-9-]+\.)+[a-z]{2,})(?![\w-]|\.\w)",
    re.IGNORECASE,
)


def find_gotomeeting(settings: TypeSettings, text: EventText) -> Found | Missed:
    """``inroomlink.goto.com`` with its meeting ID, or an older ``<id>@<address>`` room section."""
    for source in text.having(FREE_TEXT, "goto"):
        body = text.text(source)
        link = _INROOM.search(body)
        if link is not None:
            block = block_at("goto", source, body, link.start(), before=True)
            found = _ID.first(body, block.start, block.end)
            if found is not None:
                meeting_id = digits(found[0])
                return Found(
                    alias=f"{meeting_id}@inroomlink.goto.com",
                    source=source,
                    summary=f"inroomlink.goto.com, meeting ID {meeting_id}",
                    variables={"meeting_id": meeting_id},
                )
        heading = _ROOM_HEADING.search(body)
        if heading is not None and ("goto" in body.lower() or "gotomeeting" in body.lower()):
            block = block_at("goto", source, body, heading.start())
            address = _ROOM_ADDRESS.search(body, block.start, block.end)
            if address is not None and "goto.com" not in address.group(2).lower():
                meeting_id = address.group(1)
                alias = f"{meeting_id}@{address.group(2)}"
                return Found(
                    alias=alias,
                    source=source,
                    summary=f"room-system address {alias} under {heading.group(0)!r}",
                    variables={"meeting_id": meeting_id},
                )
    return Missed(
        detail="no inroomlink.goto.com with a Meeting ID / Access Code and no room-system "
        "<id>@<address> in location or body"
    )
