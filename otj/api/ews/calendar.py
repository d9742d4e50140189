"""One room's calendar as Exchange Web Services answer it, for a Poly endpoint (pure).

The operations a calendar client such as a Poly endpoint's calendaring service makes against
its room mailbox: ``GetFolder`` (the ``calendar`` distinguished folder, whose ``ChangeKey``
changes whenever a meeting changes, so polling it tells the device to read again),
``FindItem`` with a ``CalendarView``, ``GetItem`` (with the body) and ``SyncFolderItems``
(Create/Update/Delete since a ``SyncState``); ``otj.api.ews.operations`` adds pull
notifications and dispatches.

The folder holds the room's listed meetings of the window the pull API serves, with the
subject already replaced by the privacy settings. The dial string is the alias as a URI
(``sip:alias``, ``h323:alias``): it is the ``Location``, and the body says ``Join: <uri>`` on
a line of its own: the places a calendar client looks for a dialable address.
Private meetings are marked ``Sensitivity`` ``Private``; nothing else of the invitation (no
description, no attendees) is ever served.

One credential reads one room: a request naming another mailbox (``Mailbox``, impersonation)
or an id of another room's folder or item gets ``ErrorAccessDenied``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from xml.etree.ElementTree import Element, SubElement

from otj.api.ews.items import Shape, calendar_item, iso
from otj.api.ews.soap import M, T, error, q, response_messages, success
from otj.delivery.devices.bookings import booking_id
from otj.model import Meeting

FOLDERS = {"root": "", "msgfolderroot": "Top of Information Store", "calendar": "Calendar"}
MAX_SYNC_CHANGES = 512


class EwsFailure(Exception):
    """An operation-level error: its ``ResponseCode`` and text."""

    def __init__(self, code: str, text: str) -> None:
        super().__init__(text)
        self.code = code
        self.text = text


def _parse_time(text: str) -> datetime:
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise EwsFailure("ErrorSchemaValidation", f"not an xs:dateTime: {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _count(text: str | None, default: int) -> int:
    if not text or not text.strip():
        return default
    try:
        return max(1, int(text))
    except ValueError:
        raise EwsFailure("ErrorSchemaValidation", f"not a count: {text!r}") from None


def encode_opaque(data: Any) -> str:
    raw = zlib.compress(json.dumps(data, separators=(",", ":")).encode("utf-8"))
    return base64.b64encode(raw).decode("ascii")


def decode_opaque(text: str) -> Any:
    try:
        return json.loads(zlib.decompress(base64.b64decode(text.strip(), validate=True)))
    except (binascii.Error, zlib.error, ValueError):
        return None


def _digest(*parts: str) -> str:
    return base64.b64encode(hashlib.sha256("\x1f".join(parts).encode()).digest()[:12]).decode()


@dataclass(frozen=True, slots=True)
class Entry:
    """One meeting as the room's calendar item."""

    key: str
    meeting: Meeting
    change_key: str


class RoomCalendar:
    """The room's calendar folder over its listed meetings, answering EWS operations."""

    def __init__(self, room: str, meetings: Iterable[Meeting]) -> None:
        self.room = room.lower()
        entries = []
        for meeting in sorted(meetings, key=lambda m: (m.start, m.event_id)):
            if not meeting.listed:
                continue
            key = booking_id(meeting.event_id)
            fingerprint = (
                meeting.subject,
                iso(meeting.start),
                iso(meeting.end),
                meeting.alias or "",
                meeting.protocol.value,
                str(meeting.private),
                meeting.organizer_name,
                meeting.organizer_email,
            )
            entries.append(Entry(key=key, meeting=meeting, change_key=_digest(*fingerprint)))
        self.entries: dict[str, Entry] = {e.key: e for e in entries}
        self.change_key = _digest(self.room, *(f"{e.key}={e.change_key}" for e in entries))

    # ids ---------------------------------------------------------------------------------
    def folder_id(self, name: str) -> str:
        """The opaque id of one of the room's folders."""
        return encode_opaque({"r": self.room, "f": name})

    def item_id(self, key: str) -> str:
        """The opaque id of one of the room's items."""
        return encode_opaque({"r": self.room, "i": key})

    def _own(self, text: str, field: str) -> str:
        decoded = decode_opaque(text)
        if not isinstance(decoded, dict) or not isinstance(decoded.get(field), str):
            raise EwsFailure("ErrorInvalidIdMalformed", "Id is malformed.")
        if decoded.get("r") != self.room:
            raise EwsFailure(
                "ErrorAccessDenied", "Access is denied: these credentials read one room only."
            )
        return str(decoded[field])

    def check_mailbox(self, address: str | None) -> None:
        """``ErrorAccessDenied`` unless ``address`` (when given) is this room's."""
        if address and address.strip().lower() != self.room:
            raise EwsFailure(
                "ErrorAccessDenied",
                f"Access is denied: these credentials read {self.room} only, not {address}.",
            )

    def folder_name(self, ref: Element) -> str:
        """The folder a ``DistinguishedFolderId``/``FolderId`` names (one of the room's)."""
        if ref.tag == q(T, "DistinguishedFolderId"):
            mailbox = ref.find(q(T, "Mailbox"))
            if mailbox is not None:
                self.check_mailbox(mailbox.findtext(q(T, "EmailAddress")))
            name = ref.get("Id", "")
        elif ref.tag == q(T, "FolderId"):
            name = self._own(ref.get("Id", ""), "f")
        else:
            raise EwsFailure("ErrorInvalidRequest", f"unexpected folder reference {ref.tag}")
        if name not in FOLDERS:
            raise EwsFailure(
                "ErrorFolderNotFound", "The specified folder could not be found in the store."
            )
        return name

    def _folders(self, request: Element, container: str) -> list[Element]:
        refs = request.find(q(M, container))
        return list(refs) if refs is not None else []

    # operations --------------------------------------------------------------------------
    def get_folder(self, request: Element) -> Element:
        """``GetFolder``: root, msgfolderroot or calendar (the calendar's ``ChangeKey`` is the
        digest of its items)."""
        response, messages = response_messages("GetFolder")
        for ref in self._folders(request, "FolderIds"):
            try:
                name = self.folder_name(ref)
            except EwsFailure as failure:
                error(messages, "GetFolder", failure.code, failure.text)
                continue
            message = success(messages, "GetFolder")
            folders = SubElement(message, q(M, "Folders"))
            calendar = name == "calendar"
            folder = SubElement(folders, q(T, "CalendarFolder" if calendar else "Folder"))
            SubElement(
                folder,
                q(T, "FolderId"),
                Id=self.folder_id(name),
                ChangeKey=self.change_key if calendar else _digest(self.room, name),
            )
            if name != "root":
                parent = "msgfolderroot" if calendar else "root"
                SubElement(
                    folder,
                    q(T, "ParentFolderId"),
                    Id=self.folder_id(parent),
                    ChangeKey=_digest(self.room, parent),
                )
            if calendar:
                SubElement(folder, q(T, "FolderClass")).text = "IPF.Appointment"
            SubElement(folder, q(T, "DisplayName")).text = FOLDERS[name]
            SubElement(folder, q(T, "TotalCount")).text = str(len(self.entries) if calendar else 0)
            SubElement(folder, q(T, "ChildFolderCount")).text = "0"
            rights = SubElement(folder, q(T, "EffectiveRights"))
            for right in ("CreateAssociated", "CreateContents", "CreateHierarchy", "Delete"):
                SubElement(rights, q(T, right)).text = "false"
            SubElement(rights, q(T, "Modify")).text = "false"
            SubElement(rights, q(T, "Read")).text = "true"
            SubElement(rights, q(T, "ViewPrivateItems")).text = "true"
            if not calendar:
                SubElement(folder, q(T, "UnreadCount")).text = "0"
        return response

    def find_item(self, request: Element) -> Element:
        """``FindItem`` on the calendar, with a ``CalendarView`` or without (every item), no
        body (as Exchange)."""
        response, messages = response_messages("FindItem")
        try:
            start, end, limit = self._calendar_view(request)
        except EwsFailure as failure:
            error(messages, "FindItem", failure.code, failure.text)
            return response
        shape = Shape.parse(request.find(q(M, "ItemShape")))
        found = [
            e for e in self.entries.values() if e.meeting.start < end and e.meeting.end > start
        ]
        message = success(messages, "FindItem")
        root = SubElement(
            message,
            q(M, "RootFolder"),
            TotalItemsInView=str(len(found)),
            IncludesLastItemInRange="true" if len(found) <= limit else "false",
        )
        items = SubElement(root, q(T, "Items"))
        for entry in found[:limit]:
            items.append(self.item(entry, shape, with_body=False))
        return response

    def _calendar_view(self, request: Element) -> tuple[datetime, datetime, int]:
        names = [self.folder_name(ref) for ref in self._folders(request, "ParentFolderIds")]
        if names != ["calendar"]:
            raise EwsFailure("ErrorInvalidRequest", "FindItem reads the calendar folder only.")
        view = request.find(q(M, "CalendarView"))
        if view is None:  # every item of the folder (they are all single meetings)
            return datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC), 1000
        start = _parse_time(view.get("StartDate", ""))
        end = _parse_time(view.get("EndDate", ""))
        if end < start:
            raise EwsFailure(
                "ErrorCalendarEndDateIsEarlierThanStartDate", "EndDate is earlier than StartDate"
            )
        return start, end, _count(view.get("MaxEntriesReturned"), len(self.entries) or 1)

    def _entry(self, ref: Element) -> Entry:
        entry = self.entries.get(self._own(ref.get("Id", ""), "i"))
        if entry is None:
            raise EwsFailure(
                "ErrorItemNotFound", "The specified object was not found in the store."
            )
        return entry

    def get_item(self, request: Element) -> Element:
        """``GetItem`` by the ids ``FindItem``/``SyncFolderItems`` gave (with the body)."""
        response, messages = response_messages("GetItem")
        shape = Shape.parse(request.find(q(M, "ItemShape")))
        for ref in self._folders(request, "ItemIds"):
            try:
                entry = self._entry(ref)
            except EwsFailure as failure:
                error(messages, "GetItem", failure.code, failure.text)
                continue
            message = success(messages, "GetItem")
            SubElement(message, q(M, "Items")).append(self.item(entry, shape, with_body=True))
        return response

    def sync_folder_items(self, request: Element) -> Element:
        """``SyncFolderItems`` on the calendar: Create/Update/Delete since the ``SyncState``
        (which carries the item keys and change keys the client holds)."""
        response, messages = response_messages("SyncFolderItems")
        try:
            held, limit = self._sync_request(request)
        except EwsFailure as failure:
            error(messages, "SyncFolderItems", failure.code, failure.text)
            return response
        limit = max(1, min(limit, MAX_SYNC_CHANGES))
        changes: list[tuple[str, str]] = []
        for key, entry in self.entries.items():
            if key not in held:
                changes.append(("Create", key))
            elif held[key] != entry.change_key:
                changes.append(("Update", key))
        changes += [("Delete", key) for key in held if key not in self.entries]
        batch = changes[:limit]
        state = dict(held)
        for kind, key in batch:
            if kind == "Delete":
                state.pop(key, None)
            else:
                state[key] = self.entries[key].change_key
        shape = Shape.parse(request.find(q(M, "ItemShape")))
        message = success(messages, "SyncFolderItems")
        SubElement(message, q(M, "SyncState")).text = encode_opaque({"r": self.room, "s": state})
        SubElement(message, q(M, "IncludesLastItemInRange")).text = (
            "true" if len(changes) <= limit else "false"
        )
        container = SubElement(message, q(M, "Changes"))
        for kind, key in batch:
            change = SubElement(container, q(T, kind))
            if kind == "Delete":
                SubElement(change, q(T, "ItemId"), Id=self.item_id(key), ChangeKey=held[key])
            else:
                change.append(self.item(self.entries[key], shape, with_body=False))
        return response

    def _sync_request(self, request: Element) -> tuple[dict[str, str], int]:
        folder = request.find(q(M, "SyncFolderId"))
        names = [self.folder_name(ref) for ref in (list(folder) if folder is not None else [])]
        if names != ["calendar"]:
            raise EwsFailure("ErrorInvalidRequest", "SyncFolderItems syncs the calendar only.")
        held = self._sync_state(request.findtext(q(M, "SyncState")) or "")
        return held, _count(request.findtext(q(M, "MaxChangesReturned")), 100)

    def _sync_state(self, text: str) -> dict[str, str]:
        if not text.strip():
            return {}
        decoded = decode_opaque(text)
        if (
            not isinstance(decoded, dict)
            or decoded.get("r") != self.room
            or not isinstance(decoded.get("s"), dict)
        ):
            raise EwsFailure(
                "ErrorInvalidSyncStateData",
                "Synchronization state data is corrupt or otherwise invalid.",
            )
        return {str(k): str(v) for k, v in decoded["s"].items()}

    # items -------------------------------------------------------------------------------
    def item(self, entry: Entry, shape: Shape, *, with_body: bool) -> Element:
        """One ``t:CalendarItem`` of the calendar (``otj.api.ews.items.calendar_item``)."""
        return calendar_item(
            entry.meeting,
            shape,
            item_id=self.item_id(entry.key),
            change_key=entry.change_key,
            uid=entry.meeting.ical_uid or f"{entry.key}@otj",
            folder_id=self.folder_id("calendar"),
            with_body=with_body,
        )
