"""Which room a call comes from and the name the meeting host sees (issue 13 §4)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from guestjoin.attribution import attribute, template_problem
from guestjoin.config import GatewayConfig
from otj.model import Endpoint, GatewaySettings

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
FJORD = Endpoint(
    name="Oslo Fjord", group="g", room_resource_email="fjord@resource.example.com",
    api_address="10.1.2.3", sip_username="fjord", sip_uri="sip:fjord@vc.example.com",
)  # fmt: skip
BERGEN = Endpoint(
    name="Bergen Harbour", group="g", room_resource_email="harbour@resource.example.com",
    sip_uri="sip:harbour@vc.example.com",
)  # fmt: skip
DEMO_A = Endpoint(name="Demo A", group="g", room_resource_email="a@x", api_address="127.0.0.1")
DEMO_B = Endpoint(name="Demo B", group="g", room_resource_email="b@x", api_address="127.0.0.1")
CONFIG = GatewayConfig(endpoints=(FJORD, BERGEN, DEMO_A, DEMO_B))


def call(**kw: object):  # type: ignore[no-untyped-def]
    args: dict[str, object] = {
        "from_uri": "sip:someone@example.net",
        "from_display": "",
        "source": "198.51.100.9",
        "registered_user": None,
        "now": NOW,
    }
    args.update(kw)
    return attribute(CONFIG, **args)  # type: ignore[arg-type]


def test_a_registered_room_is_named_by_its_registration() -> None:
    result = call(from_uri="sip:fjord@10.1.2.3", from_display="x", registered_user="fjord")
    assert (result.endpoint, result.how, result.display) == (FJORD, "registration", "Oslo Fjord")


def test_the_configured_sip_uri_attributes_from_the_room_s_own_address_only() -> None:
    ok = call(from_uri="sip:Fjord@VC.example.com;transport=tls", source="10.1.2.3")
    assert (ok.how, ok.display) == ("from_uri", "Oslo Fjord")
    spoofed = call(from_uri="sip:fjord@vc.example.com", from_display="Oslo Fjord")
    assert spoofed.endpoint is None
    assert spoofed.display == "Oslo Fjord (unverified)"
    # an endpoint without an API address is attributed by its SIP URI alone
    bergen = call(from_uri="sip:harbour@vc.example.com", source="203.0.113.4")
    assert (bergen.endpoint, bergen.how) == (BERGEN, "from_uri")


def test_an_address_only_one_endpoint_uses_attributes_a_shared_one_does_not() -> None:
    assert call(source="10.1.2.3").how == "address"
    shared = call(source="127.0.0.1", from_uri="sip:alice@example.net", from_display="Alice")
    assert shared.endpoint is None
    assert shared.how == ""
    assert shared.display == "Alice (unverified)"
    nameless = call(source="127.0.0.1", from_uri="sip:alice@example.net")
    assert nameless.display == "alice (unverified)"


def test_templates_name_the_room_and_organisation_and_are_bounded() -> None:
    settings = GatewaySettings(
        caller_display_name="{{ room_name }} ({{ organisation }})", organisation="Example AS"
    )
    config = replace(CONFIG, settings=settings)
    result = attribute(
        config, from_uri="sip:x@y", from_display="", source="10.1.2.3",
        registered_user=None, now=NOW,
    )  # fmt: skip
    assert result.display == "Oslo Fjord (Example AS)"
    long = replace(config, settings=replace(settings, caller_display_name="{{ 'x' * 500 }}"))
    shown = attribute(
        long, from_uri="sip:x@y", from_display="", source="10.1.2.3",
        registered_user=None, now=NOW,
    ).display  # fmt: skip
    assert len(shown) <= 64


def test_a_hostile_or_broken_template_falls_back_to_the_default() -> None:
    hostile = GatewaySettings(caller_display_name="{{ ''.__class__.__mro__ }}")
    config = replace(CONFIG, settings=hostile)
    result = attribute(
        config, from_uri="sip:x@y", from_display="", source="10.1.2.3",
        registered_user=None, now=NOW,
    )  # fmt: skip
    assert result.display == "Oslo Fjord"


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        ("{{ room_name }}", None),
        ("{{ room_name", "template error"),
        ("{{ ''.__class__ }}", "template error"),
        ("   ", "empty name"),
    ],
)
def test_templates_are_checked_when_saved(template: str, problem: str | None) -> None:
    found = template_problem(template, now=NOW)
    if problem is None:
        assert found is None
    else:
        assert found is not None
        assert problem in found
