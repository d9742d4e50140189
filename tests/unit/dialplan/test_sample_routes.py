"""The dial-plan check: meeting rules rendered on their samples, routed as the gateway routes."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime

import pytest

from otj.config.dialplan import NO_ROUTE, dial_plan_problems, sample_routes
from otj.config.samples import BY_TYPE, SAMPLES
from otj.config.yamlsrc import load_yaml
from otj.model import CallRoutingRule, MeetingRule
from otj.rules import MEETING_TYPES
from otj.store.values import Configuration

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
RECOMMENDED = CallRoutingRule(
    name="SIP Guest Join", priority=10, match_string=r"[a-z\-]{10,12}@google\.pexip\.me"
)
ANYTHING = CallRoutingRule(name="Anything", priority=200, match_string=r".+@.+")
NEEDS_DOMAIN = {"hangouts", "domain"}
NO_VENDOR = {"regex", "regex_re2", "custom"}


@pytest.mark.parametrize("meeting_type", sorted(set(MEETING_TYPES) - NO_VENDOR))
def test_every_built_in_type_gives_an_alias_on_each_of_its_samples(meeting_type: str) -> None:
    domain = "vc.example.com" if meeting_type in NEEDS_DOMAIN else ""
    rule = MeetingRule(name="R", meeting_type=meeting_type, domain=domain)
    found = sample_routes([rule], [ANYTHING], now=NOW)
    assert {f.sample for f in found} == set(BY_TYPE[meeting_type])
    assert all(f.routed_by == "Anything" and "@" in f.alias for f in found)


def test_google_meet_with_company_id_is_not_routed_by_the_recommended_rule() -> None:
    rule = MeetingRule(name="Meet", meeting_type="googlemeetsipguestjoin", company_id="acme")
    found = sample_routes([rule], [RECOMMENDED], now=NOW)
    assert [f.alias for f in found] == [
        "rtw-pqzs-kmn.acme@google.pexip.me",
        "bvx-hjwq-tre.acme@google.pexip.me",
    ]
    assert [f.routed_by for f in found] == [None, None]
    assert "no match for 'rtw-pqzs-kmn.acme@google.pexip.me'" in found[0].routing.trace[0]
    plain = sample_routes([MeetingRule(name="Meet", meeting_type="googlemeetsipguestjoin")],
                          [RECOMMENDED], now=NOW)  # fmt: skip
    assert [f.routed_by for f in plain] == ["SIP Guest Join", "SIP Guest Join"]


def test_disabled_rules_and_route_check_false_are_not_checked() -> None:
    rules = [
        MeetingRule(name="Off", meeting_type="zoom", enabled=False),
        MeetingRule(name="Direct", meeting_type="zoom", route_check=False),
    ]
    assert sample_routes(rules, [RECOMMENDED], now=NOW) == ()


def test_custom_rules_are_tried_on_every_sample_and_each_alias_is_checked_once() -> None:
    template = (
        '{% set c = pex_regex_search("https://meet\\.google\\.com/([a-z\\-]+)", '
        "calendar_event.body) %}{% if c %}{{ c[0] }}@google.pexip.me{% endif %}"
    )
    rule = MeetingRule(name="Custom", meeting_type="custom", custom_template=template)
    found = sample_routes([rule], [RECOMMENDED], now=NOW)
    assert [(f.sample, f.alias, f.routed_by) for f in found] == [
        ("Google Meet link", "rtw-pqzs-kmn@google.pexip.me", "SIP Guest Join"),
        ("Google Meet with a SIP entry point", "kdw-fmro-yxa@google.pexip.me", "SIP Guest Join"),
    ]
    constant = MeetingRule(name="One", meeting_type="custom", custom_template="x@y.example.com")
    assert len(sample_routes([constant], [ANYTHING], now=NOW)) == 1
    assert len(SAMPLES) > 1


def test_h323_aliases_are_not_routed_through_the_gateway() -> None:
    rule = MeetingRule(
        name="Legacy", meeting_type="regex", match_string=r"pexip://([\w.]+)@",
        replace_string=r"h323:\1@192.0.2.7",
    )  # fmt: skip
    assert sample_routes([rule], [RECOMMENDED], now=NOW) == ()
    sip = MeetingRule(name="SIP", meeting_type="regex", match_string=rule.match_string,
                      replace_string=r"sip:\1@192.0.2.7")  # fmt: skip
    [found] = sample_routes([sip], [RECOMMENDED], now=NOW)
    assert (found.alias, found.routed_by) == ("meet.alice@192.0.2.7", None)


def test_a_registered_only_routing_rule_routes_the_rooms_calls() -> None:
    only_registered = CallRoutingRule(
        name="Rooms only", match_string=r".+@zoomcrc\.com", match_incoming_only_if_registered=True
    )
    found = sample_routes([MeetingRule(name="Zoom", meeting_type="zoom")], [only_registered],
                          now=NOW)  # fmt: skip
    assert [(f.alias, f.routed_by) for f in found] == [("84129376051@zoomcrc.com", "Rooms only")]


def test_routing_rules_that_cannot_carry_the_call_do_not_count() -> None:
    zoom = MeetingRule(name="Zoom", meeting_type="zoom")
    for rule in (
        CallRoutingRule(name="off", match_string=r".+", enabled=False),
        CallRoutingRule(name="h323", match_string=r".+", match_incoming_sip=False),
        CallRoutingRule(name="partial", match_string=r"\d+"),  # must match the WHOLE alias
        CallRoutingRule(name="bad replace", match_string=r".+", replace_string="no host"),
    ):
        [found] = sample_routes([zoom], [rule], now=NOW)
        assert found.routed_by is None, rule.name


CONFIG = textwrap.dedent(
    """\
    meeting_processing_rules:
      - name: Zoom
        meeting_type: zoom
      - name: Meet
        meeting_type: googlemeetsipguestjoin
        company_id: acme
      - name: Meet direct
        meeting_type: googlemeetsipguestjoin
        company_id: acme
        route_check: false
    call_routing_rules:
      - name: SIP Guest Join
        match_string: '[a-z\\-]{10,12}@google\\.pexip\\.me'
    """
)


def _desired() -> Configuration:
    return Configuration(
        sections=frozenset({"meeting_processing_rules", "call_routing_rules"}),
        meeting_processing_rules=(
            MeetingRule(name="Zoom", meeting_type="zoom"),
            MeetingRule(name="Meet", meeting_type="googlemeetsipguestjoin", company_id="acme"),
            MeetingRule(
                name="Meet direct", meeting_type="googlemeetsipguestjoin", company_id="acme",
                route_check=False,
            ),
        ),
        call_routing_rules=(RECOMMENDED,),
    )  # fmt: skip


def test_problems_name_the_rule_its_line_the_sample_alias_and_the_missing_route() -> None:
    located, _ = load_yaml(CONFIG)
    empty = Configuration(sections=frozenset())
    problems = dial_plan_problems(located, _desired(), existing=empty, prune=False, now=NOW)
    assert [(p.path, p.line, p.warning) for p in problems] == [
        ("meeting_processing_rules[0]", 2, True),
        ("meeting_processing_rules[1]", 4, True),
    ]
    assert str(problems[0]).startswith(
        "warning: meeting_processing_rules[0] (line 2): meeting processing rule 'Zoom' gives "
        f"'84129376051@zoomcrc.com' on its sample invitation (Zoom): {NO_ROUTE} (set "
        "route_check: false"
    )
    assert (
        "'Meet' gives 'rtw-pqzs-kmn.acme@google.pexip.me' on its sample invitation (Google Meet "
        f"link): {NO_ROUTE}, nor the alias of 1 other sample(s)"
    ) in problems[1].message
    strict = dial_plan_problems(
        located, _desired(), existing=empty, prune=False, now=NOW, strict=True
    )
    assert [p.warning for p in strict] == [False, False]


def test_stored_rules_are_checked_against_the_files_routing_rules() -> None:
    routing_only, _ = load_yaml("call_routing_rules:\n  - {name: x, match_string: 'y'}\n")
    desired = Configuration(sections=frozenset({"call_routing_rules"}), call_routing_rules=(
        CallRoutingRule(name="x", match_string=r"\d+@zoomcrc\.com"),))  # fmt: skip
    stored = Configuration(
        sections=frozenset(),
        meeting_processing_rules=(
            MeetingRule(name="Zoom", meeting_type="zoom"),
            MeetingRule(name="Webex", meeting_type="webex"),
        ),
    )
    problems = dial_plan_problems(routing_only, desired, existing=stored, prune=False, now=NOW)
    assert [p.path for p in problems] == ["meeting_processing_rules"]
    assert "'Webex' (stored, not in this file) gives '26410873359@example.webex.com'" in str(
        problems[0]
    )


def test_nothing_is_checked_without_any_call_routing_rule() -> None:
    located, _ = load_yaml(CONFIG)
    desired = Configuration(
        sections=frozenset({"meeting_processing_rules"}),
        meeting_processing_rules=_desired().meeting_processing_rules,
    )
    empty = Configuration(sections=frozenset())
    assert dial_plan_problems(located, desired, existing=empty, prune=False, now=NOW) == []
