"""The emulated Exchange calendar (pure): item shapes, paging, ids of other rooms, bodies."""

from __future__ import annotations

from datetime import timedelta
from xml.etree.ElementTree import Element, tostring

import pytest
from defusedxml.ElementTree import fromstring

from otj.api.ews.calendar import EwsFailure, RoomCalendar
from otj.api.ews.items import body_html
from otj.api.ews.operations import answer
from otj.api.ews.soap import SoapError, envelope, parse_request
from otj.model import CallProtocol
from tests.integration.delivery.ews_structure import check_response
from tests.unit.delivery.meetings import T0, meeting

ROOM = "fjord@resource.example.com"
S = "http://schemas.xmlsoap.org/soap/envelope/"
M = "http://schemas.microsoft.com/exchange/services/2006/messages"
T = "http://schemas.microsoft.com/exchange/services/2006/types"


def request(body: str) -> Element:
    data = (
        f'<s:Envelope xmlns:s="{S}" xmlns:m="{M}" xmlns:t="{T}">'
        f"<s:Body>{body}</s:Body></s:Envelope>"
    )
    parsed = parse_request(data.encode())
    return parsed.body


def run(calendar: RoomCalendar, body: str) -> Element:
    element = request(body)
    response = answer(calendar, element.tag.split("}")[1], element, now=T0)
    check_response(envelope(response))
    parsed: Element = fromstring(tostring(response))
    return parsed


def calendar(count: int = 3) -> RoomCalendar:
    return RoomCalendar(
        ROOM,
        [
            meeting(event_id=f"m{i}", subject=f"Meeting {i}", start=T0 + timedelta(hours=i))
            for i in range(count)
        ]
        + [meeting(event_id="hidden", listed=False)],
    )


def find(shape: str, extra: str = "", limit: str = "") -> str:
    return (
        f"<m:FindItem Traversal='Shallow'><m:ItemShape><t:BaseShape>{shape}</t:BaseShape>"
        f"{extra}</m:ItemShape><m:CalendarView StartDate='2026-03-01T00:00:00Z' "
        f"EndDate='2026-03-04T00:00:00Z' {limit}/>"
        "<m:ParentFolderIds><t:DistinguishedFolderId Id='calendar'/></m:ParentFolderIds>"
        "</m:FindItem>"
    )


def test_id_only_shape_sends_ids_and_the_asked_properties() -> None:
    extra = (
        "<t:AdditionalProperties><t:FieldURI FieldURI='calendar:Location'/>"
        "</t:AdditionalProperties>"
    )
    response = run(calendar(), find("IdOnly", extra))
    items = list(response.iter(f"{{{T}}}CalendarItem"))
    assert len(items) == 3  # the unlisted meeting is not in the calendar
    assert [child.tag.split("}")[1] for child in items[0]] == ["ItemId", "Location"]
    assert items[0][1].text == "sip:abc-defg-hij@google.pexip.me"


def test_max_entries_returned_pages_the_view() -> None:
    response = run(calendar(5), find("Default", limit="MaxEntriesReturned='2'"))
    root = next(response.iter(f"{{{M}}}RootFolder"))
    assert root.get("TotalItemsInView") == "5"
    assert root.get("IncludesLastItemInRange") == "false"
    assert len(list(response.iter(f"{{{T}}}CalendarItem"))) == 2


def test_sync_folder_items_pages_with_max_changes() -> None:
    room = calendar(3)
    body = (
        "<m:SyncFolderItems><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape>"
        "<m:SyncFolderId><t:DistinguishedFolderId Id='calendar'/></m:SyncFolderId>{state}"
        "<m:MaxChangesReturned>2</m:MaxChangesReturned></m:SyncFolderItems>"
    )
    first = run(room, body.format(state=""))
    assert first.findtext(f".//{{{M}}}IncludesLastItemInRange") == "false"
    assert len(list(first.iter(f"{{{T}}}Create"))) == 2
    state = first.findtext(f".//{{{M}}}SyncState")
    second = run(room, body.format(state=f"<m:SyncState>{state}</m:SyncState>"))
    assert second.findtext(f".//{{{M}}}IncludesLastItemInRange") == "true"
    assert len(list(second.iter(f"{{{T}}}Create"))) == 1
    # another room's state is not accepted
    other = RoomCalendar("berg@resource.example.com", [])
    refused = run(other, body.format(state=f"<m:SyncState>{state}</m:SyncState>"))
    assert refused.findtext(f".//{{{M}}}ResponseCode") == "ErrorInvalidSyncStateData"


def test_ids_of_another_room_and_other_mailboxes_are_access_denied() -> None:
    fjord, berg = calendar(1), RoomCalendar("berg@resource.example.com", [meeting()])
    foreign = berg.item_id("evt-1")
    got = run(fjord, f"<m:GetItem><m:ItemIds><t:ItemId Id='{foreign}'/></m:ItemIds></m:GetItem>")
    assert got.findtext(f".//{{{M}}}ResponseCode") == "ErrorAccessDenied"
    folder = run(
        fjord,
        "<m:GetFolder><m:FolderShape><t:BaseShape>Default</t:BaseShape></m:FolderShape>"
        "<m:FolderIds><t:DistinguishedFolderId Id='calendar'><t:Mailbox>"
        "<t:EmailAddress>berg@resource.example.com</t:EmailAddress></t:Mailbox>"
        "</t:DistinguishedFolderId></m:FolderIds></m:GetFolder>",
    )
    assert folder.findtext(f".//{{{M}}}ResponseCode") == "ErrorAccessDenied"
    malformed = run(fjord, "<m:GetItem><m:ItemIds><t:ItemId Id='nope'/></m:ItemIds></m:GetItem>")
    assert malformed.findtext(f".//{{{M}}}ResponseCode") == "ErrorInvalidIdMalformed"


def test_h323_aliases_and_html_bodies() -> None:
    room = RoomCalendar(ROOM, [meeting(alias="10.0.0.5##123", protocol=CallProtocol.H323)])
    item_id = room.item_id("evt-1")
    got = run(
        room,
        "<m:GetItem><m:ItemShape><t:BaseShape>Default</t:BaseShape><t:BodyType>HTML</t:BodyType>"
        f"</m:ItemShape><m:ItemIds><t:ItemId Id='{item_id}'/></m:ItemIds></m:GetItem>",
    )
    assert got.findtext(f".//{{{T}}}Location") == "h323:10.0.0.5##123"
    body = got.find(f".//{{{T}}}Body")
    assert body is not None
    assert body.get("BodyType") == "HTML"
    assert 'href="h323:10.0.0.5##123"' in (body.text or "")
    assert "&lt;" in body_html("sip:a<b@example.com")


def test_unsupported_operations_and_non_soap_are_refused() -> None:
    with pytest.raises(EwsFailure, match="not served"):
        answer(calendar(), "CreateItem", Element("x"), now=T0)
    with pytest.raises(SoapError):
        parse_request(b"<not-soap/>")
    with pytest.raises(SoapError):
        parse_request(b'<!DOCTYPE a [<!ENTITY b "c">]><a>&b;</a>')
