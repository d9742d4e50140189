"""A structural check of the EWS answers otj emits (not a schema validation).

Microsoft's messages.xsd/types.xsd are not shipped by exchangelib or any package this project
installs, so this checks, by hand, what those schemas say about the elements otj emits: the
SOAP envelope and its namespaces, ``ServerVersionInfo``, one ``m:{Op}Response`` with
``m:{Op}ResponseMessage``s whose ``ResponseClass`` and ``ResponseCode`` are present, and the
children of ``t:CalendarItem``/``t:CalendarFolder``/``t:Folder`` in the order of the schema's
``xs:sequence`` (ItemType then CalendarItemType; BaseFolderType then FolderType), transcribed
from types.xsd for those elements.
"""

from __future__ import annotations

from xml.etree.ElementTree import Element

from defusedxml.ElementTree import fromstring

S = "http://schemas.xmlsoap.org/soap/envelope/"
M = "http://schemas.microsoft.com/exchange/services/2006/messages"
T = "http://schemas.microsoft.com/exchange/services/2006/types"

# types.xsd ItemType then CalendarItemType (the part of the sequences that otj may emit)
CALENDAR_ITEM_ORDER = [
    "ItemId",
    "ParentFolderId",
    "ItemClass",
    "Subject",
    "Sensitivity",
    "Body",
    "DateTimeReceived",
    "Size",
    "Categories",
    "Importance",
    "ReminderIsSet",
    "ReminderMinutesBeforeStart",
    "UID",
    "RecurrenceId",
    "DateTimeStamp",
    "Start",
    "End",
    "OriginalStart",
    "IsAllDayEvent",
    "LegacyFreeBusyStatus",
    "Location",
    "When",
    "IsMeeting",
    "IsCancelled",
    "IsRecurring",
    "MeetingRequestWasSent",
    "IsResponseRequested",
    "CalendarItemType",
    "MyResponseType",
    "Organizer",
]
# BaseFolderType then FolderType / CalendarFolderType
FOLDER_ORDER = [
    "FolderId",
    "ParentFolderId",
    "FolderClass",
    "DisplayName",
    "TotalCount",
    "ChildFolderCount",
    "ExtendedProperty",
    "ManagedFolderInformation",
    "EffectiveRights",
    "UnreadCount",
]
RIGHTS_ORDER = [
    "CreateAssociated",
    "CreateContents",
    "CreateHierarchy",
    "Delete",
    "Modify",
    "Read",
    "ViewPrivateItems",
]
SUCCESS_FIRST = ("ResponseCode",)
ERROR_ORDER = ("MessageText", "ResponseCode", "DescriptiveLinkKey")
MESSAGE_CHILDREN = {
    "GetFolder": ("Folders",),
    "FindItem": ("RootFolder",),
    "GetItem": ("Items",),
    "SyncFolderItems": ("SyncState", "IncludesLastItemInRange", "Changes"),
    "Subscribe": ("SubscriptionId", "Watermark"),
    "GetEvents": ("Notification",),
    "Unsubscribe": (),
}
# types.xsd NotificationType, and the events' sequences (BaseNotificationEventType, then
# BaseObjectChangedEventType: TimeStamp, FolderId|ItemId, ParentFolderId; ModifiedEventType)
NOTIFICATION_ORDER = ["SubscriptionId", "PreviousWatermark", "MoreEvents"]
EVENT_ORDER = ["Watermark", "TimeStamp", "FolderId", "ItemId", "ParentFolderId", "UnreadCount"]


def _local(element: Element, namespace: str) -> str:
    assert element.tag.startswith(f"{{{namespace}}}"), f"{element.tag} not in {namespace}"
    return element.tag.split("}", 1)[1]


def _ordered(parent: Element, order: list[str] | tuple[str, ...], namespace: str) -> list[str]:
    names = [_local(child, namespace) for child in parent]
    unknown = [n for n in names if n not in order]
    assert not unknown, f"{parent.tag}: elements outside the schema's sequence: {unknown}"
    positions = [order.index(n) for n in names]
    assert positions == sorted(positions), f"{parent.tag}: out of schema order: {names}"
    assert len(set(names)) == len(names), f"{parent.tag}: repeated elements {names}"
    return names


def check_item(item: Element) -> None:
    """A ``t:CalendarItem``: schema order, an ItemId with Id and ChangeKey."""
    assert _local(item, T) == "CalendarItem"
    names = _ordered(item, CALENDAR_ITEM_ORDER, T)
    assert names[0] == "ItemId", names
    item_id = item[0]
    assert item_id.get("Id")
    assert item_id.get("ChangeKey") is not None
    body = item.find(f"{{{T}}}Body")
    if body is not None:
        assert body.get("BodyType") in ("Text", "HTML")


def check_folder(folder: Element) -> None:
    """A ``t:CalendarFolder``/``t:Folder``: schema order and its rights."""
    assert _local(folder, T) in ("CalendarFolder", "Folder")
    names = _ordered(folder, FOLDER_ORDER, T)
    assert names[0] == "FolderId"
    rights = folder.find(f"{{{T}}}EffectiveRights")
    if rights is not None:
        _ordered(rights, RIGHTS_ORDER, T)


def check_response(body: bytes) -> str:
    """Check one SOAP answer; returns its operation name."""
    envelope = fromstring(body)
    assert envelope.tag == f"{{{S}}}Envelope"
    header, soap_body = list(envelope)
    assert header.tag == f"{{{S}}}Header"
    assert header.find(f"{{{T}}}ServerVersionInfo") is not None
    assert soap_body.tag == f"{{{S}}}Body"
    (response,) = list(soap_body)
    operation = _local(response, M).removesuffix("Response")
    assert operation in MESSAGE_CHILDREN, operation
    (messages,) = list(response)
    assert _local(messages, M) == "ResponseMessages"
    for message in messages:
        assert _local(message, M) == f"{operation}ResponseMessage"
        names = [_local(c, M) for c in message]
        if message.get("ResponseClass") == "Error":
            assert tuple(names) == ERROR_ORDER, names
            continue
        assert message.get("ResponseClass") == "Success"
        assert names[0] == "ResponseCode"
        assert message[0].text == "NoError"
        assert tuple(names[1:]) == MESSAGE_CHILDREN[operation], names
        for item in message.iter(f"{{{T}}}CalendarItem"):
            check_item(item)
        for tag in ("CalendarFolder", "Folder"):
            for folder in message.iter(f"{{{T}}}{tag}"):
                check_folder(folder)
        if operation == "FindItem":
            root = message[1]
            assert root.get("TotalItemsInView") is not None
            assert root.get("IncludesLastItemInRange") in ("true", "false")
            assert [_local(c, T) for c in root] == ["Items"]
        if operation == "GetEvents":
            notification = message[1]
            names = [_local(c, T) for c in notification]
            assert names[:3] == NOTIFICATION_ORDER, names
            assert names[3:], "a notification has at least one event"
            for event in list(notification)[3:]:
                assert _local(event, T) in ("StatusEvent", "ModifiedEvent")
                _ordered(event, EVENT_ORDER, T)
        if operation == "SyncFolderItems":
            for change in message[3]:
                assert _local(change, T) in ("Create", "Update", "Delete")
    return operation
