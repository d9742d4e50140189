# ruff: noqa: E501  (template tables)
"""Hostile invitations end quickly and in bounded memory (issue 12 §5).

HTML shapes that keep an HTML5 parser busy (deep nesting, millions of unclosed tags, a 40 MB
body) and templates that try to allocate gigabytes or run past their budget in one operation.
Each runs through ``RuleSet.process`` with a rule set of every built-in type and must end within
two seconds, with the trace saying what was cut or why the template failed.
"""

from __future__ import annotations

import time
import tracemalloc

import pytest

from otj.model import Meeting, Profile, ReplaceSubject
from otj.rules.html import MAX_DEPTH, MAX_HTML_CHARS, html_to_text
from otj.rules.text import MAX_TEXT_CHARS
from tests.unit.rules.helpers import process, rule

ZOOM = "https://acme.zoom.us/j/8063787231"
EVERY_TYPE = [
    rule("pexipinfinity", priority=1),
    rule("teams", priority=2, domain="vc.example.com"),
    rule("ciscoteamsbody", priority=3),
    rule("polyteamsbody", priority=4),
    rule("teamssipguestjoin", priority=5),
    rule("webex", priority=6),
    rule("gotomeeting", priority=7),
    rule("googlemeetsipguestjoin", priority=8),
    rule("s4b", priority=9),
    rule("zoom", priority=10),
]

HTML_SHAPES = {
    "200,000 nested divs (2 MB)": "<div>" * 200_000 + "x" + "</div>" * 200_000,
    "3 MB of unclosed <b>": "<b>" * 1_000_000,
    "3 MB of unclosed mixed inline tags": "<b><i><span><font><a href='x'>" * 100_000,
    "3 MB of unclosed table cells": "<table><tr><td>" * 200_000,
    "nested lists": "<ul><li>" * 300_000,
    "700,000 unclosed paragraphs": "<p>x" * 700_000,
    "40 MB body": "<p>" + "word " * 8_000_000 + "</p>",
}


def timed(**fields: object) -> tuple[Meeting, float]:
    started = time.monotonic()
    meeting = process(EVERY_TYPE, **fields)
    return meeting, time.monotonic() - started


@pytest.mark.parametrize("shape", list(HTML_SHAPES))
def test_hostile_html_ends_quickly_and_the_link_before_it_still_dials(shape: str) -> None:
    meeting, elapsed = timed(
        body_html=f"<p>Join Zoom Meeting <a href='{ZOOM}'>{ZOOM}</a></p>" + HTML_SHAPES[shape]
    )
    assert elapsed < 2.0, f"{shape}: {elapsed:.2f} s"
    assert meeting.alias == "8063787231@zoomcrc.com"
    assert meeting.trace[0].rule == "body"
    assert "were converted" in meeting.trace[0].detail or "were ignored" in meeting.trace[0].detail


def test_the_trace_says_how_much_of_a_huge_body_was_read() -> None:
    html = "<p>" + "agenda " * (MAX_HTML_CHARS // 7) + f"</p><p><a href='{ZOOM}'>Join</a></p>"
    meeting, elapsed = timed(body_html=html)
    assert elapsed < 2.0
    assert meeting.alias is None  # the link lies beyond the cut
    assert meeting.trace[0].detail == (
        f"the HTML body has {len(html):,} characters: only the first "
        f"{MAX_HTML_CHARS:,} were converted to text"
    )


def test_deep_nesting_keeps_its_text_and_says_what_was_ignored() -> None:
    html = "<div>" * 5000 + "Join " + ZOOM + "</div>" * 5000
    assert html_to_text(html) == f"Join {ZOOM}"
    meeting, _ = timed(body_html=html)
    assert meeting.alias == "8063787231@zoomcrc.com"
    assert (
        meeting.trace[0].detail
        == f"{5000 - MAX_DEPTH:,} tags nested deeper than {MAX_DEPTH} levels were ignored"
    )


def test_a_40_mb_plain_body_is_cut_and_bounded() -> None:
    body = f"Join {ZOOM}\n" + "word " * 8_000_000
    meeting, elapsed = timed(body=body, location="x" * 3_000_000)
    assert elapsed < 2.0
    assert meeting.alias == "8063787231@zoomcrc.com"
    assert f"only the first {MAX_TEXT_CHARS:,} were read" in meeting.trace[0].detail
    assert "the location has 3,000,000 characters" in meeting.trace[0].detail


BODY = "Agenda: " + "review the roadmap and budget " * 13_000  # ~380 KB, under every cap
TEMPLATE_SHAPES = [
    "{{ [calendar_event.body] * 1000 }}",
    "{{ ([calendar_event.body] * 100)|pex_to_json }}",
    "{{ ([calendar_event.body] * 11)|join }}",
    "{{ calendar_event.body.split() * 100 }}",
    "{{ '%s' % ([calendar_event.body] * 11) }}",
    "{% set l = [calendar_event.body] * 8 %}{{ l + l }}",
    "{{ [calendar_event] * 100000 }}",
    "{{ calendar_event.body|replace('a', calendar_event.body) }}",
    "{{ range(100000)|join(calendar_event.body) }}",
    "{{ calendar_event.body|pex_regex_replace('(a)', calendar_event.body) }}",
    "{{ ([calendar_event.body] * 10)|lower }}",
    "{{ ([calendar_event.body] * 10, [calendar_event.body] * 10)|pex_hash }}",
    "{% set ns = namespace(l=[calendar_event.body]) %}{% for i in range(30) %}{% set ns.l = ns.l + ns.l %}{% endfor %}",
    "{% set ns = namespace(x=2 ** 4000) %}{% for i in range(40) %}{% set ns.x = ns.x * ns.x %}{% endfor %}",
    "{% for i in range(100000) %}{% set x = calendar_event.body.upper() %}{% endfor %}",
    "{% for w in calendar_event.body.split() %}{% set x = calendar_event.body.count(w) %}{% endfor %}",
]


@pytest.mark.parametrize("source", TEMPLATE_SHAPES)
def test_hostile_template_is_bounded_in_time_and_memory(source: str) -> None:
    rules = [
        rule("custom", name="hostile", priority=1, custom_template=source),
        rule("zoom", name="zoom", priority=2),
    ]
    tracemalloc.start()
    try:
        started = time.monotonic()
        meeting = process(rules, body=BODY + f"\n{ZOOM}")
        elapsed = time.monotonic() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert elapsed < 2.0, f"{elapsed:.2f} s"
    assert peak < 64 << 20, f"peak {peak >> 20} MiB"
    assert meeting.trace[0].outcome == "error", meeting.trace[0]
    assert meeting.rule == "zoom"


# --- what rules make is clean: dial strings refuse control characters, traces show them ---------


@pytest.mark.parametrize(
    ("made_by", "fields", "named"),
    [
        ("template", {"custom_template": '{{ "abc\\x00def@vc.example.com" }}'}, "template"),
        (
            "transform_rule",
            {
                "meeting_type": "zoom",
                "default_processing_enabled": False,
                "transform_rule": '{{ default_alias }}{{ "\\x07" }}',
            },
            "transform_rule",
        ),
        (
            "regex replacement",
            {
                "meeting_type": "regex",
                "match_string": r"room (\d+)",
                "replace_string": r"\0\1@x.com",
            },
            "replace_string",
        ),
    ],
)
def test_a_dial_string_with_a_control_character_fails_the_rule_and_says_which(
    made_by: str, fields: dict[str, object], named: str
) -> None:
    values: dict[str, object] = {"meeting_type": "custom", **fields}
    meeting_type = str(values.pop("meeting_type"))
    broken = rule(meeting_type, name="broken", priority=1, **values)  # type: ignore[arg-type]
    meeting = process([broken], body=f"room 42 {ZOOM}")
    assert meeting.alias is None, made_by
    step = next(step for step in meeting.trace if step.rule == "broken")
    assert step.outcome == "error"
    assert f"{named} output contains \\x" in step.detail
    assert step.detail.isprintable()


def test_template_debug_output_and_errors_show_control_characters_escaped() -> None:
    debugging = rule(
        "custom",
        name="debugging",
        priority=1,
        custom_template='{{ pex_debug_log("a\\x00b") }}{{ "" }}',
    )
    failing = rule("custom", name="failing", priority=2, custom_template='{{ "x" + 1 }}')
    meeting = process([debugging, failing], subject="Weekly")
    details = [step.detail for step in meeting.trace]
    assert any("a\\x00b" in detail for detail in details), details
    assert all(detail.isprintable() for detail in details)


def test_a_replaced_subject_is_one_clean_line() -> None:
    profile = Profile(
        name="p",
        replace_subject_type=ReplaceSubject.ALL,
        replace_subject_template='{{ "Busy\\x00\\n\\tnow" }}',
    )
    meeting = process([rule("zoom", priority=1)], profile=profile, body=ZOOM)
    assert meeting.subject == "Busy now"
