"""Call routing rules (pure): priority order, full-match semantics, replace, filters, validation."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import pytest
import yaml

from guestjoin.routing import (
    CallContext,
    Problem,
    alias_of,
    destination_uri,
    route_call,
    validate_call_routing_rules,
)
from otj.model import CallRoutingRule, SipProxy

MEET = CallRoutingRule(
    name="SIP Guest Join", priority=10, match_string=r"[a-z\-]{10,12}@google\.pexip\.me"
)


def example_rules() -> list[CallRoutingRule]:
    """The call_routing_rules of the shared example configuration, read as the store would."""
    path = Path("/work/shared/examples/config.yaml")
    data = yaml.safe_load(path.read_text())
    fields = {f.name for f in dataclasses.fields(CallRoutingRule)}
    return [
        CallRoutingRule(**{k: v for k, v in item.items() if k in fields})
        for item in data["call_routing_rules"]
    ]


def test_the_example_configuration_routes_a_meet_code() -> None:
    result = route_call(example_rules(), CallContext(uri="sip:abc-defg-hij@google.pexip.me"))
    assert result.decision is not None
    assert result.decision.rule == "SIP Guest Join to the Pexip Service"
    assert result.decision.destination == "sip:abc-defg-hij@google.pexip.me"
    assert result.decision.proxy is None


ROUTING_TABLE = [
    # (name, rules, context, expected rule, expected destination)
    (
        "meet code",
        [MEET],
        CallContext(uri="sip:abc-defg-hij@google.pexip.me"),
        "SIP Guest Join",
        "sip:abc-defg-hij@google.pexip.me",
    ),
    (
        "case-insensitive",
        [MEET],
        CallContext(uri="sip:ABC-DEFG-HIJ@Google.Pexip.Me"),
        "SIP Guest Join",
        "sip:ABC-DEFG-HIJ@Google.Pexip.Me",
    ),
    (
        "params ignored",
        [MEET],
        CallContext(uri="sip:abc-defg-hij@google.pexip.me;transport=tcp;user=ip"),
        "SIP Guest Join",
        "sip:abc-defg-hij@google.pexip.me",
    ),
    (
        "sips kept",
        [MEET],
        CallContext(uri="sips:abc-defg-hij@google.pexip.me"),
        "SIP Guest Join",
        "sips:abc-defg-hij@google.pexip.me",
    ),
    (
        "full match only: prefix",
        [MEET],
        CallContext(uri="sip:xabc-defg-hij@google.pexip.me.evil.com"),
        None,
        None,
    ),
    (
        "full match only: other domain",
        [MEET],
        CallContext(uri="sip:abc-defg-hij@evil.com"),
        None,
        None,
    ),
    ("open relay refused", [MEET], CallContext(uri="sip:anyone@example.com"), None, None),
    (
        "priority wins",
        [
            dataclasses.replace(MEET, name="b", priority=20, replace_string="second@x"),
            dataclasses.replace(MEET, name="a", priority=5, replace_string="first@x"),
        ],
        CallContext(uri="sip:abc-defg-hij@google.pexip.me"),
        "a",
        "sip:first@x",
    ),
    (
        "tie by name",
        [
            dataclasses.replace(MEET, name="zz", priority=5, replace_string="z@x"),
            dataclasses.replace(MEET, name="aa", priority=5, replace_string="a@x"),
        ],
        CallContext(uri="sip:abc-defg-hij@google.pexip.me"),
        "aa",
        "sip:a@x",
    ),
    (
        "disabled skipped",
        [
            dataclasses.replace(
                MEET, name="off", priority=1, enabled=False, replace_string="off@x"
            ),
            MEET,
        ],
        CallContext(uri="sip:abc-defg-hij@google.pexip.me"),
        "SIP Guest Join",
        "sip:abc-defg-hij@google.pexip.me",
    ),
    (
        "replace with groups",
        [
            CallRoutingRule(
                name="meet-prefix",
                match_string=r"meet\.([a-z]{3}-[a-z]{4}-[a-z]{3})@.*",
                replace_string=r"\1@google.pexip.me",
            )
        ],
        CallContext(uri="sip:meet.abc-defg-hij@video.example.com"),
        "meet-prefix",
        "sip:abc-defg-hij@google.pexip.me",
    ),
    (
        "replace with named group and scheme",
        [
            CallRoutingRule(
                name="named",
                match_string=r"(?P<code>\d+)@example\.com",
                replace_string=r"sips:\g<code>@pexip.example.com",
            )
        ],
        CallContext(uri="sip:1234@example.com"),
        "named",
        "sips:1234@pexip.example.com",
    ),
    (
        "match_string_full sees scheme and params",
        [
            CallRoutingRule(
                name="full", match_string_full=True, match_string=r"sips:.*;transport=tls"
            )
        ],
        CallContext(uri="sips:abc@example.com;transport=tls"),
        "full",
        "sips:abc@example.com;transport=tls",
    ),
    (
        "match_string_full no match on bare alias",
        [CallRoutingRule(name="full", match_string_full=True, match_string=r"abc@example\.com")],
        CallContext(uri="sip:abc@example.com"),
        None,
        None,
    ),
    (
        "registered only refuses unregistered",
        [dataclasses.replace(MEET, match_incoming_only_if_registered=True)],
        CallContext(uri="sip:abc-defg-hij@google.pexip.me"),
        None,
        None,
    ),
    (
        "registered only admits registered",
        [dataclasses.replace(MEET, match_incoming_only_if_registered=True)],
        CallContext(uri="sip:abc-defg-hij@google.pexip.me", registered=True),
        "SIP Guest Join",
        "sip:abc-defg-hij@google.pexip.me",
    ),
    (
        "outgoing calls need match_outgoing_calls",
        [MEET],
        CallContext(uri="sip:abc-defg-hij@google.pexip.me", direction="outgoing"),
        None,
        None,
    ),
    (
        "h323 not matched by default",
        [MEET],
        CallContext(uri="sip:abc-defg-hij@google.pexip.me", protocol="h323"),
        None,
        None,
    ),
    (
        "webrtc allowed when enabled",
        [dataclasses.replace(MEET, match_incoming_webrtc=True)],
        CallContext(uri="sip:abc-defg-hij@google.pexip.me", protocol="webrtc"),
        "SIP Guest Join",
        "sip:abc-defg-hij@google.pexip.me",
    ),
    (
        "h323 outgoing protocol unusable",
        [dataclasses.replace(MEET, outgoing_protocol="h323")],
        CallContext(uri="sip:abc-defg-hij@google.pexip.me"),
        None,
        None,
    ),
    (
        "replace producing garbage is not a route",
        [dataclasses.replace(MEET, replace_string="a b@c")],
        CallContext(uri="sip:abc-defg-hij@google.pexip.me"),
        None,
        None,
    ),
]


@pytest.mark.parametrize(
    ("name", "rules", "ctx", "rule", "destination"),
    ROUTING_TABLE,
    ids=[r[0] for r in ROUTING_TABLE],
)
def test_routing_table(
    name: str,
    rules: list[CallRoutingRule],
    ctx: CallContext,
    rule: str | None,
    destination: str | None,
) -> None:
    result = route_call(rules, ctx)
    if rule is None:
        assert result.decision is None
    else:
        assert result.decision is not None
        assert (result.decision.rule, result.decision.destination) == (rule, destination)
    assert len(result.trace) >= 1


def test_proxy_target_and_registered_device() -> None:
    rules = [
        dataclasses.replace(MEET, sip_proxy="Edge", treat_as_trusted=True),
        CallRoutingRule(
            name="rooms",
            priority=50,
            match_string=r"room\d+@example\.com",
            called_device_type="registered",
        ),
    ]
    meet = route_call(rules, CallContext(uri="sip:abc-defg-hij@google.pexip.me")).decision
    assert meet is not None
    assert (meet.proxy, meet.trusted) == ("Edge", True)
    room = route_call(rules, CallContext(uri="sip:room7@example.com")).decision
    assert room is not None
    assert room.registered_device
    assert room.proxy is None


def test_catastrophic_regex_times_out_and_the_next_rule_still_matches() -> None:
    evil = CallRoutingRule(name="evil", priority=1, match_string=r"(x+x+)+y")
    rescue = CallRoutingRule(name="rescue", priority=2, match_string=r"x+@example\.com")
    started = time.monotonic()
    result = route_call(
        [evil, rescue], CallContext(uri="sip:" + "x" * 5000 + "@example.com"), timeout=0.02
    )
    assert time.monotonic() - started < 2
    assert result.decision is not None
    assert result.decision.rule == "rescue"
    assert any("timed out" in line for line in result.trace)


@pytest.mark.parametrize(
    ("uri", "alias"),
    [
        ("sip:abc-defg-hij@google.pexip.me", "abc-defg-hij@google.pexip.me"),
        ("sips:a@b:5061;transport=tls", "a@b:5061"),
        ("<sip:a@b;x=y?Subject=hi>", "a@b"),
        ("sip:+47;phone-context=x@b;user=phone", "+47;phone-context=x@b"),
        ("meet@example.com", "meet@example.com"),
    ],
)
def test_alias_of(uri: str, alias: str) -> None:
    assert alias_of(uri) == alias


@pytest.mark.parametrize(
    ("routed", "original", "expected"),
    [
        ("a@b", "sip:x@y", "sip:a@b"),
        ("a@b", "sips:x@y", "sips:a@b"),
        ("SIP:a@b", "sips:x@y", "sip:a@b"),
        ("", "sip:x@y", None),
        ("a@", "sip:x@y", None),
        ("a@b\r\nVia: x", "sip:x@y", None),
    ],
)
def test_destination_uri(routed: str, original: str, expected: str | None) -> None:
    assert destination_uri(routed, original=original) == expected


def test_validation_reports_every_problem() -> None:
    rules = [
        CallRoutingRule(name="ok", match_string=r"(\w+)@x", replace_string=r"\1@y"),
        CallRoutingRule(name="ok", match_string=r"a@x"),
        CallRoutingRule(name="bad-regex", match_string=r"([a-z"),
        CallRoutingRule(name="bad-group", match_string=r"(a)@x", replace_string=r"\2@y"),
        CallRoutingRule(name="bad-name", match_string=r"(?P<c>a)@x", replace_string=r"\g<d>@y"),
        CallRoutingRule(name="empty", match_string=""),
        CallRoutingRule(name="prio", priority=0, match_string="a"),
        CallRoutingRule(name="h323", match_string="a", outgoing_protocol="h323"),
        CallRoutingRule(name="proxy", match_string="a", sip_proxy="Nowhere"),
        CallRoutingRule(name="known-proxy", match_string="a", sip_proxy="Edge"),
    ]
    problems = validate_call_routing_rules(rules, [SipProxy(name="Edge", address="192.0.2.5")])
    found = {(p.rule, p.field) for p in problems}
    assert found == {
        ("ok", "name"),
        ("bad-regex", "match_string"),
        ("bad-group", "replace_string"),
        ("bad-name", "replace_string"),
        ("empty", "match_string"),
        ("prio", "priority"),
        ("h323", "outgoing_protocol"),
        ("proxy", "sip_proxy"),
    }
    assert all(isinstance(p, Problem) and p.message for p in problems)
    assert validate_call_routing_rules(example_rules()) == []


def test_routing_module_is_pure() -> None:
    import ast
    import inspect

    import guestjoin.routing as module

    tree = ast.parse(inspect.getsource(module))
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in (
            node.names if isinstance(node, ast.Import) else [ast.alias(node.module or "")]
        )
    }
    assert imported <= {
        "__future__",
        "ipaddress",
        "re",
        "collections",
        "dataclasses",
        "functools",
        "typing",
        "regex",
        "otj",
    }


LOOK_ALIKES = [
    "abc-defg-hij@google.pex\u0130p.me",  # LATIN CAPITAL LETTER I WITH DOT ABOVE
    "abc-defg-hij@google.pex\u0131p.me",  # LATIN SMALL LETTER DOTLESS I
    "abc-defg-hij@google\uff0epexip\uff0eme",  # FULLWIDTH FULL STOP
    "abc-defg-hij@google\u3002pexip.me",  # IDEOGRAPHIC FULL STOP
    "abc-defg-hi\u212a@google.pexip.me",  # KELVIN SIGN in the user part
    "abc-defg-hij@google.pexip.me\u200b",  # ZERO WIDTH SPACE
]


@pytest.mark.parametrize("alias", LOOK_ALIKES)
def test_look_alike_aliases_are_never_routed(alias: str) -> None:
    result = route_call([MEET], CallContext(uri=f"sip:{alias}"))
    assert result.decision is None
    assert "non-ASCII" in result.trace[-1]


@pytest.mark.parametrize(
    ("pattern", "subject"),
    [
        (r"[a-z\-]{10,12}@google\.pexip\.me", "abc-defg-hij@google.pex\u0130p.me"),
        (r"[a-z\-]{10,12}@google\.pexip\.me", "abc-defg-hi\u212a@google.pexip.me"),
        (r"[a-z]+@example\.com", "\u017fam@example.com"),  # LATIN SMALL LETTER LONG S
        (r"k[a-z]+@example\.com", "\u212aelvin@example.com"),
        (r"\w+@example\.com", "caf\u00e9@example.com"),
    ],
)
def test_rules_fold_case_in_ascii_only(pattern: str, subject: str) -> None:
    """Unicode case folding maps İ, KELVIN SIGN and long s onto i, k and s; the rules' flags
    never do (a second line behind the refusal of non-ASCII URIs)."""
    import regex

    from guestjoin.routing import FLAGS

    assert regex.compile(pattern, flags=regex.IGNORECASE | regex.VERSION0).fullmatch(subject)
    assert regex.compile(pattern, flags=FLAGS).fullmatch(subject) is None


def test_ascii_case_insensitive_match_still_works() -> None:
    result = route_call([MEET], CallContext(uri="sip:ABC-DEFG-HIJ@Google.PEXIP.me"))
    assert result.decision is not None


def _trust_rules() -> list[CallRoutingRule]:
    return [
        CallRoutingRule(
            name="Trusted offices",
            priority=10,
            match_string=r".+@google\.pexip\.me",
            match_source=("10.20.0.0/16", "2001:db8:20::/48"),
            outbound_credentials="office-token",
        ),
        CallRoutingRule(name="Everyone else", priority=20, match_string=r".+@google\.pexip\.me"),
    ]


@pytest.mark.parametrize(
    ("source", "rule", "credentials"),
    [
        ("10.20.3.4", "Trusted offices", "office-token"),
        ("::ffff:10.20.3.4", "Trusted offices", "office-token"),
        ("2001:db8:20:1::5", "Trusted offices", "office-token"),
        ("10.21.0.1", "Everyone else", None),
        ("2001:db8:21::5", "Everyone else", None),
        ("", "Everyone else", None),
        (None, "Trusted offices", "office-token"),
        ("not-an-address", "Everyone else", None),
    ],
)
def test_match_source_picks_the_trusted_rule_by_network(
    source: str | None, rule: str, credentials: str | None
) -> None:
    ctx = CallContext(uri="sip:abc-defg-hij@google.pexip.me", source=source)
    result = route_call(_trust_rules(), ctx)
    assert result.decision is not None
    assert result.decision.rule == rule
    assert result.decision.credentials == credentials
    if rule == "Everyone else":
        assert any("is not in 10.20.0.0/16" in line for line in result.trace)


def test_match_source_entries_are_validated() -> None:
    bad = CallRoutingRule(name="r", match_string="x", match_source=("10.0.0.0/8", "office-lan"))
    problems = validate_call_routing_rules([bad])
    assert [(p.field, p.message) for p in problems] == [
        ("match_source", "'office-lan' is not an IP network (e.g. 192.0.2.0/24)")
    ]
