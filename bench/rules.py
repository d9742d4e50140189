# ruff: noqa: E501  (HTML fixtures are long lines)
"""Benchmark of the meeting processing rule engine against its floor, measured in one run.

Corpus: generated events with 2–20 KB HTML bodies written the way Outlook (Word HTML with a
``<style>`` block, ``MsoNormal`` paragraphs, Safe Links-wrapped links) and Google Calendar
(nested tables/divs, ``itemprop`` spans) write them, covering every built-in meeting type plus
no-video meetings and ``sip:`` fallbacks. Rule set: 10 rules including the product
documentation's custom SIP Guest Join template.

OURS: ``RuleSet.process`` per event (HTML → text with link targets, link unwrapping, every
rule until the first match, privacy, trace). FLOOR, printed beside it for context: parse the
same HTML with the same parser (selectolax/Lexbor) to text and run one compiled regex over it.
Both are timed on the same 50-event slices back to back (rotating the order), single-threaded,
in several passes; events/s per core are min/median/max over the passes, in CPU time (robust
against other processes on this shared machine). The requirement is ≥ 2,000 events/s per core.

Usage: ``./dev bench rules [--events N] [--seed S] [--repeats R]``.
"""

from __future__ import annotations

import argparse
import random
import re
import resource
import statistics
import sys
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from selectolax.lexbor import LexborHTMLParser

from calendars.base import CalendarEvent
from otj.model import MeetingRule, Profile
from otj.rules import RuleSet

NOW = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)

SEED_TEMPLATE = """{% set sipJoin = pex_regex_search("https:\\/\\/meet\\.google\\.com\\/([a-z\\-]+)", calendar_event.body) %}
{% set sipMatch = pex_regex_search("sip:([0-9]+@[a-z\\-.]+)", calendar_event.body) %}

{% if sipMatch %}
{{sipMatch[0]}}
{% elif sipJoin %}
{{sipJoin[0]}}@google.pexip.me
{% endif %}
"""

RULES = [
    MeetingRule(name="Pexip VMR", priority=10, meeting_type="pexipinfinity"),
    MeetingRule(name="Teams via Pexip CVI", priority=20, meeting_type="teams", domain="vc.example.com"),
    MeetingRule(name="Teams via Cisco CVI", priority=21, meeting_type="ciscoteamsbody"),
    MeetingRule(name="Teams via Poly CVI", priority=22, meeting_type="polyteamsbody"),
    MeetingRule(name="Teams SIP Guest Join", priority=30, meeting_type="teamssipguestjoin"),
    MeetingRule(name="Zoom", priority=40, meeting_type="zoom", include_pin=True),
    MeetingRule(name="Webex", priority=41, meeting_type="webex"),
    MeetingRule(name="GoTo", priority=42, meeting_type="gotomeeting"),
    MeetingRule(name="SIP Guest Join (template)", priority=45, meeting_type="custom",
                custom_template=SEED_TEMPLATE),
    MeetingRule(name="Google Meet SIP Guest Join", priority=50, meeting_type="googlemeetsipguestjoin"),
]  # fmt: skip

FLOOR_REGEX = re.compile(r"meet\.google\.com/([a-z]{3}-[a-z]{4}-[a-z]{3})")

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
    conf_spaced = f"{conf[:3]} {conf[3:6]} {conf[6:9]} {conf[9:]}"
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
    expected: str | None
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
    elif kind == "teams_sgj":
        expected = f"{meeting_id.replace(' ', '')}.{passcode}@teams.pexip.me"
    elif kind == "zoom":
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
    return OUTLOOK_HEAD + filler[:cut] + body + filler[cut:] + OUTLOOK_TAIL, expected


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


def floor(event: CalendarEvent) -> object:
    """Parse the HTML to text with the same parser and run one compiled regex over it."""
    text = LexborHTMLParser(event.body_html).body.text()  # type: ignore[union-attr]
    return FLOOR_REGEX.search(text)


Side = Callable[[Sequence[CalendarEvent]], object]
"""A side of the comparison: processes one slice of the corpus."""


def _timed(side: Side, chunk: Sequence[CalendarEvent]) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    side(chunk)
    return time.perf_counter() - wall, time.process_time() - cpu


def _measure(sides: Sequence[Side], events: Sequence[CalendarEvent], slices: int) -> list[float]:
    """One pass over the corpus: [wall, CPU] seconds per side, flattened.

    The corpus is cut into ``slices`` slices, each timed for every side back to back, rotating
    which goes first, so that load from other processes and cache warmth fall on all alike.
    """
    step = (len(events) + slices - 1) // slices
    totals = [0.0] * (2 * len(sides))
    for number, begin in enumerate(range(0, len(events), step)):
        chunk = events[begin : begin + step]
        shift = number % len(sides)
        for index in [*range(shift, len(sides)), *range(shift)]:
            wall, cpu = _timed(sides[index], chunk)
            totals[2 * index] += wall
            totals[2 * index + 1] += cpu
    return totals


def _floor_side(chunk: Sequence[CalendarEvent]) -> object:
    return [floor(event) for event in chunk]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=20250303)
    parser.add_argument(
        "--slices", type=int, default=0, help="interleaved slices (default: 50 events each)"
    )
    parser.add_argument("--repeats", type=int, default=3, help="timed passes over the corpus")
    args = parser.parse_args(argv)

    events = corpus(args.events, args.seed)
    sizes = [len(e.body_html) for e, _ in events]
    ruleset = RuleSet.compile(RULES)
    profile = Profile(name="bench")

    def ours(chunk: Sequence[CalendarEvent]) -> object:
        return [ruleset.process(event, profile, now=NOW) for event in chunk]

    # correctness first; it also warms both sides (imports, caches, allocator)
    wrong: Counter[str] = Counter()
    plain = [event for event, _ in events]
    for event, expected in events:
        meeting = ruleset.process(event, profile, now=NOW)
        if meeting.alias != expected:
            wrong[event.subject.split()[0]] += 1
    _floor_side(plain)

    slices = args.slices or max(1, len(plain) // 50)
    slices = max(1, min(slices, len(plain)))
    runs = [_measure((ours, _floor_side), plain, slices) for _ in range(max(1, args.repeats))]

    tracemalloc.start()
    for event in plain[: min(1000, len(plain))]:
        ruleset.process(event, profile, now=NOW)
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    max_rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    count = len(events)
    print(
        f"corpus: {count} events, HTML bodies {min(sizes)}–{max(sizes)} chars "
        f"(mean {sum(sizes) / count:.0f}), {len(KINDS)} kinds, {len(RULES)} rules"
    )
    print(
        f"correct aliases: {count - sum(wrong.values())}/{count}"
        + (f"  WRONG: {dict(wrong)}" if wrong else "")
    )
    print(f"timing: {len(runs)} passes, {slices} slices of ~{count // slices} events each")
    print(
        "  ours = RuleSet.process per event; floor = parse + text + one regex per event "
        "(context, not a target)"
    )

    def spread(values: list[float], digits: int) -> str:
        values = sorted(values)
        return (
            f"min {values[0]:.{digits}f} median {statistics.median(values):.{digits}f} "
            f"max {values[-1]:.{digits}f}"
        )

    print(
        f"ours  events/s per core (CPU): {spread([count / run[1] for run in runs], 0)}; "
        f"µs/event {spread([run[1] / count * 1e6 for run in runs], 1)}"
    )
    print(
        f"floor events/s per core (CPU): {spread([count / run[3] for run in runs], 0)}; "
        f"µs/event {spread([run[3] / count * 1e6 for run in runs], 1)}"
    )
    print(
        f"peak memory: {max_rss_kib / 1024:.1f} MiB max RSS (whole process incl. corpus), "
        f"{traced_peak / 1024:.0f} KiB traced peak while processing 1000 events"
    )
    return 1 if wrong else 0


if __name__ == "__main__":
    raise SystemExit(main())
