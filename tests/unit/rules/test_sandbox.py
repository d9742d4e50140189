# ruff: noqa: E501  (template tables)
"""Custom templates: every filter, the documentation's template, and hostile templates/regexes."""

from __future__ import annotations

import hashlib
import time
from typing import Any

import pytest
from jinja2.exceptions import SecurityError

from otj.rules.limits import LimitExceeded
from otj.rules.sandbox import compile_template, render
from tests.unit.rules.helpers import NOW, process, rule

SEED = """{% set sipJoin = pex_regex_search("https:\\/\\/meet\\.google\\.com\\/([a-z\\-]+)", calendar_event.body) %}
{% set sipMatch = pex_regex_search("sip:([0-9]+@[a-z\\-.]+)", calendar_event.body) %}

{% if sipMatch %}
{{sipMatch[0]}}
{% elif sipJoin %}
{{sipJoin[0]}}@google.pexip.me
{% endif %}
"""


def run(source: str, **context: Any) -> str:
    output, _ = render(compile_template(source), context, now=NOW, seed="seed")
    return output


FILTERS = [
    ("{{ -3|abs }}", "3"),
    ("{{ 'ana silva'|capitalize }}", "Ana silva"),
    ("{{ missing|default('x') }}", "x"),
    ("{{ [3, 4]|first }}{{ [3, 4]|last }}", "34"),
    ("{{ '1.5'|float }} {{ '7'|int }} {{ 2.567|round(1) }}", "1.5 7 2.6"),
    ("{{ '%s-%03d'|format('a', 7) }}", "a-007"),
    ("{{ ['a', 'b']|join('+') }} {{ [1, 2]|length }}", "a+b 2"),
    ("{{ 'ABC'|lower }}{{ 'abc'|upper }}", "abcABC"),
    ("{% for i in range(3) %}{{ i }}{% endfor %}{{ 3|range|length }}", "0123"),
    ("{{ 'a-b-c'|replace('-', '.') }}", "a.b.c"),
    ("{{ '<b>x</b> y'|striptags }}|{{ '  x  '|trim }}", "x y|x"),
    ("{{ 'abcdefghijklmnopqrstuvwxyz'|truncate(10, True, '') }}", "abcdefghij"),
    ("{{ pex_regex_search('(\\\\d+)-(\\\\d+)', 'call 12-34') }}", "('12', '34')"),
    ("{{ pex_regex_search('\\\\d+', 'call 12') }}{{ pex_regex_search('x', 'y') }}", "('12',)None"),
    ("{{ 'ana@example.com'|pex_regex_replace('@.+$', '') }}", "ana"),
    ("{{ ['a1', 'b22', 'c3']|pex_find_first_match('\\\\d\\\\d') }}", "b22"),
    ("{{ '+47 (22) 12-34-56'|pex_clean_phone_number }}", "+4722123456"),
    ("{{ 'a%40b.com'|pex_url_decode }} {{ 'a@b c'|pex_url_encode }}", "a@b.com a%40b%20c"),
    ("{{ 'https://eur01.safelinks.protection.outlook.com/?url=https%3A%2F%2Fx.example.com%2Fa&data=1'|pex_safelinks_decode }}",
     "https://x.example.com/a"),
    ("{{ 'https://urldefense.com/v3/__https://x.example.com/a__;!!A!B$'|pex_urldefense_decode }}",
     "https://x.example.com/a"),
    ("{{ 'ana'|pex_base64 }}", "YW5h"),
    ("{{ 'ana'|pex_md5 }}", "276b6c4692e78d4799c12ada515bc3e4"),
    ("{{ 'ana'|pex_hash }}", "sha256:ana"),
    ("{{ 'abcdef'|pex_head(2) }}{{ 'abcdef'|pex_tail(2) }}", "abef"),
    ("{{ 'abc'|pex_strlen }}{{ 'abc'|pex_reverse }}", "3cba"),
    ("{{ {'b': 1, 'a': [1, 2]}|pex_to_json }}", '{"a": [1, 2], "b": 1}'),
    ("{{ pex_now('Europe/Oslo').isoformat() }}", "2025-03-03T09:00:00+01:00"),
    ("{{ pex_debug_log('hello', 1) }}", ""),
]  # fmt: skip


@pytest.mark.parametrize(("source", "expected"), FILTERS)
def test_filters(source: str, expected: str) -> None:
    if expected == "sha256:ana":
        expected = hashlib.sha256(b"ana").hexdigest()
    assert run(source) == expected


def test_uuid4_is_stable_per_seed_and_call() -> None:
    template = compile_template("{{ pex_uuid4() }} {{ pex_uuid4() }}")
    first, _ = render(template, {}, now=NOW, seed="a")
    again, _ = render(template, {}, now=NOW, seed="a")
    other, _ = render(template, {}, now=NOW, seed="b")
    one, two = first.split()
    assert first == again != other
    assert one != two
    assert one[14] == "4"


def test_debug_log_lands_in_the_trace() -> None:
    meeting = process(
        rule("custom", custom_template="{{ pex_debug_log('saw', calendar_event.subject) }}"),
        subject="Standup",
    )
    assert meeting.trace[0].outcome == "no_match"
    assert "debug: saw Standup" in meeting.trace[0].detail


@pytest.mark.parametrize(
    ("body", "alias"),
    [
        ("Join with Google Meet\nhttps://meet.google.com/qxr-bnwt-kzp\nOr dial", "qxr-bnwt-kzp@google.pexip.me"),
        ("https://meet.google.com/hgt-wqpa-rmn\nsip:4417093355120@gmeet.example.com", "4417093355120@gmeet.example.com"),
        ("Pizza.", None),
    ],
)  # fmt: skip
def test_documentation_template_verbatim(body: str, alias: str | None) -> None:
    meeting = process(rule("custom", custom_template=SEED), body=body)
    assert meeting.alias == alias


def test_only_pexip_filters_exist() -> None:
    from otj.rules.sandbox import sandbox

    names = set(sandbox().filters)
    assert {"attr", "map", "tojson", "pprint", "urlize", "center", "wordwrap"} & names == set()
    assert len([n for n in names if not n.startswith("pex_")]) == 18


HOSTILE = [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ ''.__class__ }}",
    "{{ calendar_event.__class__.__init__.__globals__ }}",
    "{{ cycler.__init__.__globals__.os }}",
    "{{ self.__init__.__globals__ }}",
    "{{ namespace.__init__.__globals__ }}",
    "{{ (1).__class__.__base__.__subclasses__() }}",
    "{{ calendar_event.pop('body') }}",
    "{{ lipsum(100000) }}",
    "{{ 'a'|attr('__class__') }}",
    "{% include 'otj/rules/sandbox.py' %}",
    "{% import 'os' as os %}",
    "{{ 'x' * 10**9 }}",
    "{{ 'ab' * 3000000 }}",
    "{{ ('x', 'y') * 100000000 }}",
    "{{ 10 ** 100000 }}",
    "{{ '%999999999s'|format('x') }}",
    "{{ '%*s'|format(999999999, 'x') }}",
    "{{ '{:>999999999}'.format('x') }}",
    "{{ '{:{}}'.format('x', 999999999) }}",
    "{{ 'x'.ljust(999999999) }}",
    "{{ 'x'.center(99999999) }}",
    "{{ ('x' * 4000000).replace('x', 'yy') }}",
    "{{ ('x' * 1000000)|replace('x', 'yyyyy') }}",
    "{{ range(100000)|join('y' * 1000) }}",
    "{% set s = 'x' * 1000000 %}{{ s ~ s ~ s ~ s ~ s ~ s }}",
    "{% set ns = namespace(s='x') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
    "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
    "{% for i in range(1000001) %}{% endfor %}",
    (
        "{% for c in calendar_event.body %}{% for d in calendar_event.body %}"
        "{% for e in calendar_event.body %}{% endfor %}{% endfor %}{% endfor %}"
    ),
    "{% for i in range(100000) %}{{ 'xxxxxxxxxxxxxxxxxxxx' }}{% endfor %}",
    "{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}",
    "{% macro m(n) %}{{ m(n) }}{{ m(n) }}{% endmacro %}{{ m(1) }}",
    "{% for x in [1] recursive %}{{ loop([1, 1]) }}{{ loop([1, 1]) }}{% endfor %}",
    "{{ pex_regex_search('^(a|aa)+$', 'a' * 40 + '!') }}",
    "{{ ('a' * 30000 + '!')|pex_regex_replace('(x+x+)+y', 'z') }}",
]


@pytest.mark.parametrize("source", HOSTILE)
def test_hostile_template_fails_fast_and_next_rule_runs(source: str) -> None:
    rules = [
        rule("custom", name="hostile", priority=1, custom_template=source),
        rule("googlemeetsipguestjoin", name="meet", priority=2),
    ]
    started = time.monotonic()
    meeting = process(rules, body="x" * 1000 + "\nhttps://meet.google.com/lmn-opqr-stu")
    elapsed = time.monotonic() - started
    assert elapsed < 2.0
    assert meeting.trace[0].outcome == "error", meeting.trace[0]
    assert meeting.alias == "lmn-opqr-stu@google.pexip.me"
    assert meeting.rule == "meet"


def test_sandbox_violation_is_a_security_error() -> None:
    with pytest.raises(SecurityError):
        run("{{ ''.__class__ }}")
    with pytest.raises(LimitExceeded):
        run("{{ 'x' * 10**9 }}")


def test_output_cap_counts_generated_chunks() -> None:
    with pytest.raises(LimitExceeded, match="output exceeds"):
        run("{% for i in range(10000) %}{{ 'x' * 100 }}{% endfor %}")


@pytest.mark.parametrize(
    ("meeting_type", "pattern", "text"),
    [
        ("regex", r"^(a+)+$", "a" * 5000 + "!"),
        ("regex", r"(x+x+)+y", "x" * 5000),
        ("regex", r"^(a|aa)+$", "a" * 60 + "!"),
        ("regex_re2", r"^(a+)+$", "a" * 100000 + "!"),
    ],
)
def test_hostile_regex_rules_end_quickly(meeting_type: str, pattern: str, text: str) -> None:
    rules = [
        rule(meeting_type, name="evil", priority=1, match_string=pattern, replace_string="x@y.com"),
        rule("googlemeetsipguestjoin", name="meet", priority=2),
    ]
    started = time.monotonic()
    meeting = process(rules, body=text + "\nhttps://meet.google.com/lmn-opqr-stu")
    assert time.monotonic() - started < 2.0
    assert meeting.trace[0].outcome in ("error", "no_match")
    assert meeting.alias == "lmn-opqr-stu@google.pexip.me"


def test_regex_timeout_is_reported_as_error() -> None:
    rules = [rule("regex", name="evil", match_string=r"(x+x+)+y", replace_string="z")]
    meeting = process(rules, body="x" * 5000)
    assert meeting.trace[0].outcome == "error"
    assert "timed out" in meeting.trace[0].detail


def test_template_syntax_error_is_reported_with_line() -> None:
    meeting = process(rule("custom", custom_template="ok\n{% if x %}\n{{ y }"))
    assert meeting.trace[0].outcome == "error"
    assert "line 3" in meeting.trace[0].detail


def test_whitespace_in_output_is_an_error() -> None:
    meeting = process(rule("custom", custom_template="two words"))
    assert meeting.trace[0].outcome == "error"
    assert "whitespace" in meeting.trace[0].detail
