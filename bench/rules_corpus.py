# ruff: noqa: E501  (HTML fixtures are long lines)
"""The corpus of ``bench/rules.py``: invitations the way Outlook (Word HTML with SafeLinks)
and Google Calendar write them, for each meeting type the rules know, with 2–20 KB bodies,
and the alias each must produce. Deterministic for a seed."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from calendars.base import CalendarEvent

WORDS = [
    "agenda",
    "review",
    "quarterly",
    "roadmap",
    "budget",
    "hiring",
    "onboarding",
    "customer",
    "escalation",
    "design",
    "security",
    "compliance",
    "migration",
    "release",
    "planning",
    "retrospective",
    "metrics",
    "incident",
    "vendor",
    "contract",
    "partner",
    "pricing",
    "forecast",
    "infrastructure",
    "latency",
    "capacity",
    "rollout",
    "feedback",
]

OUTLOOK_HEAD = """<html xmlns:v="urn:schemas-microsoft-com:vml" xmlns:o="urn:schemas-microsoft-com:office:office" xmlns:w="urn:schemas-microsoft-com:office:word" xmlns="http://www.w3.org/TR/REC-html40">
<head><meta http-equiv="Content-Type" content="text/html; charset=utf-8"><meta name="Generator" content="Microsoft Word 15 (filtered medium)">
<style><!--
@font-face {font-family:"Cambria Math"; panose-1:2 4 5 3 5 4 6 3 2 4;}
@font-face {font-family:Calibri; panose-1:2 15 5 2 2 2 4 3 2 4;}
@font-face {font-family:"Segoe UI"; panose-1:2 11 5 2 4 2 4 2 2 3;}
p.MsoNormal, li.MsoNormal, div.MsoNormal {margin:0in; font-size:11.0pt; font-family:"Calibri",sans-serif;}
a:link, span.MsoHyperlink {mso-style-priority:99; color:#0563C1; text-decoration:underline;}
span.EmailStyle17 {mso-style-type:personal-compose; font-family:"Calibri",sans-serif; color:windowtext;}
.MsoChpDefault {mso-style-type:export-only; font-family:"Calibri",sans-serif;}
@page WordSection1 {size:8.5in 11.0in; margin:1.0in 1.0in 1.0in 1.0in;}
div.WordSection1 {page:WordSection1;}
--></style><!--[if gte mso 9]><xml><o:shapedefaults v:ext="edit" spidmax="1026" /></xml><![endif]-->
</head>
<body lang="EN-US" link="#0563C1" vlink="#954F72" style="word-wrap:break-word"><div class="WordSection1">
"""
OUTLOOK_TAIL = "</div></body></html>"


def _safelink(url: str, rng: random.Random) -> str:
    from urllib.parse import quote

    region = rng.choice(["eur01", "eur02", "nam06", "nam12", "apc01"])
    data = "05%7C02%7Croom%40example.com%7C" + "".join(rng.choices("0123456789abcdef", k=32))
    return (
        f"https://{region}.safelinks.protection.outlook.com/?url={quote(url, safe='')}"
        f"&amp;data={data}&amp;sdata=abc{rng.randint(1000, 9999)}%3D&amp;reserved=0"
    )


def _outlook_paragraph(text: str) -> str:
    return f'<p class="MsoNormal"><span style="font-size:10.5pt;font-family:&quot;Segoe UI&quot;,sans-serif;color:#252424">{text}<o:p></o:p></span></p>\n'


def _outlook_link(url: str, label: str, rng: random.Random, wrap: bool) -> str:
    href = _safelink(url, rng) if wrap else url
    return f'<a href="{href}" target="_blank"><span style="color:#6264A7">{label}</span></a>'


def _filler(rng: random.Random, paragraph: Callable[[str], str], size: int, links: bool) -> str:
    parts: list[str] = []
    total = 0
    while total < size:
        sentence = " ".join(rng.choices(WORDS, k=rng.randint(8, 24))).capitalize() + "."
        if links and rng.random() < 0.3:
            url = f"https://wiki.example.com/{rng.choice(WORDS)}/{rng.randint(100, 999)}"
            sentence += f' See <a href="{_safelink(url, rng)}">the {rng.choice(WORDS)} page</a>.'
        piece = paragraph(sentence)
        parts.append(piece)
        total += len(piece)
    return "".join(parts)


def _google_html(inner: str, rng: random.Random, size: int) -> str:
    head = (
        '<span itemscope itemtype="http://schema.org/InformAction"><span style="display:none" '
        'itemprop="about" itemscope itemtype="http://schema.org/Person"><meta itemprop="description" '
        'content="Invitation from organizer@example.com"/></span><span itemprop="object" itemscope '
        'itemtype="http://schema.org/Event"><div style=""><table cellspacing="0" cellpadding="8" '
        'border="0" summary="" style="width:100%;font-family:Arial,Sans-serif;border:1px Solid #ccc;">'
        '<tr><td><div style="padding:2px"><span itemprop="publisher" itemscope '
        'itemtype="http://schema.org/Organization"><meta itemprop="name" content="Google Calendar"/>'
        '</span></div><h3 style="padding:0 0 6px 0;margin:0;font-family:Arial,Sans-serif;font-size:'
        '16px;font-weight:bold;color:#222"><span itemprop="name">Weekly sync</span></h3>'
    )

    def row(label: str, value: str) -> str:
        return (
            f'<tr><td style="padding:0 1em 10px 0;font-family:Arial,Sans-serif;font-size:13px;'
            f'color:#888;white-space:nowrap;width:90px" valign="top"><div><i style="font-style:'
            f'normal">{label}</i></div></td><td style="padding-bottom:10px;font-family:Arial,'
            f'Sans-serif;font-size:13px;color:#222" valign="top">{value}</td></tr>'
        )

    table = (
        '<table cellpadding="0" cellspacing="0" border="0" summary="Event details">'
        + row("When", "Tue Mar 4, 2025 10am – 11am Central European Time - Oslo")
        + row("Joining info", inner)
        + row("Calendar", "fjord@resource.example.com")
        + "</table>"
    )

    def div(text: str) -> str:
        return f'<div style="font-family:Arial,Sans-serif;font-size:13px;color:#222">{text}</div>'

    tail = "</td></tr></table></div></span></span>"
    filler = _filler(rng, div, max(0, size - len(head) - len(table) - len(tail)), links=False)
    return head + table + filler + tail


def _make(kind: str, rng: random.Random, size: int) -> tuple[str, str | None]:
    """One body of ``kind`` around ``size`` characters and the alias the rules must produce."""
    n = rng.randint
    code = "-".join("".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=k)) for k in (3, 4, 3))
    wrap = rng.random() < 0.5
    if kind == "meet":
        inner = (
            f'<div><a href="https://meet.google.com/{code}?hs=224" style="color:#1a73e8">'
            f"Join with Google Meet</a></div><div>meet.google.com/{code}</div>"
            f'<div>Join by phone <a href="tel:+1-929-555-0142;{n(100000000, 999999999)}#">'
            "(US) +1 929-555-0142</a></div>"
        )
        return _google_html(inner, rng, size), f"{code}@google.pexip.me"
    if kind == "sip_meet":
        number = str(n(10**12, 10**13 - 1))
        inner = (
            f'<div><a href="https://meet.google.com/{code}">Join with Google Meet</a></div>'
            f"<div>Join from a video conferencing device: sip:{number}@gmeet.example.com</div>"
        )
        return _google_html(inner, rng, size), f"{number}@gmeet.example.com"
    blocks, expected = _outlook_blocks(kind, rng, wrap)
    return _outlook_html(blocks, rng, size), expected


def _outlook_blocks(kind: str, rng: random.Random, wrap: bool) -> tuple[list[str], str | None]:
    """The paragraphs of an Outlook invitation of ``kind`` and the alias they must produce
    (a Teams meeting's details are drawn for every kind: the generator's sequence is fixed)."""
    n = rng.randint
    teams_link = (
        "https://teams.microsoft.com/l/meetup-join/19%3ameeting_"
        + "".join(
            rng.choices("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", k=40)
        )
        + "%40thread.v2/0?context=%7b%22Tid%22%3a%2272f9%22%7d"
    )
    meeting_id = f"{n(100, 999)} {n(100, 999)} {n(100, 999)} {n(100, 999)}"
    passcode = "".join(
        rng.choices("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789", k=6)
    )
    conf = str(n(10**9, 10**10 - 1))
    blocks: list[str] = [
        _outlook_paragraph('<span style="color:gray">' + "_" * 80 + "</span>"),
        _outlook_paragraph(
            '<b><span style="font-size:18pt;color:#252424">Microsoft Teams meeting</span></b>'
        ),
        _outlook_paragraph("Join on your computer, mobile app or room device"),
        _outlook_paragraph(_outlook_link(teams_link, "Click here to join the meeting", rng, False)),
        _outlook_paragraph(f"Meeting ID: {meeting_id}"),
        _outlook_paragraph(f"Passcode: {passcode}"),
    ]
    if kind.startswith("teams_"):
        return _teams_blocks(kind, blocks, rng, wrap, meeting_id, passcode, conf)
    return _other_blocks(kind, rng, wrap)


def _teams_blocks(
    kind: str,
    blocks: list[str],
    rng: random.Random,
    wrap: bool,
    meeting_id: str,
    passcode: str,
    conf: str,
) -> tuple[list[str], str | None]:
    """A Teams invitation's ``blocks`` with the video-device section of ``kind``."""
    conf_spaced = f"{conf[:3]} {conf[3:6]} {conf[6:9]} {conf[9:]}"
    expected: str
    if kind == "teams_pexip":
        blocks += [
            _outlook_paragraph("Join with a video conferencing device"),
            _outlook_paragraph("teams@vc.example.com"),
            _outlook_paragraph(f"Video Conference ID: {conf_spaced}"),
            _outlook_paragraph(
                _outlook_link(
                    f"https://pexip.me/teams/vc.example.com/{conf}",
                    "Alternate VTC instructions",
                    rng,
                    wrap,
                )
            ),
        ]
        expected = f"{conf}@vc.example.com"
    elif kind == "teams_cisco":
        blocks += [
            _outlook_paragraph("Join with a video conferencing device"),
            _outlook_paragraph('<a href="mailto:acme@m.webex.com">acme@m.webex.com</a>'),
            _outlook_paragraph(f"Video Conference ID: {conf_spaced}"),
        ]
        expected = f"{conf}.acme@m.webex.com"
    elif kind == "teams_poly":
        blocks += [
            _outlook_paragraph("Join with a video conferencing device"),
            _outlook_paragraph(
                f'<a href="mailto:813878896@t.plcm.vc">813878896@t.plcm.vc</a> VTC Conference ID: {conf}'
            ),
        ]
        expected = f"813878896.{conf}@t.plcm.vc"
    else:  # teams_sgj
        expected = f"{meeting_id.replace(' ', '')}.{passcode}@teams.pexip.me"
    return blocks, expected


def _other_blocks(kind: str, rng: random.Random, wrap: bool) -> tuple[list[str], str | None]:
    """The paragraphs of a Zoom, Webex, GoTo, Pexip, fallback or no-video invitation."""
    n = rng.randint
    expected: str | None
    if kind == "zoom":
        zid = str(n(10**9, 10**10 - 1) * 10 + n(0, 9))
        pin = str(n(100000, 999999))
        blocks = [
            _outlook_paragraph("Carol Jensen is inviting you to a scheduled Zoom meeting."),
            _outlook_paragraph("Join Zoom Meeting"),
            _outlook_paragraph(
                _outlook_link(
                    f"https://us02web.zoom.us/j/{zid}?pwd=Zz9abcDEF1.1",
                    f"https://us02web.zoom.us/j/{zid}?pwd=Zz9abcDEF1.1",
                    rng,
                    wrap,
                )
            ),
            _outlook_paragraph(f"Meeting ID: {zid[:3]} {zid[3:7]} {zid[7:]}"),
            _outlook_paragraph("Passcode: acme"),
            _outlook_paragraph(f"+16699009128,,{zid}#,,,,,,0#,,{pin}# US (San Jose)"),
            _outlook_paragraph(f"Passcode: {pin}"),
        ]
        expected = f"{zid}.{pin}@zoomcrc.com"
    elif kind == "webex":
        number = str(n(10**10, 10**11 - 1))
        blocks = [
            _outlook_paragraph("JOIN WEBEX MEETING"),
            _outlook_paragraph(
                _outlook_link(
                    "https://acme.webex.com/acme/j.php?MTID=m1a2b3c", "Join meeting", rng, wrap
                )
            ),
            _outlook_paragraph(
                f"Meeting number (access code): {number[:4]} {number[4:7]} {number[7:]}"
            ),
            _outlook_paragraph("JOIN FROM A VIDEO SYSTEM OR APPLICATION"),
            _outlook_paragraph(
                f'Dial <a href="sip:{number}@acme.webex.com">{number}@acme.webex.com</a>'
            ),
        ]
        expected = f"{number}@acme.webex.com"
    elif kind == "goto":
        gid = str(n(100000000, 999999999))
        blocks = [
            _outlook_paragraph("Please join my meeting from your computer, tablet or smartphone."),
            _outlook_paragraph(
                _outlook_link(
                    f"https://meet.goto.com/{gid}", f"https://meet.goto.com/{gid}", rng, wrap
                )
            ),
            _outlook_paragraph("Join from a video-conferencing room or system."),
            _outlook_paragraph("Dial in or type: 67.217.95.2 or inroomlink.goto.com"),
            _outlook_paragraph(f"Meeting ID: {gid[:3]} {gid[3:6]} {gid[6:]}"),
        ]
        expected = f"{gid}@inroomlink.goto.com"
    elif kind == "pexip":
        blocks = [_outlook_paragraph("Join from a video system: pexip://meet.bob@vc.example.com")]
        expected = "meet.bob@vc.example.com"
    elif kind == "fallback":
        blocks = [
            _outlook_paragraph(
                f"Dial sips:bridge-{n(10, 99)}@partner.example.net from your room system"
            )
        ]
        expected = blocks[0].split("sips:")[1].split(" ")[0]
    else:  # no video
        blocks = [_outlook_paragraph("Coffee and cake in the kitchen. No call.")]
        expected = None
    return blocks, expected


def _outlook_html(blocks: list[str], rng: random.Random, size: int) -> str:
    """The blocks inside Word HTML, at a random paragraph break of filler up to ``size``."""
    body = "".join(blocks)
    filler = _filler(
        rng,
        _outlook_paragraph,
        max(0, size - len(OUTLOOK_HEAD) - len(body) - len(OUTLOOK_TAIL)),
        links=True,
    )
    split = rng.randint(0, len(filler))
    cut = filler.rfind("</p>\n", 0, split)
    cut = 0 if cut < 0 else cut + 5
    return OUTLOOK_HEAD + filler[:cut] + body + filler[cut:] + OUTLOOK_TAIL


KINDS = ("meet", "sip_meet", "teams_pexip", "teams_cisco", "teams_poly", "teams_sgj", "zoom",
         "webex", "goto", "pexip", "fallback", "none")  # fmt: skip


def corpus(count: int, seed: int) -> list[tuple[CalendarEvent, str | None]]:
    """``count`` events with 2–20 KB HTML bodies and the alias each must produce."""
    rng = random.Random(seed)
    events = []
    start = datetime(2025, 3, 4, 9, 0, tzinfo=UTC)
    for index in range(count):
        kind = KINDS[index % len(KINDS)]
        html, expected = _make(kind, rng, rng.randint(2_000, 20_000))
        event = CalendarEvent(
            id=f"bench-{index}",
            room="fjord@resource.example.com",
            subject=f"{kind} meeting {index}",
            body_html=html,
            organizer_name="Ana Silva",
            organizer_email="ana@example.com",
            start=start + timedelta(minutes=30 * index),
            end=start + timedelta(minutes=30 * index + 30),
        )
        events.append((event, expected))
    return events
