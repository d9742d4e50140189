"""xAPI documents and answers: commands, results, versions, feedback events."""

from __future__ import annotations

import defusedxml.ElementTree as SafeET
import pytest

from otj.delivery.devices.errors import EndpointCommandFailed, EndpointProtocolError
from otj.delivery.devices.xapi import (
    command_document,
    dial_protocol,
    parse_command_result,
    parse_dial_result,
    parse_feedback,
    parse_software_version,
    parse_status_version,
)


def test_command_document_with_repeated_params_and_body() -> None:
    document = command_document(
        ["HttpFeedback", "Register"],
        {
            "FeedbackSlot": 2,
            "ServerUrl": "http://h/x?a=1&b=2",
            "Expression": ["/Event/Bookings", "/Status/Call"],
        },
        body='{"x": "<&>"}',
    )
    root = SafeET.fromstring(document)
    register = root.find("HttpFeedback/Register")
    assert register is not None
    assert register.findtext("FeedbackSlot") == "2"
    assert register.findtext("ServerUrl") == "http://h/x?a=1&b=2"
    expressions = register.findall("Expression")
    assert [(e.get("item"), e.text) for e in expressions] == [
        ("1", "/Event/Bookings"),
        ("2", "/Status/Call"),
    ]
    assert register.findtext("body") == '{"x": "<&>"}'


@pytest.mark.parametrize(
    ("document", "error", "message"),
    [
        (b'<Command><BookingsPutResult status="OK"/></Command>', None, ""),
        (
            (
                b'<Command><BookingsPutResult status="Error"><Reason>Invalid JSON</Reason>'
                b"</BookingsPutResult></Command>"
            ),
            EndpointCommandFailed,
            "Invalid JSON",
        ),
        (
            (
                b'<Command><Result status="Error"><Reason>Unknown command</Reason>'
                b"<XPath>/Bookings/Put</XPath></Result></Command>"
            ),
            EndpointCommandFailed,
            r"Unknown command \(/Bookings/Put\)",
        ),
        (
            b'<Command><DialResult status="ParameterError"/></Command>',
            EndpointCommandFailed,
            "ParameterError",
        ),
        (b"<html><body>Login</body></html>", EndpointProtocolError, "expected <Command>"),
        (b"\x00\xff<<garbage", EndpointProtocolError, "not XML"),
        (b"", EndpointProtocolError, "not XML"),
        (
            b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><Command>&e;</Command>',
            EndpointProtocolError,
            "not XML",
        ),
    ],
)
def test_command_results(document: bytes, error: type[Exception] | None, message: str) -> None:
    if error is None:
        assert parse_command_result(document, command="Bookings Put").name == "BookingsPutResult"
        return
    with pytest.raises(error, match=message):
        parse_command_result(document, command="Bookings Put")


@pytest.mark.parametrize(
    ("text", "put", "platform"),
    [
        ("ce9.12.4.a0d6f3d5e0c", False, False),
        ("ce9.15.3.17.abc", True, False),
        ("ce10.19.4.2.1a2b", True, False),
        ("ce11.14.1.5.b5a9b5d6d9e", True, True),
        ("RoomOS 11.5.1.7 abcdef", True, True),
        ("ce26.0.0.51.ddab38ccabf", True, True),
        ("TC7.3.6.01c5e7d", False, False),
        ("garbage", False, False),
    ],
)
def test_software_versions(text: str, put: bool, platform: bool) -> None:
    version = parse_software_version(text)
    assert version.supports_bookings_put is put
    assert version.supports_meeting_platform is platform


def test_status_xml_version() -> None:
    document = (
        b'<?xml version="1.0"?><Status product="Cisco Codec" version="ce9.15.3.17">'
        b"<SystemUnit><Software><Version>ce9.15.3.17.abc</Version></Software>"
        b"</SystemUnit></Status>"
    )
    assert parse_status_version(document).text == "ce9.15.3.17.abc"
    with pytest.raises(EndpointProtocolError):
        parse_status_version(b"<Status/>")
    with pytest.raises(EndpointProtocolError):
        parse_status_version(b"<html/>")


def test_dial_result() -> None:
    outcome = parse_dial_result(
        b'<Command><DialResult status="OK"><CallId>7</CallId>'
        b"<ConferenceId>3</ConferenceId></DialResult></Command>"
    )
    assert (outcome.call_id, outcome.conference_id) == (7, 3)
    with pytest.raises(EndpointCommandFailed, match="busy"):
        parse_dial_result(
            b'<Command><DialResult status="Error"><Reason>busy</Reason></DialResult></Command>'
        )
    assert dial_protocol("SIP") == "Sip"
    assert dial_protocol("H323") == "H323"


def test_feedback_xml_and_json() -> None:
    xml_event = parse_feedback(
        b"<Event><Identification><SystemName>Fjord</SystemName><MACAddress>00:11</MACAddress>"
        b'</Identification><Bookings item="1"><SyncRequired item="1"/></Bookings></Event>'
    )
    assert xml_event.sync_required
    assert xml_event.identification["SystemName"] == "Fjord"
    json_event = parse_feedback(
        b'{"Event": {"Identification": {"SystemName": {"Value": "Fjord"}},'
        b' "Bookings": {"SyncRequired": {"id": 1}}}}',
        content_type="application/json",
    )
    assert json_event.sync_required
    assert json_event.identification["SystemName"] == "Fjord"
    other = parse_feedback(b"<Event><Bookings><Start><Id>1</Id></Start></Bookings></Event>")
    assert not other.sync_required
    assert other.booking_events == ("Start",)
    with pytest.raises(EndpointProtocolError):
        parse_feedback(b"{not json", content_type="application/json")
