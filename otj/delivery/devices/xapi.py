"""Cisco xAPI over HTTP ("putxml"): command documents and device answers (pure).

A command is POSTed to ``/putxml`` as ``<Command><Path><Of><Command><Param>v</Param>…``; repeated
parameters carry ``item="n"`` and a multiline payload goes in ``<body>``. The device answers
``<Command><NameResult status="OK">…`` (``status="Error"`` with a ``<Reason>`` otherwise).
Status is read with ``GET /status.xml`` (``<Status><SystemUnit><Software><Version>``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from xml.etree.ElementTree import Element, SubElement, tostring

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError as XMLParseError
from defusedxml.ElementTree import fromstring as parse_untrusted_xml

from otj.delivery.devices.errors import EndpointCommandFailed, EndpointProtocolError

ParamValue = str | int | Sequence[str]


def command_document(
    path: Sequence[str],
    params: Mapping[str, ParamValue] | None = None,
    *,
    body: str | None = None,
) -> bytes:
    """The ``/putxml`` document for ``xCommand <path> <params>`` (with an optional body)."""
    root = Element("Command")
    node = root
    for part in path:
        node = SubElement(node, part)
    for name, value in (params or {}).items():
        if isinstance(value, (str, int)):
            SubElement(node, name).text = str(value)
        else:
            for index, item in enumerate(value, start=1):
                SubElement(node, name, {"item": str(index)}).text = item
    if body is not None:
        SubElement(node, "body").text = body
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + bytes(
        tostring(root, encoding="utf-8", xml_declaration=False)
    )


def parse_xml(document: bytes, *, what: str) -> Element:
    """Parse a device answer with defusedxml, mapping any failure to EndpointProtocolError."""
    try:
        root: Element = parse_untrusted_xml(document)
    except (XMLParseError, ValueError, DefusedXmlException) as exc:
        preview = document[:80].decode("utf-8", "replace")
        raise EndpointProtocolError(f"{what}: answer is not XML ({preview!r})") from exc
    return root


@dataclass(frozen=True, kw_only=True, slots=True)
class CommandResult:
    """The ``…Result`` element of a successful command."""

    name: str
    element: Element = field(repr=False)

    def text(self, path: str, default: str = "") -> str:
        """Text of a child element of the result."""
        found = self.element.find(path)
        return default if found is None or found.text is None else found.text


def parse_command_result(document: bytes, *, command: str) -> CommandResult:
    """Read ``<Command><XResult status=…>``; raise EndpointCommandFailed unless status is OK."""
    root = parse_xml(document, what=command)
    if root.tag != "Command" or len(root) == 0:
        raise EndpointProtocolError(f"{command}: expected <Command><…Result>, got <{root.tag}>")
    result = root[0]
    status = result.get("status", "")
    if status.upper() != "OK":
        reason = (result.findtext("Reason") or result.findtext("Description") or "").strip()
        xpath = (result.findtext("XPath") or "").strip()
        detail = reason or status or "no status"
        if xpath:
            detail = f"{detail} ({xpath})"
        raise EndpointCommandFailed(f"{command}: {detail}")
    return CommandResult(name=result.tag, element=result)


# --- software version -------------------------------------------------------------------------

_VERSION = re.compile(r"(?i)^\s*(?:(tc|ce|roomos)\s*)?(\d+)\.(\d+)(?:\.(\d+))?")


@dataclass(frozen=True, kw_only=True, slots=True)
class SoftwareVersion:
    """``SystemUnit Software Version`` (``ce9.15.3.17.abc``, ``ce11.14.1.5…``, ``TC7.3.6``)."""

    text: str
    family: str
    major: int
    minor: int
    patch: int

    @property
    def supports_bookings_put(self) -> bool:
        """``xCommand Bookings Put`` is in the xAPI from CE 9.15 on (absent in CE 9.12)."""
        return self.family != "tc" and (self.major, self.minor) >= (9, 15)

    @property
    def supports_meeting_platform(self) -> bool:
        """Whether the Put payload may carry ``MeetingPlatform`` (RoomOS 11 and later)."""
        return self.family != "tc" and self.major >= 11

    @property
    def supports_webrtc_join(self) -> bool:
        """Whether a booking with ``Protocol: WebRTC`` and a Meet/Teams URL gives a native Join
        button: RoomOS 11 and later (the release whose Bookings Put carries MeetingPlatform,
        which the device needs to pick Google Meet or Microsoft Teams)."""
        return self.supports_meeting_platform


def parse_software_version(text: str) -> SoftwareVersion:
    """Parse a version string; TC software and unknown text count as legacy (0.0)."""
    match = _VERSION.match(text)
    if match is None:
        return SoftwareVersion(text=text.strip(), family="unknown", major=0, minor=0, patch=0)
    family = (match.group(1) or "ce").lower()
    if family == "roomos":
        family = "ce"
    return SoftwareVersion(
        text=text.strip(),
        family=family,
        major=int(match.group(2)),
        minor=int(match.group(3)),
        patch=int(match.group(4) or 0),
    )


def parse_status_version(document: bytes) -> SoftwareVersion:
    """The software version from ``/status.xml`` (``Status/SystemUnit/Software/Version``)."""
    root = parse_xml(document, what="status.xml")
    if root.tag != "Status":
        raise EndpointProtocolError(f"status.xml: expected <Status>, got <{root.tag}>")
    version = root.findtext("SystemUnit/Software/Version") or root.get("version") or ""
    if not version.strip():
        raise EndpointProtocolError("status.xml: no SystemUnit/Software/Version")
    return parse_software_version(version)


# --- Dial -------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class DialOutcome:
    """``DialResult``: the call the device placed."""

    call_id: int
    conference_id: int


def parse_dial_result(document: bytes) -> DialOutcome:
    """Read ``<Command><DialResult status="OK"><CallId>…</CallId><ConferenceId>…``."""
    result = parse_command_result(document, command="Dial")
    try:
        return DialOutcome(
            call_id=int(result.text("CallId", "0") or 0),
            conference_id=int(result.text("ConferenceId", "0") or 0),
        )
    except ValueError as exc:
        raise EndpointProtocolError(f"Dial: unreadable DialResult: {exc}") from exc


def dial_protocol(protocol: str) -> str:
    """Dial's ``Protocol`` spelling (``Sip``/``H323``) for a booking protocol."""
    return {"SIP": "Sip", "H323": "H323"}.get(protocol.upper(), "Sip")


# --- HttpFeedback events ------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class PromptResponse:
    """``xEvent UserInterface Message Prompt Response``: an option chosen on a prompt."""

    feedback_id: str
    option_id: int


@dataclass(frozen=True, kw_only=True, slots=True)
class FeedbackEvent:
    """What a device posted to our HttpFeedback URL: the booking events it names, and the
    answers to our prompts."""

    booking_events: tuple[str, ...]
    identification: Mapping[str, str]
    prompt_responses: tuple[PromptResponse, ...] = ()

    @property
    def sync_required(self) -> bool:
        """The device asks for its booking list again (``xEvent Bookings SyncRequired``)."""
        return "SyncRequired" in self.booking_events


def _json_find(node: Any, key: str) -> Iterable[Any]:
    if isinstance(node, dict):
        for name, value in node.items():
            if name == key:
                yield value
            yield from _json_find(value, key)
    elif isinstance(node, list):
        for value in node:
            yield from _json_find(value, key)


def _value(node: Any) -> str:
    """A JSON feedback leaf: ``"x"``, ``1`` or ``{"Value": …}``."""
    if isinstance(node, dict):
        node = node.get("Value", "")
    return str(node).strip()


def _response(feedback_id: str, option: str) -> PromptResponse | None:
    try:
        return PromptResponse(feedback_id=feedback_id, option_id=int(option))
    except ValueError:
        return None


def _json_responses(data: Any) -> tuple[PromptResponse, ...]:
    found: list[PromptResponse] = []
    for prompt in _json_find(data, "Prompt"):
        for response in _json_find(prompt, "Response"):
            if isinstance(response, dict):
                parsed = _response(
                    _value(response.get("FeedbackId", "")), _value(response.get("OptionId", ""))
                )
                if parsed is not None:
                    found.append(parsed)
    return tuple(found)


def _xml_responses(root: Element) -> tuple[PromptResponse, ...]:
    found: list[PromptResponse] = []
    for prompt in root.iter("Prompt"):
        for response in prompt.iter("Response"):
            parsed = _response(
                (response.findtext("FeedbackId") or "").strip(),
                (response.findtext("OptionId") or "").strip(),
            )
            if parsed is not None:
                found.append(parsed)
    return tuple(found)


def parse_feedback(document: bytes, *, content_type: str = "") -> FeedbackEvent:
    """Parse an HttpFeedback POST body (``Format: XML`` or ``Format: JSON``)."""
    stripped = document.lstrip()
    if "json" in content_type.lower() or stripped.startswith((b"{", b"[")):
        try:
            data = json.loads(document)
        except ValueError as exc:
            raise EndpointProtocolError(f"feedback: not JSON: {exc}") from exc
        events: list[str] = []
        for bookings in _json_find(data, "Bookings"):
            if isinstance(bookings, dict):
                events.extend(str(name) for name in bookings if name not in ("id", "item"))
        identification: dict[str, str] = {}
        for ident in _json_find(data, "Identification"):
            if isinstance(ident, dict):
                identification.update(
                    {
                        str(k): str(v.get("Value", v) if isinstance(v, dict) else v)
                        for k, v in ident.items()
                    }
                )
        return FeedbackEvent(
            booking_events=tuple(events),
            identification=identification,
            prompt_responses=_json_responses(data),
        )
    root = parse_xml(document, what="feedback")
    events = []
    for bookings in root.iter("Bookings"):
        events.extend(child.tag for child in bookings)
    ident_node = root.find(".//Identification")
    identification = (
        {child.tag: (child.text or "").strip() for child in ident_node}
        if ident_node is not None
        else {}
    )
    return FeedbackEvent(
        booking_events=tuple(events),
        identification=identification,
        prompt_responses=_xml_responses(root),
    )
