"""Skype for Business: ``s4b`` and ``polys4bbody`` dial ``<conference id>@<domain>``.

The first meeting URL ``https://meet.<domain>/<user>/<conference id>`` in conference data,
location or body (not ``meet.google.com``, ``meet.goto.com``, ``meet.jit.si``); the domain is the
rule's ``domain`` when set, else the URL's. Variables: ``conference_id``, ``domain``, ``user``.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

from otj.rules.meeting_types.base import WHERE, Found, Missed, TypeSettings
from otj.rules.text import ALL_SOURCES, EventText

_S4B = re.compile(
    r"https?://(?i:meet\.([a-z0-9-]+(?:\.[a-z0-9-]+)+))/([\w.@%+-]+)/([A-Za-z0-9]{4,16})(?![\w/-])"
)
_NOT_S4B = ("google.com", "goto.com", "jit.si", "gotomeeting.com")


def find_skype_for_business(settings: TypeSettings, text: EventText) -> Found | Missed:
    """Skype for Business meeting URL ``https://meet.<domain>/<user>/<id>``."""
    for source in text.having(ALL_SOURCES, "//meet."):
        for match in _S4B.finditer(text.text(source)):
            url_domain = match.group(1)
            if url_domain.lower() in _NOT_S4B:
                continue
            target = settings.domain.strip() or url_domain
            user, conference_id = unquote(match.group(2)), match.group(3)
            return Found(
                alias=f"{conference_id}@{target}",
                source=source,
                summary=f"Skype for Business meeting meet.{url_domain}/{user}/{conference_id}",
                variables={"conference_id": conference_id, "domain": target, "user": user},
            )
    return Missed(detail=f"no https://meet.<domain>/<user>/<id> in {WHERE}")
