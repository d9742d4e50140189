"""Zoom: ``zoom`` dials ``<meeting id>@zoomcrc.com`` (the Zoom Cloud Room Connector).

The meeting is found, in conference data, location, then body, as the first of:

- a join link ``https://[<sub>.]zoom.us/j/<id>`` (or ``/w/``, or on ``zoomgov.com``);
- a room-system address ``<id>[.<passcode>…]@[<sub>.]zoomcrc.com`` (its host is kept);
- a personal link ``https://<sub>.zoom.us/my/<name>`` whose Zoom block gives "Meeting ID".

The passcode is the first numeric one ("Passcode"/"Password" in any language of ``labels``) in
that meeting's Zoom block (see ``base``), else of Zoom conference data (an entry point on a Zoom
host); letter passcodes are skipped, since room systems dial the numeric one. Another provider's
block or conference data never gives it. With ``include_pin`` the alias is
``<id>.<passcode>@<host>``. Variables: ``meeting_id``, ``passcode``, ``host``.
"""

from __future__ import annotations

import re

from calendars.base import Conference
from otj.rules.meeting_types.base import (
    WHERE,
    Block,
    Found,
    Missed,
    TypeSettings,
    block_at,
    digits,
    near,
)
from otj.rules.meeting_types.labels import Labelled
from otj.rules.text import ALL_SOURCES, BODY, CONFERENCE, EventText

_ZOOM = re.compile(  # a link's match starts at its host name: the ID is all it needs
    r"zoom(?:\.us|gov\.com)/(?:[jw]/(?P<link_id>\d{9,11})(?!\d)|my/(?P<personal>[\w.-]+))"
    r"|(?<![\w.+-])(?:sips?:)?(?P<crc_id>\d{9,11})(?:\.[\w-]+)*"
    r"@(?P<host>(?:[a-z0-9-]+\.)*zoomcrc\.com)(?![\w-]|\.\w)",
    re.IGNORECASE,
)
_MEETING_ID = Labelled("meeting_id", r"(\d(?:[ \u00a0]?\d){8,10})(?!\d)")
_PASSCODE = Labelled("passcode", r"(\S+)")
_ZOOM_HOSTS = ("zoom.us/", "zoomgov.com/", "zoomcrc.com")


def is_zoom(conference: Conference | None) -> bool:
    """Whether conference data is a Zoom conference (an entry point on a Zoom host)."""
    return conference is not None and any(
        host in point.uri.lower() for point in conference.entry_points for host in _ZOOM_HOSTS
    )


def _numeric_passcode(block: Block) -> str:
    for found, _ in _PASSCODE.values(block.text, block.start, block.end):
        value = found.rstrip(".,;")
        if value.isdigit() and value.isascii():
            return value
    return ""


def _conference_passcode(conference: Conference | None) -> str:
    if not is_zoom(conference):
        return ""
    assert conference is not None
    codes = (point.passcode or point.pin for point in conference.entry_points)
    return next((code for code in codes if code.isdigit() and code.isascii()), "")


def find_zoom(settings: TypeSettings, text: EventText) -> Found | Missed:
    """Zoom join link, <id>@zoomcrc.com, or a personal link with its meeting ID."""
    looked: list[str] = []
    for source in text.having(ALL_SOURCES, "zoom"):
        body = text.text(source)
        for match in near(_ZOOM, body, text.lower(source), "zoom"):
            block = block_at("zoom", source, body, match.start())
            host = "zoomcrc.com"
            if match.group("link_id"):
                meeting_id = match.group("link_id")
                summary = f"Zoom link, meeting ID {meeting_id}"
            elif match.group("crc_id"):
                meeting_id, host = match.group("crc_id"), match.group("host")
                summary = f"room-system address {meeting_id}@{host}"
            else:
                label = _MEETING_ID.first(body, block.start, block.end)
                if label is None:
                    looked.append(block.describe())
                    continue
                meeting_id = digits(label[0])
                summary = f"personal link /my/{match.group('personal')}, Meeting ID {meeting_id}"
            passcode, where = _numeric_passcode(block), source
            if not passcode and source != BODY:
                for later in near(_ZOOM, text.body, text.lower(BODY), "zoom"):
                    passcode = _numeric_passcode(block_at("zoom", BODY, text.body, later.start()))
                    where = BODY
                    break
            if not passcode:
                passcode, where = _conference_passcode(text.event.conference), CONFERENCE
            alias = f"{meeting_id}@{host}"
            if settings.include_pin and passcode:
                alias = f"{meeting_id}.{passcode}@{host}"
            if passcode:
                summary += f", numeric passcode {passcode} (from {where})"
            return Found(
                alias=alias,
                source=source,
                summary=summary,
                variables={"meeting_id": meeting_id, "passcode": passcode, "host": host},
            )
    extra = f" (personal link without a Meeting ID in {'; '.join(looked)})" if looked else ""
    return Missed(detail=f"no Zoom join link or <id>@zoomcrc.com in {WHERE}{extra}")
