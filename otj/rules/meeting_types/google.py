"""Google Meet: ``googlemeetsipguestjoin`` (Google's SIP Guest Join) and ``hangouts`` (own interop).

``googlemeetsipguestjoin`` dials ``<meeting code>@google.pexip.me`` (``<code>.<company_id>@…``
with a company ID). The code comes from the event's Google Meet conference data (its ID, when the
conference is a Meet conference), else from the first ``meet.google.com/<code>`` or
``tel.meet/<code>`` link in location, then body. Variables: ``meeting_code``, ``company_id``.

``hangouts`` dials the SIP entry point of the conference data (``<pin>@<host>``; with a rule
``domain`` only one on that host, which the alias then uses), else the first 10–13 digit
``<pin>@<rule domain>`` in location or body. Variables: ``meeting_id``, ``domain``.
"""

from __future__ import annotations

import re

from calendars.base import Conference
from otj.rules.meeting_types.base import WHERE, Found, Missed, TypeSettings, first_match
from otj.rules.text import ALL_SOURCES, CONFERENCE, FREE_TEXT, EventText

MEET_SOLUTIONS = ("hangoutsMeet", "eventHangout", "eventNamedHangout")
_MEET_CODE = re.compile(r"[a-z]{3}-[a-z]{4}-[a-z]{3}")
_MEET_LINK = re.compile(
    r"(?<![\w.-])(?:https?://)?(?i:meet\.google\.com|tel\.meet)/([a-z]{3}-[a-z]{4}-[a-z]{3})(?![\w-])"
)


def is_meet(conference: Conference | None) -> bool:
    """Whether conference data is a Google Meet conference (solution or entry point host)."""
    if conference is None:
        return False
    return conference.solution in MEET_SOLUTIONS or any(
        "meet.google.com/" in point.uri.lower() for point in conference.entry_points
    )


def find_google_meet(settings: TypeSettings, text: EventText) -> Found | Missed:
    """Meet code from Meet conference data, a meet.google.com/<code> or a tel.meet/<code> link."""
    conference = text.event.conference
    code, source = "", ""
    if (
        conference is not None
        and is_meet(conference)
        and _MEET_CODE.fullmatch(conference.id.strip())
    ):
        code, source = conference.id.strip(), CONFERENCE
    else:
        hit = first_match(_MEET_LINK, text, ALL_SOURCES, "meet.google.com/", "tel.meet/")
        if hit is not None:
            source, code = hit[0], hit[2].group(1)
    if not code:
        return Missed(detail=f"no Meet code (meet.google.com/xxx-yyyy-zzz) in {WHERE}")
    company = settings.company_id
    alias = f"{code}.{company}@google.pexip.me" if company else f"{code}@google.pexip.me"
    return Found(
        alias=alias,
        source=source,
        summary=f"Meet code {code}",
        variables={"meeting_code": code, "company_id": company},
    )


def find_hangouts(settings: TypeSettings, text: EventText) -> Found | Missed:
    """Conference SIP entry point, or a 10–13 digit <pin>@<rule domain> in location/body."""
    domain = settings.domain.strip()
    conference = text.event.conference
    for point in () if conference is None else conference.entry_points:
        if point.type != "sip":
            continue
        uri = point.uri.strip()
        if uri.lower().startswith(("sip:", "sips:")):
            uri = uri.split(":", 1)[1]
        user, _, host = uri.partition("@")
        if user and host and (not domain or host.lower() == domain.lower()):
            target = domain or host
            return Found(
                alias=f"{user}@{target}",
                source=CONFERENCE,
                summary=f"SIP entry point {user}@{host}",
                variables={"meeting_id": user, "domain": target},
            )
    if not domain:
        return Missed(detail="no SIP entry point in conference data (rule has no domain)")
    pattern = re.compile(
        r"(?<![\w.+-])(?:sips?:)?(\d{10,13})@(" + re.escape(domain) + r")(?![\w-]|\.\w)",
        re.IGNORECASE,
    )
    hit = first_match(pattern, text, FREE_TEXT, "@" + domain.lower())
    if hit is None:
        return Missed(
            detail=f"no SIP entry point in conference data and no <10-13 digits>@{domain} "
            "in location or body"
        )
    meeting_id = hit[2].group(1)
    return Found(
        alias=f"{meeting_id}@{domain}",
        source=hit[0],
        summary=f"{meeting_id}@{hit[2].group(2)}",
        variables={"meeting_id": meeting_id, "domain": domain},
    )
