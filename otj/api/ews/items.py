"""A meeting as an EWS ``t:CalendarItem`` (pure), with the properties an ``ItemShape`` asks for.

Elements come in the order of types.xsd's sequences (ItemType, then CalendarItemType). The
dial string is the alias as a URI (``sip:alias``, ``h323:alias``): the ``Location``, and a
``Join: <uri>`` line as the body, where Poly endpoints find it; the subject is the stored one
(already replaced by the profile's privacy settings), and private meetings are
``Sensitivity`` ``Private``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from xml.etree.ElementTree import Element, SubElement

from otj.api.ews.soap import T, q
from otj.delivery.devices.bookings import fit_text
from otj.delivery.pull.feeds import dial_uri
from otj.model import Meeting


def iso(moment: datetime) -> str:
    """``2026-03-02T09:00:00Z`` (xs:dateTime in UTC)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class Shape:
    """What an ``ItemShape`` asks for."""

    base: str
    extra: frozenset[str]
    body_type: str

    @classmethod
    def parse(cls, shape: Element | None) -> Shape:
        """``IdOnly``/``Default``/``AllProperties``, ``AdditionalProperties``, ``BodyType``."""
        if shape is None:
            return cls("Default", frozenset(), "Text")
        extra = frozenset(
            uri.get("FieldURI", "").split(":", 1)[-1]
            for uri in shape.iter(q(T, "FieldURI"))
            if uri.get("FieldURI")
        )
        body_type = (shape.findtext(q(T, "BodyType")) or "Text").strip()
        return cls((shape.findtext(q(T, "BaseShape")) or "Default").strip(), extra, body_type)

    def wants(self, name: str, *, body: bool = False) -> bool:
        """Whether the element ``name`` is to be sent."""
        if name in self.extra:
            return True
        if body:
            return self.base in ("Default", "AllProperties")
        return self.base != "IdOnly"


def calendar_item(
    meeting: Meeting,
    shape: Shape,
    *,
    item_id: str,
    change_key: str,
    uid: str,
    folder_id: str,
    with_body: bool,
) -> Element:
    """One ``t:CalendarItem`` with the fields ``shape`` asks for, in the schema's order."""
    uri = dial_uri(meeting.alias, meeting.protocol) if meeting.alias else ""
    item = Element(q(T, "CalendarItem"))
    SubElement(item, q(T, "ItemId"), Id=item_id, ChangeKey=change_key)

    def add(name: str, text: str, *, body: bool = False) -> Element | None:
        if not shape.wants(name, body=body):
            return None
        element = SubElement(item, q(T, name))
        element.text = text
        return element

    if shape.wants("ParentFolderId"):
        SubElement(item, q(T, "ParentFolderId"), Id=folder_id, ChangeKey="")
    add("ItemClass", "IPM.Appointment")
    add("Subject", fit_text(meeting.subject))
    add("Sensitivity", "Private" if meeting.private else "Normal")
    if with_body:
        html = shape.body_type.upper() == "HTML"
        body = add("Body", body_html(uri) if html else body_text(uri), body=True)
        if body is not None:
            body.set("BodyType", "HTML" if html else "Text")
    add("ReminderIsSet", "false")
    add("UID", uid)
    add("Start", iso(meeting.start))
    add("End", iso(meeting.end))
    add("IsAllDayEvent", "false")
    add("LegacyFreeBusyStatus", "Busy")
    add("Location", uri)
    add("IsMeeting", "true")
    add("IsCancelled", "false")
    add("IsRecurring", "false")
    add("CalendarItemType", "Single")
    add("MyResponseType", "Accept")
    if shape.wants("Organizer") and (meeting.organizer_email or meeting.organizer_name):
        mailbox = SubElement(SubElement(item, q(T, "Organizer")), q(T, "Mailbox"))
        SubElement(mailbox, q(T, "Name")).text = fit_text(meeting.organizer_name)
        if meeting.organizer_email:
            SubElement(mailbox, q(T, "EmailAddress")).text = meeting.organizer_email
            SubElement(mailbox, q(T, "RoutingType")).text = "SMTP"
    return item


def body_text(uri: str) -> str:
    """The text body: the dial URI on its own line (nothing else of the invitation)."""
    return f"Join: {uri}\r\n" if uri else ""


def body_html(uri: str) -> str:
    """The HTML body: the dial URI as text and as a link."""
    if not uri:
        return "<html><body></body></html>"
    safe = escape(uri, quote=True)
    return f'<html><body><p>Join: <a href="{safe}">{safe}</a></p></body></html>'
