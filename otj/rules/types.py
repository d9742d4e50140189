"""Built-in meeting types of DESIGN.md §4.2: what each finds, its default alias and variables.

Each finder gets the rule's settings and the event's ``EventText`` and returns a ``Found`` (the
default alias, the variables a ``transform_rule`` may use, where it was found) or a ``Missed``
with the sentence the trace shows. Text is searched in the order conference data, location,
body (link wrappers already decoded). Cheap substring checks on lower-cased text gate every
regular expression, so a rule that cannot match costs a few ``in`` tests.

The variables per type are documented in ``otj/rules/README.md``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, unquote, urlsplit

from otj.model import CallProtocol, Platform
from otj.rules.calluri import valid_call_target
from otj.rules.text import ALL_SOURCES, BODY, FREE_TEXT, LOCATION, EventText


@dataclass(frozen=True, kw_only=True, slots=True)
class TypeSettings:
    """The rule fields a built-in type reads."""

    domain: str = ""
    company_id: str = ""
    include_pin: bool = False


class Found(NamedTuple):
    """A built-in type found a meeting (a named tuple: one is made per matched event)."""

    alias: str
    source: str
    summary: str
    variables: dict[str, Any]
    protocol: CallProtocol = CallProtocol.SIP


@dataclass(frozen=True, kw_only=True, slots=True)
class Missed:
    """A built-in type found nothing; ``detail`` says what it looked for."""

    detail: str


Finder = Callable[[TypeSettings, EventText], Found | Missed]


@dataclass(frozen=True, kw_only=True, slots=True)
class MeetingType:
    """A built-in meeting type: its finder, platform and required rule fields."""

    name: str
    platform: Platform
    finder: Finder | None
    requires: tuple[str, ...] = ()
    variables: tuple[str, ...] = ()
    needles: tuple[str, ...] = ()
    """Every text search of the finder starts from one of these ``NEEDLES`` in these sources:
    when none occurs, the finder's answer is its fixed "not found" (see ``gated``)."""
    needle_sources: tuple[str, ...] = ALL_SOURCES
    reads_conference: bool = False
    """The finder also reads conference fields that are not text (e.g. the Meet code)."""
    domain_search: bool = False
    """With a rule ``domain`` the finder also searches ``@<domain>``: no gate then."""

    def gated(self, settings: TypeSettings) -> bool:
        """Whether absent ``needles`` decide this rule's miss for these settings."""
        return bool(self.needles) and not (self.domain_search and settings.domain.strip())


# --- shared helpers ----------------------------------------------------------------------------

_DIGIT_GROUPS = r"\d(?:[ \u00a0]?\d)*"
_WHERE = "conference data, location or body"


def _digits(text: str) -> str:
    return "".join(filter(str.isdigit, text))


_MAX_OCCURRENCES = 200


def _positions(lower: str, needles: tuple[str, ...]) -> Iterable[int]:
    """Sorted start positions of every occurrence of the needles (bounded).

    The occurrences of a single needle are found one by one, as the caller asks for them.
    """
    if len(needles) == 1:
        return _occurrences(lower, needles[0])
    positions: list[int] = []
    for needle in needles:
        index = lower.find(needle)
        while index >= 0 and len(positions) < _MAX_OCCURRENCES:
            positions.append(index)
            index = lower.find(needle, index + 1)
    positions.sort()
    return positions


def _occurrences(lower: str, needle: str) -> Iterator[int]:
    """The start positions of the first ``_MAX_OCCURRENCES`` occurrences of ``needle``."""
    index = lower.find(needle)
    count = 0
    while index >= 0 and count < _MAX_OCCURRENCES:
        yield index
        count += 1
        index = lower.find(needle, index + 1)


def _near(
    pattern: re.Pattern[str],
    text: str,
    lower: str,
    needles: tuple[str, ...],
    *,
    back: int = 64,
    ahead: int = 256,
    starts: Starts | None = None,
) -> Iterator[re.Match[str]]:
    """Matches of ``pattern`` in order, searched only in windows around the needles.

    Every match of the built-in patterns contains one of its needles, so searching
    ``[needle - back, needle + ahead)`` finds the same matches as a full scan at a fraction of
    the cost. A match cut by the window end is searched again without the end limit. With
    ``starts`` the pattern is only tried where they say a match can start (see ``_search``).
    """
    if len(lower) != len(text):  # case folding changed lengths: positions are unusable
        yield from pattern.finditer(text)
        return
    done = 0
    for position in _positions(lower, needles):
        begin = max(done, position - back)
        if position < done:
            continue
        end = min(len(text), position + ahead)
        match = _search(pattern, starts, text, lower, begin=begin, end=end)
        if match is not None and match.end() >= end and end < len(text):
            match = _search(pattern, starts, text, lower, begin=begin, end=len(text))
        if match is None:
            continue
        yield match
        done = match.end()


Starts = Callable[[str, str, int, int], Iterable[int]]
"""``(text, lower, begin, end)`` → ascending positions in ``[begin, end)`` that include every
position where a pattern can match ``text`` up to ``end`` (a superset is fine)."""


def _search(
    pattern: re.Pattern[str],
    starts: Starts | None,
    text: str,
    lower: str,
    *,
    begin: int,
    end: int,
) -> re.Match[str] | None:
    """``pattern.search(text, begin, end)``, trying only the ``starts`` when given.

    The leftmost position where ``pattern.match`` succeeds is what ``search`` finds. Patterns
    that open with a lookbehind cost ``re`` much per position; a few ``str.find`` calls for the
    literal every match contains, and a short walk back from it, are far cheaper.
    """
    if starts is None:
        return pattern.search(text, begin, end)
    for start in starts(text, lower, begin, end):
        match = pattern.match(text, start, end)
        if match is not None:
            return match
    return None


def _found(text: str, literal: str, begin: int, end: int) -> Iterator[int]:
    """Every start of ``literal`` inside ``text[begin:end]``, ascending."""
    index = text.find(literal, begin, end)
    while index >= 0:
        yield index
        index = text.find(literal, index + 1, end)


def _run_start(text: str, end: int, floor: int, accept: Callable[[str], bool]) -> int:
    """Start of the run of ``accept``-ed characters that ends at ``end``.

    ``floor - 1`` when the run starts before ``floor`` (the walk stops there).
    """
    start = end
    while start >= floor and start > 0 and accept(text[start - 1]):
        start -= 1
    return start


def _is_address_char(char: str) -> bool:
    r"""``[\w.+-]`` of ``re`` (``\w`` is ``str.isalnum`` or ``_``)."""
    return char.isalnum() or char in "_.+-"


def _address_starts(text: str, lower: str, begin: int, end: int) -> Iterator[int]:
    r"""Starts of ``(?<![\w.+-])[\w.+-]+@``: where the run of address characters before an ``@``
    begins (a match can start nowhere else: the lookbehind excludes every run character)."""
    for at in _found(text, "@", begin, end):
        start = _run_start(text, at, begin, _is_address_char)
        if begin <= start < at:
            yield start


def _sip_digits_starts(text: str, at: int, begin: int, longest: int) -> Iterator[int]:
    r"""Starts of ``(?<![\w.+-])(?:sips?:)?\d{,longest}`` whose digits end at ``at``.

    The digits start their run of decimal digits (the lookbehind or the ``:`` before them);
    with a scheme the match starts 4 or 5 characters earlier.
    """
    digits = _run_start(text, at, at - longest, str.isdecimal)
    if digits >= at - longest and digits < at:
        yield from (start for start in (digits - 5, digits - 4, digits) if start >= begin)


def _first(
    pattern: re.Pattern[str],
    sources: Iterable[tuple[str, str, str, tuple[str, ...]]],
    back: int = 64,
    ahead: int = 256,
    starts: Starts | None = None,
) -> tuple[str, str, re.Match[str]] | None:
    """First match of ``pattern`` in the first source that has one (``EventText.candidates``)."""
    for source, text, lower, needles in sources:
        found = _near(pattern, text, lower, needles, back=back, ahead=ahead, starts=starts)
        match = next(found, None)
        if match is not None:
            return source, text, match
    return None


def _labelled(
    pattern: re.Pattern[str], text: str, lower: str, labels: tuple[str, ...], start: int = 0
) -> re.Match[str] | None:
    """The first ``pattern`` match at a label occurrence at or after ``start``."""
    if len(lower) != len(text):
        return pattern.search(text, start)
    for position in _positions(lower, labels):
        if position < start:
            continue
        match = pattern.match(text, position)
        if match is not None:
            return match
    return None


def _query(url: str) -> dict[str, str]:
    return {key.lower(): value for key, value in parse_qsl(urlsplit(url).query)}


def _trim_uri(value: str) -> str:
    return value.rstrip(".,;:!?)]}>'\"")


# --- googlemeetsipguestjoin -------------------------------------------------------------------

_MEET_CODE = re.compile(r"^[a-z]{3}-[a-z]{4}-[a-z]{3}$")
_MEET_LINK = re.compile(
    r"(?<![\w.-])(?:https?://)?(?i:meet\.google\.com|tel\.meet)/([a-z]{3}-[a-z]{4}-[a-z]{3})(?![\w-])"
)
_MEET_NEEDLES = ("meet.google.com/", "tel.meet/")


def _meet_alias(code: str, company_id: str) -> str:
    return f"{code}.{company_id}@google.pexip.me" if company_id else f"{code}@google.pexip.me"


def find_google_meet(settings: TypeSettings, text: EventText) -> Found | Missed:
    """Meet code from conference data, a meet.google.com/<code> or a tel.meet/<code> link."""
    conference = text.event.conference
    code = ""
    source = ""
    if conference is not None and _MEET_CODE.match(conference.id.strip()):
        code, source = conference.id.strip(), "conference data"
    else:
        hit = _first(_MEET_LINK, text.candidates(ALL_SOURCES, _MEET_NEEDLES))
        if hit is not None:
            source, code = hit[0], hit[2].group(1)
    if not code:
        return Missed(detail=f"no Meet code (meet.google.com/xxx-yyyy-zzz) in {_WHERE}")
    alias = _meet_alias(code, settings.company_id)
    return Found(
        alias=alias,
        source=source,
        summary=f"Meet code {code}",
        variables={"meeting_code": code, "company_id": settings.company_id},
    )


# --- hangouts (own Google Meet interop) --------------------------------------------------------


def _hangouts_pattern(domain: str) -> re.Pattern[str]:
    return _cached(
        f"hangouts:{domain}",
        lambda: re.compile(
            r"(?<![\w.+-])(?:sips?:)?(\d{10,13})@(" + re.escape(domain) + r")(?![\w-]|\.\w)",
            re.IGNORECASE,
        ),
    )


def find_hangouts(settings: TypeSettings, text: EventText) -> Found | Missed:
    """Conference SIP entry point, or a 10–13 digit <pin>@<rule domain> in location/body."""
    domain = settings.domain.strip()
    conference = text.event.conference
    if conference is not None:
        for point in conference.entry_points:
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
                    source="conference data",
                    summary=f"SIP entry point {user}@{host}",
                    variables={"meeting_id": user, "domain": target},
                )
    if not domain:
        return Missed(detail="no SIP entry point in conference data (rule has no domain)")
    needles = (f"@{domain.lower()}",)
    hit = _first(_hangouts_pattern(domain), text.candidates(FREE_TEXT, needles), back=20)
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


# --- Teams CVI: conference ID after a tenant address --------------------------------------------

_CONFERENCE_ID = re.compile(
    r"(?i:video\s+conference\s+id|vtc\s+conference\s+id|video\s+id|conference\s+id)"
    r"\s*[:：]?\s*(" + _DIGIT_GROUPS + r")"
)
_CVI_LINES = 3  # the ID label is on the same line or one of the next three


def _conference_id_after(text: str, end: int) -> str | None:
    """The CVI conference ID that follows a tenant address ending at ``end``."""
    limit = end
    for _ in range(_CVI_LINES + 1):
        newline = text.find("\n", limit + 1)
        if newline < 0:
            limit = len(text)
            break
        limit = newline
    match = _CONFERENCE_ID.search(text, end, limit)
    if match is None:
        return None
    return _digits(match.group(1))


def _cvi_hits(
    pattern: re.Pattern[str], sources: Iterable[tuple[str, str, str, tuple[str, ...]]]
) -> Iterable[tuple[str, re.Match[str], str]]:
    """Every tenant address with the conference ID after it, in search order."""
    for source, body, lower, needles in sources:
        for match in _near(
            pattern, body, lower, needles, back=80, ahead=96, starts=_address_starts
        ):
            conference_id = _conference_id_after(body, match.end())
            if conference_id:
                yield source, match, conference_id


_PEXIP_TENANT = re.compile(
    r"(?<![\w.+-])((?:[\w-]+\.)*?)(?i:teams)@((?:[a-z0-9-]+\.)+[a-z0-9-]+)(?![\w-])", re.IGNORECASE
)
_PEXIP_TEAMS_LINK = re.compile(
    r"https?://(?i:pexip\.me)/teams/((?:[a-z0-9-]+\.)+[a-z0-9-]+)/(\d+)", re.IGNORECASE
)
_PEXIP_TEAMS_QUERY = re.compile(r"https?://[a-z0-9.-]+/teams/\?[^\s<>\"']+", re.IGNORECASE)
_OTHER_CVI_HOSTS = ("m.webex.com", "t.plcm.vc")


def find_pexip_teams(settings: TypeSettings, text: EventText) -> Found | Missed:
    """Pexip CVI: teams@<host> + conference ID, or pexip.me/teams/<host>/<id> (or ?conf=&d=)."""
    domain = settings.domain.strip()
    for source, match, conference_id in _cvi_hits(
        _PEXIP_TENANT, text.candidates(ALL_SOURCES, ("teams@",))
    ):
        host = match.group(2)
        if host.lower() in _OTHER_CVI_HOSTS:
            continue
        prefix = match.group(1)
        target = domain or host
        return Found(
            alias=f"{prefix}{conference_id}@{target}",
            source=source,
            summary=f"tenant {prefix}teams@{host}, conference ID {conference_id}",
            variables={
                "conference_id": conference_id,
                "domain": target,
                "host": host,
                "prefix": prefix,
            },
        )
    for source, body, lower, needles in text.candidates(ALL_SOURCES, ("/teams/",)):
        link = next(_near(_PEXIP_TEAMS_LINK, body, lower, needles, back=40), None)
        if link is not None:
            host, conference_id = link.group(1), link.group(2)
            target = domain or host
            return Found(
                alias=f"{conference_id}@{target}",
                source=source,
                summary=f"link pexip.me/teams/{host}/{conference_id}",
                variables={
                    "conference_id": conference_id,
                    "domain": target,
                    "host": host,
                    "prefix": "",
                },
            )
        for query_link in _near(_PEXIP_TEAMS_QUERY, body, lower, needles, back=80, ahead=600):
            params = _query(query_link.group(0))
            conf, host = params.get("conf", ""), params.get("d", "")
            if conf.isdigit() and host and host.lower() not in _OTHER_CVI_HOSTS:
                prefix = params.get("prefix", "")
                target = domain or host
                return Found(
                    alias=f"{prefix}{conf}@{target}",
                    source=source,
                    summary=f"alternate VTC link conf={conf} d={host}",
                    variables={
                        "conference_id": conf,
                        "domain": target,
                        "host": host,
                        "prefix": prefix,
                    },
                )
    return Missed(
        detail="no Pexip CVI tenant (teams@<host>) with a Video Conference ID after it and no "
        f"pexip.me/teams link in {_WHERE}"
    )


_CISCO_TENANT = re.compile(r"(?<![\w.+@-])([\w.+-]+)@(?i:m\.webex\.com)(?![\w-]|\.\w)")


def find_cisco_teams(settings: TypeSettings, text: EventText) -> Found | Missed:
    """Cisco CVI: <tenant_key>@m.webex.com + the conference ID after it."""
    for source, match, conference_id in _cvi_hits(
        _CISCO_TENANT, text.candidates(ALL_SOURCES, ("@m.webex.com",))
    ):
        tenant = match.group(1)
        return Found(
            alias=f"{conference_id}.{tenant}@m.webex.com",
            source=source,
            summary=f"tenant {tenant}@m.webex.com, conference ID {conference_id}",
            variables={"conference_id": conference_id, "tenant_key": tenant},
        )
    return Missed(detail=f"no <tenant>@m.webex.com with a Video Conference ID after it in {_WHERE}")


_POLY_TENANT = re.compile(r"(?<![\w.+@-])([\w.+-]+)@(?i:t\.plcm\.vc)(?![\w-]|\.\w)")
_POLY_LINK = re.compile(r"https?://(?i:dialin\.plcm\.vc)/teams/?\?[^\s<>\"']+")


def find_poly_teams(settings: TypeSettings, text: EventText) -> Found | Missed:
    """Poly CVI: <tenant_key>@t.plcm.vc + conference ID, or dialin.plcm.vc/teams/?key=&conf=."""
    for source, match, conference_id in _cvi_hits(
        _POLY_TENANT, text.candidates(ALL_SOURCES, ("@t.plcm.vc",))
    ):
        tenant = match.group(1)
        return Found(
            alias=f"{tenant}.{conference_id}@t.plcm.vc",
            source=source,
            summary=f"tenant {tenant}@t.plcm.vc, conference ID {conference_id}",
            variables={"conference_id": conference_id, "tenant_key": tenant},
        )
    for source, body, lower, needles in text.candidates(ALL_SOURCES, ("dialin.plcm.vc",)):
        for link in _near(_POLY_LINK, body, lower, needles, back=10, ahead=600):
            params = _query(link.group(0))
            key, conf = params.get("key", ""), params.get("conf", "")
            if key and conf.isdigit():
                return Found(
                    alias=f"{key}.{conf}@t.plcm.vc",
                    source=source,
                    summary=f"link dialin.plcm.vc key={key} conf={conf}",
                    variables={"conference_id": conf, "tenant_key": key},
                )
    return Missed(
        detail="no <tenant>@t.plcm.vc with a Video Conference ID after it and no "
        f"dialin.plcm.vc/teams link in {_WHERE}"
    )


# --- teamssipguestjoin -------------------------------------------------------------------------

_TEAMS_LINK = re.compile(r"https?://(?i:teams\.microsoft\.com|teams\.cloud\.microsoft)/[^\s<>\"']*")
_TEAMS_NEEDLES = ("teams.microsoft.com/", "teams.cloud.microsoft/")
_MEETING_ID = re.compile(r"(?i:meeting\s+id)\s*[:：]?\s*(" + _DIGIT_GROUPS + r")")
_PASSCODE = re.compile(r"(?i:passcode)\s*[:：]?\s*([A-Za-z0-9]+)")
_MEETING_LABELS = ("meeting",)
_PASSCODE_LABELS = ("passcode",)


def find_teams_guest_join(settings: TypeSettings, text: EventText) -> Found | Missed:
    """A Teams join link together with ``Meeting ID`` and ``Passcode``."""
    link_hit = _first(_TEAMS_LINK, text.candidates(ALL_SOURCES, _TEAMS_NEEDLES), back=8)
    if link_hit is None:
        return Missed(detail=f"no teams.microsoft.com / teams.cloud.microsoft link in {_WHERE}")
    link_source, link_text, link = link_hit
    ordered = [(link_source, link_text)] + [
        (source, text.text(source)) for source in FREE_TEXT if source != link_source
    ]
    for source, body in ordered:
        lower = text.lower(source)
        start = link.end() if source == link_source else 0
        meeting = _labelled(_MEETING_ID, body, lower, _MEETING_LABELS, start) or _labelled(
            _MEETING_ID, body, lower, _MEETING_LABELS
        )
        if meeting is None:
            continue
        passcode = _labelled(_PASSCODE, body, lower, _PASSCODE_LABELS, meeting.end()) or _labelled(
            _PASSCODE, body, lower, _PASSCODE_LABELS
        )
        if passcode is None:
            continue
        meeting_id = _digits(meeting.group(1))
        code = passcode.group(1)
        company = f".{settings.company_id}" if settings.company_id else ""
        return Found(
            alias=f"{meeting_id}.{code}{company}@teams.pexip.me",
            source=source,
            summary=f"Teams link, Meeting ID {meeting_id}, Passcode {code}",
            variables={
                "meeting_id": meeting_id,
                "passcode": code,
                "company_id": settings.company_id,
                "join_url": link.group(0),
            },
        )
    return Missed(detail="Teams link found, but no 'Meeting ID' with a 'Passcode' after it")


# --- zoom --------------------------------------------------------------------------------------

_ZOOM = re.compile(
    r"(?i:(?:https?://)?(?:[a-z0-9-]+\.)*(?P<web>zoom\.us|zoomgov\.com)/[jw]/)(?P<link_id>\d{9,11})(?!\d)"
    r"|(?<![\w.+-])(?:(?i:sips?):)?(?P<crc_id>\d{9,11})(?:\.[\w-]+)*@(?P<host>(?i:(?:[a-z0-9-]+\.)*zoomcrc\.com))(?![\w-]|\.\w)"
)
_ZOOM_NEEDLES = ("zoom.us/", "zoomgov.com/", "zoomcrc.com")
_ZOOM_PASSCODE = re.compile(r"(?i:passcode|password)\s*[:：]\s*(\S+)")


def _numeric_passcode(body: str, lower: str) -> str:
    if len(lower) != len(body):
        matches: Iterable[re.Match[str] | None] = _ZOOM_PASSCODE.finditer(body)
    else:
        matches = (
            _ZOOM_PASSCODE.match(body, position)
            for position in _positions(lower, ("passcode", "password"))
        )
    for match in matches:
        if match is None:
            continue
        value = match.group(1).rstrip(".,;")
        if value.isdigit() and value.isascii():
            return value
    return ""


def find_zoom(settings: TypeSettings, text: EventText) -> Found | Missed:
    """Zoom join link (/j/ or /w/ on zoom.us or zoomgov.com) or <id>@[<sub>.]zoomcrc.com."""
    hit = _first(_ZOOM, text.candidates(ALL_SOURCES, _ZOOM_NEEDLES), back=40)
    if hit is None:
        return Missed(detail=f"no Zoom join link or <id>@zoomcrc.com in {_WHERE}")
    source, body, match = hit
    if match.group("link_id"):
        meeting_id, host = match.group("link_id"), "zoomcrc.com"
        summary = f"Zoom link, meeting ID {meeting_id}"
    else:
        meeting_id, host = match.group("crc_id"), match.group("host")
        summary = f"room-system address {meeting_id}@{host}"
    passcode = ""
    conference = text.event.conference
    if conference is not None:
        passcode = next(
            (
                p.passcode or p.pin
                for p in conference.entry_points
                if (p.passcode or p.pin).isdigit()
            ),
            "",
        )
    if not passcode:
        passcode = _numeric_passcode(body, text.lower(source))
    if not passcode:
        for other in FREE_TEXT:
            other_body = text.text(other)
            if other != source and other_body:
                passcode = _numeric_passcode(other_body, text.lower(other))
                if passcode:
                    break
    if settings.include_pin and passcode:
        alias = f"{meeting_id}.{passcode}@{host}"
    else:
        alias = f"{meeting_id}@{host}"
    return Found(
        alias=alias,
        source=source,
        summary=summary + (f", numeric passcode {passcode}" if passcode else ""),
        variables={"meeting_id": meeting_id, "passcode": passcode, "host": host},
    )


# --- webex -------------------------------------------------------------------------------------

_WEBEX = re.compile(
    r"(?<![\w.+-])(?:(?i:sips?):)?(?P<number>\d{6,14})@(?P<site>(?i:[a-z0-9-]+(?:\.[a-z0-9-]+)*))\.(?i:webex\.com)(?![\w-]|\.\w)"
    r"|(?i:https?://)(?P<room_site>(?i:[a-z0-9-]+(?:\.[a-z0-9-]+)*))\.(?i:webex\.com)/(?i:meet)/(?P<user>[\w.+-]*[\w+-])"
)


def _webex_starts(text: str, lower: str, begin: int, end: int) -> list[int]:
    """Where ``_WEBEX`` can start: a scheme or number before an ``@``, or ``http``."""
    starts = list(_found(lower, "http", begin, end))
    for at in _found(text, "@", begin, end):
        starts += _sip_digits_starts(text, at, begin, 14)
    return sorted(set(starts))


def find_webex(settings: TypeSettings, text: EventText) -> Found | Missed:
    """<number>@<site>.webex.com (video address) or a personal room <site>.webex.com/meet/<user>."""
    for source, body, lower, needles in text.candidates(ALL_SOURCES, ("webex.com",)):
        for match in _near(_WEBEX, body, lower, needles, back=100, ahead=120, starts=_webex_starts):
            if match.group("number"):
                site = match.group("site")
                if site.lower() == "m":  # Cisco CVI for Teams, not a Webex site
                    continue
                number = match.group("number")
                return Found(
                    alias=f"{number}@{site}.webex.com",
                    source=source,
                    summary=f"video address {number}@{site}.webex.com",
                    variables={"meeting_number": number, "site": site, "user": ""},
                )
            site, user = match.group("room_site"), match.group("user")
            return Found(
                alias=f"{user}@{site}.webex.com",
                source=source,
                summary=f"personal room {site}.webex.com/meet/{user}",
                variables={"meeting_number": "", "site": site, "user": user},
            )
    return Missed(
        detail=f"no <number>@<site>.webex.com and no <site>.webex.com/meet/<user> in {_WHERE}"
    )


# --- gotomeeting -------------------------------------------------------------------------------

_GOTO_ID = re.compile(r"(?i:meeting\s+id|access\s+code)\s*[:：]?\s*(\d(?:[ \u00a0-]?\d)*)")
_GOTO_LABELS = ("meeting", "access")


def find_gotomeeting(settings: TypeSettings, text: EventText) -> Found | Missed:
    """``inroomlink.goto.com`` together with a ``Meeting ID`` / ``Access Code``."""
    for source, body, lower, _ in text.candidates(FREE_TEXT, ("inroomlink.goto.com",)):
        index = lower.find("inroomlink.goto.com")
        match = _labelled(_GOTO_ID, body, lower, _GOTO_LABELS, index) or _labelled(
            _GOTO_ID, body, lower, _GOTO_LABELS
        )
        if match is None:
            continue
        meeting_id = _digits(match.group(1))
        return Found(
            alias=f"{meeting_id}@inroomlink.goto.com",
            source=source,
            summary=f"inroomlink.goto.com, meeting ID {meeting_id}",
            variables={"meeting_id": meeting_id},
        )
    return Missed(
        detail="no inroomlink.goto.com with a Meeting ID / Access Code in location or body"
    )


# --- Pexip ---------------------------------------------------------------------------------------

_PEXIP_URI = re.compile(r"(?i:pexip)://([^\s<>\"']+)")


def find_pexip_infinity(settings: TypeSettings, text: EventText) -> Found | Missed:
    """``pexip://<alias>``."""
    hit = _first(_PEXIP_URI, text.candidates(ALL_SOURCES, ("pexip://",)), back=0)
    if hit is not None:
        alias = _trim_uri(unquote(hit[2].group(1)))
        if alias:
            return Found(
                alias=alias,
                source=hit[0],
                summary=f"pexip://{alias}",
                variables={"alias": alias},
            )
    return Missed(detail=f"no pexip://<alias> in {_WHERE}")


_PEXIP_SERVICE_LINK = re.compile(r"https?://(?i:pexip\.me)/(?!teams/)([^\s<>\"'?#/]+)")


def _address_pattern(domain: str) -> re.Pattern[str]:
    return _cached(
        f"address:{domain}",
        lambda: re.compile(
            r"(?<![\w.+%-])([\w.+%-]+@" + re.escape(domain) + r")(?![\w-]|\.\w)", re.IGNORECASE
        ),
    )


def find_pexip_service(settings: TypeSettings, text: EventText) -> Found | Missed:
    """``https://pexip.me/<alias>``, or ``<alias>@<rule domain>``."""
    domain = settings.domain.strip()
    hit = _first(_PEXIP_SERVICE_LINK, text.candidates(ALL_SOURCES, ("pexip.me/",)), back=8)
    if hit is not None:
        alias = _trim_uri(unquote(hit[2].group(1)))
        if alias and "@" not in alias:
            alias = f"{alias}@{domain or 'pexip.me'}"
        if alias:
            return Found(
                alias=alias,
                source=hit[0],
                summary=f"link pexip.me/{hit[2].group(1)}",
                variables={"alias": alias},
            )
    if domain:
        needles = (f"@{domain.lower()}",)
        address = _first(_address_pattern(domain), text.candidates(ALL_SOURCES, needles), back=256)
        if address is not None:
            alias = address[2].group(1)
            return Found(
                alias=alias,
                source=address[0],
                summary=f"address {alias}",
                variables={"alias": alias},
            )
    where = f" and no <alias>@{domain}" if domain else ""
    return Missed(detail=f"no https://pexip.me/<alias>{where} in {_WHERE}")


# --- Skype for Business ------------------------------------------------------------------------

_S4B = re.compile(
    r"https?://(?i:meet)\.((?i:[a-z0-9-]+(?:\.[a-z0-9-]+)+))/([\w.@%+-]+)/([A-Za-z0-9]{4,16})(?![\w/-])"
)
_NOT_S4B = ("google.com", "goto.com", "jit.si", "gotomeeting.com")


def find_skype_for_business(settings: TypeSettings, text: EventText) -> Found | Missed:
    """Skype for Business meeting URL ``https://meet.<domain>/<user>/<id>``."""
    for source, body, lower, needles in text.candidates(ALL_SOURCES, ("//meet.",)):
        for match in _near(_S4B, body, lower, needles, back=8, ahead=400):
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
    return Missed(detail=f"no https://meet.<domain>/<user>/<id> in {_WHERE}")


# --- domain --------------------------------------------------------------------------------------


def find_domain(settings: TypeSettings, text: EventText) -> Found | Missed:
    """The first ``user@<rule domain>`` in location or body."""
    domain = settings.domain.strip()
    if not domain:
        return Missed(detail="rule has no domain")
    needles = (f"@{domain.lower()}",)
    hit = _first(_address_pattern(domain), text.candidates(FREE_TEXT, needles), back=256)
    if hit is None:
        return Missed(detail=f"no <user>@{domain} in location or body")
    alias = hit[2].group(1)
    if alias.lower().startswith(("sip:", "sips:", "mailto:")):
        alias = alias.split(":", 1)[1]
    return Found(
        alias=alias,
        source=hit[0],
        summary=f"address {alias}",
        variables={"alias": alias, "domain": domain},
    )


# --- fallback ------------------------------------------------------------------------------------

_FALLBACK = re.compile(r"(?<![\w.+-])(?i:(sips?|h323)):([^\s<>\"',;?]+)")
_FALLBACK_NEEDLES = ("sip:", "sips:", "h323:")


def find_fallback(text: EventText) -> Found | None:
    """``sip:``, ``sips:`` or ``h323:`` in body then location: dial what follows."""
    for source, body, lower, needles in text.candidates((BODY, LOCATION), _FALLBACK_NEEDLES):
        for match in _near(_FALLBACK, body, lower, needles, back=8, ahead=400):
            target = _trim_uri(match.group(2))
            scheme = match.group(1).lower()
            if not valid_call_target(scheme, target):
                continue  # e.g. "sip:(ask reception)": not an address
            protocol = CallProtocol.H323 if scheme == "h323" else CallProtocol.SIP
            return Found(
                alias=target,
                source=source,
                summary=f"{scheme}:{target}",
                variables={"alias": target},
                protocol=protocol,
            )
    return None


# --- registry ------------------------------------------------------------------------------------

_PATTERN_CACHE: dict[str, re.Pattern[str]] = {}


def _cached(key: str, build: Callable[[], re.Pattern[str]]) -> re.Pattern[str]:
    pattern = _PATTERN_CACHE.get(key)
    if pattern is None:
        if len(_PATTERN_CACHE) > 1024:
            _PATTERN_CACHE.clear()
        pattern = _PATTERN_CACHE[key] = build()
    return pattern


def _type(
    name: str,
    platform: Platform,
    finder: Finder | None,
    requires: tuple[str, ...] = (),
    variables: tuple[str, ...] = (),
    **gate: Any,
) -> MeetingType:
    return MeetingType(
        name=name, platform=platform, finder=finder, requires=requires, variables=variables, **gate
    )


_TEAMS_VARIABLES = ("conference_id", "domain", "host", "prefix")
_PEXIP_TEAMS_NEEDLES = ("teams@", "/teams/")

MEETING_TYPES: dict[str, MeetingType] = {
    t.name: t
    for t in (
        _type("googlemeetsipguestjoin", Platform.GOOGLE_MEET, find_google_meet, (),
              ("meeting_code", "company_id"), needles=_MEET_NEEDLES, reads_conference=True),
        _type("hangouts", Platform.GOOGLE_MEET, find_hangouts, ("domain",),
              ("meeting_id", "domain")),
        _type("teams", Platform.MICROSOFT_TEAMS, find_pexip_teams, (), _TEAMS_VARIABLES,
              needles=_PEXIP_TEAMS_NEEDLES),
        _type("pexipinfinityteamsbody", Platform.MICROSOFT_TEAMS, find_pexip_teams, (),
              _TEAMS_VARIABLES, needles=_PEXIP_TEAMS_NEEDLES),
        _type("pexipserviceteamsbody", Platform.MICROSOFT_TEAMS, find_pexip_teams, (),
              _TEAMS_VARIABLES, needles=_PEXIP_TEAMS_NEEDLES),
        _type("ciscoteamsbody", Platform.MICROSOFT_TEAMS, find_cisco_teams, (),
              ("conference_id", "tenant_key"), needles=("@m.webex.com",)),
        _type("polyteamsbody", Platform.MICROSOFT_TEAMS, find_poly_teams, (),
              ("conference_id", "tenant_key"), needles=("@t.plcm.vc", "dialin.plcm.vc")),
        _type("teamssipguestjoin", Platform.MICROSOFT_TEAMS, find_teams_guest_join, (),
              ("meeting_id", "passcode", "company_id", "join_url"), needles=_TEAMS_NEEDLES),
        _type("zoom", Platform.ZOOM, find_zoom, (), ("meeting_id", "passcode", "host"),
              needles=_ZOOM_NEEDLES),
        _type("webex", Platform.WEBEX, find_webex, (), ("meeting_number", "site", "user"),
              needles=("webex.com",)),
        _type("gotomeeting", Platform.OTHER, find_gotomeeting, (), ("meeting_id",),
              needles=("inroomlink.goto.com",), needle_sources=FREE_TEXT),
        _type("pexipinfinity", Platform.OTHER, find_pexip_infinity, (), ("alias",),
              needles=("pexip://",)),
        _type("pexipservice", Platform.OTHER, find_pexip_service, (), ("alias",),
              needles=("pexip.me/",), domain_search=True),
        _type("s4b", Platform.OTHER, find_skype_for_business, (),
              ("conference_id", "domain", "user"), needles=("//meet.",)),
        _type("polys4bbody", Platform.OTHER, find_skype_for_business, (),
              ("conference_id", "domain", "user"), needles=("//meet.",)),
        _type("domain", Platform.OTHER, find_domain, ("domain",), ("alias", "domain")),
        _type("regex", Platform.OTHER, None, ("match_string",), ("match", "groups")),
        _type("regex_re2", Platform.OTHER, None, ("match_string",), ("match", "groups")),
        _type("custom", Platform.OTHER, None, ("custom_template",), ()),
    )
}  # fmt: skip

_PLATFORM_HOSTS: tuple[tuple[str, Platform], ...] = (
    ("google.pexip.me", Platform.GOOGLE_MEET),
    ("meet.google.com", Platform.GOOGLE_MEET),
    ("teams.pexip.me", Platform.MICROSOFT_TEAMS),
    ("t.plcm.vc", Platform.MICROSOFT_TEAMS),
    ("m.webex.com", Platform.MICROSOFT_TEAMS),
    ("zoomcrc.com", Platform.ZOOM),
    ("zoom.us", Platform.ZOOM),
    ("zoomgov.com", Platform.ZOOM),
    ("webex.com", Platform.WEBEX),
)


def platform_of(alias: str) -> Platform:
    """Infer the platform from the alias host (custom templates, fallback)."""
    host = alias.rpartition("@")[2].lower().strip()
    for suffix, platform in _PLATFORM_HOSTS:
        if host == suffix or host.endswith("." + suffix):
            return platform
    return Platform.OTHER
