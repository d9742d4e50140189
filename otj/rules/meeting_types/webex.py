"""Cisco Webex: ``webex`` dials the meeting's video address ``<number>@<site>.webex.com``.

Found, in conference data, location, then body, as the first of:

- a video address ``<meeting number>@<site>.webex.com`` (not ``m.webex.com``: that is Cisco's
  Teams interop, see ``teams_cvi``);
- a personal room ``https://<site>.webex.com/meet/<user>`` → ``<user>@<site>.webex.com``;
- a join link ``https://<site>.webex.com/<site>/j.php?MTID=…`` whose Webex block (see ``base``,
  including a few lines above the link) gives the "Meeting number (access code)" in any language
  of ``labels`` → ``<number>@<site>.webex.com``.

Variables: ``meeting_number``, ``site``, ``user`` (personal room).
"""

from __future__ import annotations

import re

from otj.rules.meeting_types.base import (
    WHERE,
    Found,
    Missed,
    TypeSettings,
    block_at,
    digits,
    near,
)
from otj.rules.meeting_types.labels import Labelled
from otj.rules.text import ALL_SOURCES, EventText

_WEBEX = re.compile(
    r"(?<![\w.+-])(?:sips?:)?(?P<number>\d{6,14})@(?P<site>[a-z0-9-]+(?:\.[a-z0-9-]+)*)\.webex\.com"
    r"(?![\w-]|\.\w)"
    r"|https?://(?P<room_site>[a-z0-9-]+(?:\.[a-z0-9-]+)*)\.webex\.com/meet/(?P<user>[\w.+-]*[\w+-])"
    r"|https?://(?P<join_site>[a-z0-9-]+(?:\.[a-z0-9-]+)*)\.webex\.com/[\w.-]+/j\.php\?",
    re.IGNORECASE,
)
_NUMBER = Labelled("meeting_number|access_code", r"(\d(?:[ \u00a0]?\d){5,13})(?!\d)")


def _found(number: str, site: str, user: str, source: str, summary: str) -> Found:
    return Found(
        alias=f"{user or number}@{site}.webex.com",
        source=source,
        summary=summary,
        variables={"meeting_number": number, "site": site, "user": user},
    )


def find_webex(settings: TypeSettings, text: EventText) -> Found | Missed:
    """Video address, personal room, or a j.php join link with its meeting number."""
    looked: list[str] = []
    for source in text.having(ALL_SOURCES, "webex.com"):
        body = text.text(source)
        for match in near(_WEBEX, body, text.lower(source), "webex.com"):
            if match.group("number"):
                site, number = match.group("site"), match.group("number")
                if site.lower() == "m":  # Cisco CVI for Teams, not a Webex site
                    continue
                summary = f"video address {number}@{site}.webex.com"
                return _found(number, site, "", source, summary)
            if match.group("user"):
                site, user = match.group("room_site"), match.group("user")
                return _found("", site, user, source, f"personal room {site}.webex.com/meet/{user}")
            site = match.group("join_site")
            block = block_at("webex", source, body, match.start(), before=True)
            label = _NUMBER.first(body, block.start, block.end)
            if label is None:
                looked.append(block.describe())
                continue
            number = digits(label[0])
            summary = f"join link on {site}.webex.com, meeting number {number}"
            return _found(number, site, "", source, summary)
    extra = f" (join link without a meeting number in {'; '.join(looked)})" if looked else ""
    return Missed(
        detail=f"no <number>@<site>.webex.com, no <site>.webex.com/meet/<user> and no join link "
        f"with a meeting number in {WHERE}{extra}"
    )
