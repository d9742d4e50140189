"""``explain_route``: the gateway's admission, routing and target for one call, nothing sent."""

from __future__ import annotations

from dataclasses import replace

import pytest

from guestjoin.config import GatewayConfig
from otj.config.routetest import explain_route
from otj.model import CallRoutingRule, Endpoint, GatewaySettings, SipProxy, VirtualReception

RULES = (
    CallRoutingRule(name="Old", priority=1, enabled=False, match_string=".+"),
    CallRoutingRule(
        name="Rooms to Teams", priority=5, match_string=r"(\d+)\.(\w+)@teams\.example\.com",
        match_incoming_only_if_registered=True, replace_string=r"\1@teams.pexip.me",
    ),
    CallRoutingRule(name="Meet", priority=10, match_string=r"[a-z\-]{10,12}@google\.pexip\.me"),
    CallRoutingRule(name="Edge", priority=20, match_string=r".+@partner\.example\.net",
                    sip_proxy="Edge proxy"),
    CallRoutingRule(name="Rooms", priority=30, match_string=r"room-(\w+)@otj\.local",
                    replace_string=r"\1@otj.local", called_device_type="registered"),
    CallRoutingRule(name="Catch-all", priority=200, match_string=r".+@vc\.example\.com"),
)  # fmt: skip
CONFIG = GatewayConfig(
    rules=RULES,
    proxies=(SipProxy(name="Edge proxy", address="192.0.2.5", port=5061, transport="tls"),),
    settings=GatewaySettings(allowed_sources=("10.0.0.0/8",)),
    endpoints=(
        Endpoint(name="Fjord", group="G", room_resource_email="f@example.com",
                 api_address="10.1.2.3", sip_username="fjord"),
    ),
)  # fmt: skip


def test_the_matching_rule_its_trace_and_a_dns_target() -> None:
    report = explain_route("abc-defg-hij@google.pexip.me", CONFIG)
    assert report.routed
    assert (report.rule, report.destination) == ("Meet", "sip:abc-defg-hij@google.pexip.me")
    assert report.target_kind == "dns"
    assert report.target == "DNS: RFC 3263 lookup of google.pexip.me"
    assert [(s.rule, s.outcome) for s in report.steps] == [
        ("Old", "skipped"),
        ("Rooms to Teams", "skipped"),
        ("Meet", "matched"),
        ("Edge", "not_tried"),
        ("Rooms", "not_tried"),
        ("Catch-all", "not_tried"),
    ]
    assert report.steps[0].detail == "disabled"
    assert report.steps[1].detail == "caller is not registered"
    assert report.admitted is None  # no source given: not checked


def test_no_rule_means_404_and_every_rule_says_why_not() -> None:
    report = explain_route("sip:abc-defg-hij.acme@google.pexip.me", CONFIG)
    assert not report.routed
    assert report.rule is None
    assert report.destination is None
    assert report.target == "none: the gateway answers 404 No Matching Call Routing Rule"
    assert report.steps[2].outcome == "no_match"
    assert report.steps[2].detail == "no match for 'abc-defg-hij.acme@google.pexip.me'"
    assert len(report.steps) == len(RULES)
    empty = explain_route("a@b.example.com", GatewayConfig())
    assert empty.target == "none: no call routing rules are configured (404)"


def test_registered_callers_get_registered_only_rules_and_the_replaced_alias() -> None:
    report = explain_route(
        "1234567890.acme@teams.example.com", CONFIG, from_uri="sip:fjord@gw.example.com",
        source="10.1.2.3", registered=True,
    )  # fmt: skip
    assert report.routed
    assert report.rule == "Rooms to Teams"
    assert report.routed_alias == "1234567890@teams.pexip.me"
    assert report.alias == "1234567890.acme@teams.example.com"
    assert report.caller == "Fjord"
    assert report.notes == ()


def test_proxy_sips_and_registered_device_targets() -> None:
    proxy = explain_route("bob@partner.example.net", CONFIG)
    assert (proxy.target_kind, proxy.target) == (
        "proxy",
        "SIP proxy 'Edge proxy' at 192.0.2.5:5061 over TLS",
    )
    secure = explain_route("sips:meet.alice@vc.example.com", CONFIG)
    assert secure.destination == "sips:meet.alice@vc.example.com"
    assert secure.target == "DNS: RFC 3263 lookup of vc.example.com (sips: TLS only)"
    device = explain_route("room-fjord@otj.local", CONFIG)
    assert device.target_kind == "registered"
    assert device.destination == "sip:fjord@otj.local"
    assert "registered contacts of endpoint SIP user 'fjord'" in device.target
    missing = GatewayConfig(rules=RULES)  # the rule names a proxy that is not configured
    assert (
        "unknown SIP proxy 'Edge proxy'" in explain_route("x@partner.example.net", missing).target
    )


def test_source_addresses_outside_allowed_sources_are_refused_before_routing() -> None:
    refused = explain_route("meet.alice@vc.example.com", CONFIG, source="192.0.2.99")
    assert refused.admitted is False
    assert not refused.routed
    assert refused.rule == "Catch-all"  # what routing would say, shown for context
    assert "403 Source Address Not Allowed" in refused.admission
    allowed = explain_route("meet.alice@vc.example.com", CONFIG, source="10.9.9.9")
    assert (allowed.admitted, allowed.admission) == (True, "allowed (in 10.0.0.0/8)")
    anywhere = explain_route("meet.alice@vc.example.com", GatewayConfig(rules=RULES),
                             source="2001:db8::1")  # fmt: skip
    assert anywhere.admitted is True
    with pytest.raises(ValueError, match=r"--source: not an IP address: 'gw\.example\.com'"):
        explain_route("a@vc.example.com", CONFIG, source="gw.example.com")


def test_callers_are_identified_as_the_gateway_identifies_them() -> None:
    by_address = explain_route("meet.alice@vc.example.com", CONFIG, source="10.1.2.3")
    assert by_address.caller == "Fjord"
    stranger = explain_route(
        "meet.alice@vc.example.com", CONFIG, from_uri="sip:nobody@x", registered=True
    )
    assert stranger.caller == ""
    assert stranger.notes == (
        (
            "no endpoint has sip_username 'nobody': such a caller cannot register, so its calls "
            "are never registered ones"
        ),
    )


TRUST = GatewayConfig(
    rules=(
        CallRoutingRule(name="Trusted", priority=5, match_string=r".+@google\.pexip\.me",
                        match_source=("10.20.0.0/16",), outbound_credentials="office-token"),
        CallRoutingRule(name="Untrusted", priority=10, match_string=r".+@google\.pexip\.me"),
    ),
)  # fmt: skip


def test_the_source_picks_the_trusted_rule_and_the_report_names_its_credentials() -> None:
    inside = explain_route("abc-defg-hij@google.pexip.me", TRUST, source="10.20.1.1")
    assert inside.rule == "Trusted"
    assert any("sip_credentials 'office-token'" in note for note in inside.notes)
    outside = explain_route("abc-defg-hij@google.pexip.me", TRUST, source="198.51.100.7")
    assert outside.rule == "Untrusted"
    assert outside.steps[0].detail == "source 198.51.100.7 is not in 10.20.0.0/16"
    assert not any("sip_credentials" in note for note in outside.notes)


def test_a_virtual_reception_alias_is_answered_before_any_rule() -> None:
    reception = VirtualReception(name="Lobby", aliases=(r"join@vc\.example\.com",))
    config = replace(CONFIG, receptions=(reception,))
    report = explain_route("join@vc.example.com", config, source="10.1.2.3")
    assert report.routed
    assert (report.reception, report.target_kind, report.rule) == ("Lobby", "reception", None)
    assert report.target.startswith("Virtual Reception 'Lobby': the gateway answers")
    assert report.caller == "Fjord"
    # the catch-all rule would match, but the gateway never consults the rules for this alias
    assert {s.outcome for s in report.steps} == {"not_tried"}
    assert "Virtual Reception 'Lobby' answers this alias" in report.steps[-1].detail
    # other aliases of the same host still go through the rules
    other = explain_route("room@vc.example.com", config)
    assert (other.reception, other.rule) == ("", "Catch-all")


def test_a_reception_does_not_admit_a_refused_source() -> None:
    reception = VirtualReception(name="Lobby", aliases=(r"join@vc\.example\.com",))
    report = explain_route(
        "join@vc.example.com", replace(CONFIG, receptions=(reception,)), source="192.0.2.9"
    )
    assert report.admitted is False
    assert not report.routed
