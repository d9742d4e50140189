"""A wire-faithful fake of Exchange Web Services (Exchange Server 2016 on premises), calendar reads.

Written from the EWS schema (messages.xsd/types.xsd) and checked against what exchangelib really
sends (``fake.request_bodies`` keeps every SOAP request). One endpoint, ``POST /EWS/Exchange.asmx``,
authenticated by the schemes in ``auth`` (see ``tests.fakes.ews_auth``): ``basic``, ``ntlm``
(connection-bound handshake, NTLMv2 verified by pyspnego) and ``bearer`` (OAuth 2.0 tokens from
the fake's own Microsoft identity platform endpoint ``POST /{tenant}/oauth2/v2.0/token``; an
app-only token must come with ``ExchangeImpersonation``). It answers:

- ``GetFolder`` (``root``/``msgfolderroot``/``calendar`` by DistinguishedFolderId, or FolderId),
- ``FindItem`` with ``CalendarView`` (server-side expansion of series, ``MaxEntriesReturned``),
- ``GetItem`` (``BaseShape``/``AdditionalProperties``/``BodyType``),
- ``SyncFolderItems`` (Create/Update/Delete since a ``SyncState``; ``MaxChangesReturned``),
- ``Subscribe`` (``StreamingSubscriptionRequest``), ``GetStreamingEvents`` (a chunked stream of
  envelopes) and ``Unsubscribe``: see ``tests.fakes.ews_streaming``,
- SOAP faults: ``ErrorServerBusy`` with ``BackOffMilliseconds``, ``ErrorNonExistentMailbox``,
  ``ErrorImpersonateUserDenied``, ``ErrorInvalidSyncStateData``, ``ErrorSchemaValidation``.

Impersonation: an ``ExchangeImpersonation`` header is honoured only for service accounts in
``impersonators``; without it, the account needs to be a delegate (``delegates``) of the mailbox.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element, SubElement, tostring

from defusedxml.ElementTree import ParseError, fromstring

# CLDR's IANA → Windows zone table (data only; the fake uses nothing else from exchangelib)
from exchangelib.winzone import IANA_TO_MS_TIMEZONE_MAP

from tests.fakes.ews_auth import (
    EXCHANGE_ONLINE_RESOURCE,
    NtlmAcceptor,
    TokenIssuer,
    Verdict,
    bearer_challenge,
    unauthorized,
)
from tests.fakes.ews_streaming import (
    StreamingHub,
    StreamingRefused,
    streaming_response,
    subscribe_error,
    subscribe_response,
    unsubscribe_response,
)
from tests.fakes.google_calendar_http import Response, ScriptedHTTPServer
from tests.fakes.graph_store import FakeEvent, MailboxStore, Occurrence

S = "http://schemas.xmlsoap.org/soap/envelope/"
M = "http://schemas.microsoft.com/exchange/services/2006/messages"
T = "http://schemas.microsoft.com/exchange/services/2006/types"
E = "http://schemas.microsoft.com/exchange/services/2006/errors"
XML = "text/xml; charset=utf-8"
ENDPOINT = "/EWS/Exchange.asmx"
TOKEN_PATH = "/oauth2/v2.0/token"
AUTH_SCHEMES = frozenset({"basic", "ntlm", "bearer"})

_RESPONSE_TYPE = {
    "accepted": "Accept",
    "declined": "Decline",
    "tentative": "Tentative",
    "none": "NoResponseReceived",
    "organizer": "Organizer",
}
_ITEM_TYPE = {"singleInstance": "Single", "occurrence": "Occurrence", "exception": "Exception"}


def _q(ns: str, name: str) -> str:
    return f"{{{ns}}}{name}"


def _ews_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def soap_fault(code: str, message: str, *, back_off_ms: int | None = None) -> bytes:
    """An EWS SOAP fault (HTTP 500) with ``detail/e:ResponseCode`` and optional MessageXml."""
    message_xml = ""
    if back_off_ms is not None:
        message_xml = (
            f'<t:MessageXml xmlns:t="{T}"><t:Value Name="BackOffMilliseconds">{back_off_ms}'
            "</t:Value></t:MessageXml>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<s:Envelope xmlns:s="{S}"><s:Body><s:Fault>'
        f'<faultcode xmlns:a="{T}">a:{code}</faultcode>'
        f'<faultstring xml:lang="en-US">{message}</faultstring>'
        f'<detail><e:ResponseCode xmlns:e="{E}">{code}</e:ResponseCode>'
        f'<e:Message xmlns:e="{E}">{message}</e:Message>{message_xml}</detail>'
        "</s:Fault></s:Body></s:Envelope>"
    ).encode()


class _Fault(Exception):
    def __init__(self, code: str, message: str, *, back_off_ms: int | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.back_off_ms = code, message, back_off_ms


class EwsFake(ScriptedHTTPServer):
    """The fake server. ``store`` holds the mailboxes; credentials are ``users``.

    ``auth`` lists the accepted HTTP authentication schemes. With ``bearer`` the fake is also
    the tenant's token endpoint (``authority_host``) for the app ``client_id``/``client_secret``;
    that app holds ``full_access_as_app`` (it impersonates) unless removed from ``impersonators``.
    OAuth needs ``tls`` (requests-oauthlib enforces RFC 6749's HTTPS rule); with ``tls`` NTLM also
    checks the channel binding.
    """

    def __init__(
        self,
        *,
        users: Mapping[str, str] | None = None,
        impersonators: Iterable[str] = ("EXAMPLE\\svc-otj",),
        now: Callable[[], datetime] | None = None,
        auth: Iterable[str] = ("basic",),
        tls: tuple[Path, Path] | None = None,
        tenant_id: str = "22222222-2222-2222-2222-222222222222",
        client_id: str = "33333333-3333-3333-3333-333333333333",
        client_secret: str = "fake-ews-app-secret",
        token_lifetime: timedelta = timedelta(hours=1),
    ) -> None:
        super().__init__(tls=tls)
        self.auth = frozenset(auth)
        if not self.auth or not self.auth <= AUTH_SCHEMES:
            raise ValueError(f"auth must be a non-empty subset of {sorted(AUTH_SCHEMES)}")
        self.users = dict(users or {"EXAMPLE\\svc-otj": "ews-password"})
        self.impersonators = {u.lower() for u in impersonators}
        clock = now or (lambda: datetime.now(UTC))
        self.ntlm = NtlmAcceptor(self.users, certificate=tls[0] if tls else None)
        self.tokens = TokenIssuer(
            tenant_id=tenant_id,
            client_id=client_id,
            client_secret=client_secret,
            resources=lambda: (self.base_url, EXCHANGE_ONLINE_RESOURCE),
            lifetime=token_lifetime,
            now=clock,
        )
        if "bearer" in self.auth:
            self.impersonators.add(f"app:{client_id}".lower())
        self.delegates: dict[str, set[str]] = {}
        self.store = MailboxStore(now=now)
        self.streaming = StreamingHub()
        self.store.on_change(self.streaming.changed)
        self.request_bodies: list[str] = []
        self.operations: list[tuple[str, str]] = []
        self._lock2 = threading.Lock()
        self._busy: list[tuple[int, str | None]] = []

    @property
    def url(self) -> str:
        return self.service_endpoint

    @property
    def service_endpoint(self) -> str:
        return f"{self.base_url}{ENDPOINT}"

    @property
    def authority_host(self) -> str:
        """Where the token endpoint lives (``{authority_host}/{tenant}/oauth2/v2.0/token``)."""
        return self.base_url

    @property
    def resource(self) -> str:
        """The token audience this server accepts (its own URL, as in hybrid modern auth)."""
        return self.base_url

    def add_event(self, room: str, event: FakeEvent) -> str:
        return self.store.put(room, event)

    def server_busy(
        self, back_off_ms: int, *, times: int = 1, operation: str | None = None
    ) -> None:
        """Answer the next ``times`` requests (of ``operation``) with ErrorServerBusy."""
        with self._lock2:
            self._busy.extend([(back_off_ms, operation)] * times)

    def expire_sync_states(self, room: str) -> None:
        """Every SyncState issued so far for ``room`` answers ErrorInvalidSyncStateData."""
        self.store.expire_states(room)

    def operation_count(self, name: str, room: str | None = None) -> int:
        with self._lock2:
            return sum(
                1 for op, r in self.operations if op == name and (room is None or r == room.lower())
            )

    def stop(self) -> None:
        """End the open notification streams, then stop serving."""
        self.streaming.stop()
        super().stop()

    def error_body(self, status: int) -> bytes:
        if status >= 500:
            return soap_fault("ErrorInternalServerError", "An internal server error occurred.")
        return b""

    # HTTP ----------------------------------------------------------------------------------
    def route(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Response:
        bare = path.split("?", 1)[0]
        if "bearer" in self.auth and method == "POST" and bare.endswith(TOKEN_PATH):
            return self.tokens.token_response(bare[1 : -len(TOKEN_PATH)], headers, body)
        if bare != ENDPOINT or method != "POST":
            return Response(status=404, body=b"", content_type="text/html")
        verdict = self._authenticate(headers)
        if verdict.user is None:
            return unauthorized(verdict)
        user = verdict.user
        text = body.decode("utf-8", "replace")
        with self._lock2:
            self.request_bodies.append(text)
        try:
            envelope = fromstring(body)
        except ParseError:
            return _fault_response("ErrorSchemaValidation", "The request failed schema validation.")
        try:
            answer = self._handle(user, envelope)
        except _Fault as fault:
            return _fault_response(fault.code, fault.message, back_off_ms=fault.back_off_ms)
        if isinstance(answer, bytes):
            return Response(status=200, body=answer, content_type=XML)
        return Response(status=200, stream=answer, content_type=XML)

    def _challenge(self) -> str:
        """Every offered scheme as IIS lists them: one header, comma-separated (RFC 9110 11.6.1)."""
        offers = []
        if "ntlm" in self.auth:
            offers += ["Negotiate", "NTLM"]
        if "basic" in self.auth:
            offers.append('Basic realm="mail.example.com"')
        if "bearer" in self.auth:
            offers.append(bearer_challenge())
        return ", ".join(offers)

    def _authenticate(self, headers: Mapping[str, str]) -> Verdict:
        value = headers.get("Authorization") or ""
        scheme, _, credentials = value.partition(" ")
        kind = scheme.lower()
        if kind == "basic" and "basic" in self.auth:
            try:
                user, _, password = base64.b64decode(credentials).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                user, password = "", ""
            if user in self.users and self.users[user] == password:
                return Verdict(user=user)
        elif kind in ("ntlm", "negotiate") and "ntlm" in self.auth:
            return self.ntlm.check(scheme, credentials.strip(), self._challenge())
        elif kind == "bearer" and "bearer" in self.auth:
            app, reason = self.tokens.validate(credentials.strip(), audience=self.resource)
            if app is not None:
                return Verdict(user=app)
            return Verdict(
                challenge=bearer_challenge(error="invalid_token"),
                headers={"x-ms-diagnostics": f'{reason};error_category="invalid_token"'},
            )
        elif not value and "ntlm" in self.auth and self.ntlm.connection_user is not None:
            return Verdict(user=self.ntlm.connection_user)
        return Verdict(challenge=self._challenge())

    def _handle(self, user: str, envelope: Element) -> bytes | Iterator[bytes]:
        header = envelope.find(_q(S, "Header"))
        body = envelope.find(_q(S, "Body"))
        if body is None or len(body) == 0:
            raise _Fault("ErrorSchemaValidation", "The request has no SOAP body.")
        request = body[0]
        operation = request.tag.split("}", 1)[-1]
        version = header.find(_q(T, "RequestServerVersion")) if header is not None else None
        if version is None:
            raise _Fault("ErrorInvalidServerVersion", "RequestServerVersion is required.")
        impersonated = None
        if header is not None:
            sid = header.find(f"{_q(T, 'ExchangeImpersonation')}/{_q(T, 'ConnectingSID')}")
            if sid is not None and len(sid):
                impersonated = (sid[0].text or "").strip().lower()
        room = impersonated or self._mailbox_in(request) or self._subscriber(request)
        with self._lock2:
            self.operations.append((operation, (room or "").lower()))
            busy = None
            for index, (_ms, op) in enumerate(self._busy):
                if op is None or op == operation:
                    busy = self._busy.pop(index)[0]
                    break
        if busy is not None:
            raise _Fault(
                "ErrorServerBusy",
                "The server cannot service this request right now. Try again later.",
                back_off_ms=busy,
            )
        if room is None:
            raise _Fault(
                "ErrorMissingEmailAddress",
                "When making a request as an account that "
                "does not have a mailbox, you must specify the mailbox primary SMTP "
                "address for any distinguished folders.",
            )
        if not self.store.has_mailbox(room):
            raise _Fault(
                "ErrorNonExistentMailbox",
                f"The SMTP address has no mailbox associated with it: {room}",
            )
        if impersonated is None and user.startswith("app:"):
            raise _Fault(
                "ErrorInvalidExchangeImpersonationHeaderData",
                "ExchangeImpersonation SOAP header must be present for this type of OAuth token.",
            )
        if impersonated is not None and user.lower() not in self.impersonators:
            raise _Fault(
                "ErrorImpersonateUserDenied",
                "The account does not have permission to impersonate the requested user.",
            )
        if impersonated is None and user.lower() not in self.delegates.get(room.lower(), set()):
            raise _Fault("ErrorAccessDenied", "Access is denied. Check credentials and try again.")
        handler = {
            "GetFolder": self._get_folder,
            "FindItem": self._find_item,
            "GetItem": self._get_item,
            "SyncFolderItems": self._sync_folder_items,
            "Subscribe": self._subscribe,
            "Unsubscribe": self._unsubscribe,
        }.get(operation)
        if operation == "GetStreamingEvents":
            return self._streaming_events(request)
        if handler is None:
            raise _Fault("ErrorInvalidRequest", f"The fake does not implement {operation}.")
        return _envelope(handler(room, request))

    def _mailbox_in(self, request: Element) -> str | None:
        for mailbox in request.iter(_q(T, "Mailbox")):
            address = mailbox.find(_q(T, "EmailAddress"))
            if address is not None and address.text:
                return address.text.strip().lower()
        for tag in ("FolderId", "ItemId"):
            for elem in request.iter(_q(T, tag)):
                decoded = _decode_id(elem.get("Id", ""))
                if decoded and decoded.get("r"):
                    return str(decoded["r"])
        return None

    def _subscriber(self, request: Element) -> str | None:
        """The mailbox of the first subscription a streaming request names."""
        for elem in request.iter(_q(M, "SubscriptionId")):
            return self.streaming.room_of((elem.text or "").strip())
        for elem in request.iter(_q(T, "SubscriptionId")):
            return self.streaming.room_of((elem.text or "").strip())
        return None

    # streaming notifications ---------------------------------------------------------------
    def _subscribe(self, room: str, request: Element) -> Element:
        streaming = request.find(_q(M, "StreamingSubscriptionRequest"))
        if streaming is None:
            raise _Fault("ErrorInvalidRequest", "The fake supports streaming subscriptions only.")
        folder = streaming.find(f"{_q(T, 'FolderIds')}/{_q(T, 'FolderId')}")
        folder_id = folder.get("Id", "") if folder is not None else _folder_id(room, "calendar")
        try:
            sid = self.streaming.subscribe(room, folder_id, lambda i: _item_id(room, i))
        except StreamingRefused as refused:
            return subscribe_error(refused.code, refused.message)
        return subscribe_response(sid)

    def _unsubscribe(self, room: str, request: Element) -> Element:
        del room
        return unsubscribe_response(
            self.streaming.unsubscribe(_text(request, _q(M, "SubscriptionId")))
        )

    def _streaming_events(self, request: Element) -> Iterator[bytes]:
        ids = request.find(_q(M, "SubscriptionIds"))
        sids = [(e.text or "").strip() for e in ids] if ids is not None else []
        try:
            minutes = int(_text(request, _q(M, "ConnectionTimeout")))
        except ValueError as exc:
            raise _Fault("ErrorSchemaValidation", "ConnectionTimeout must be 1-30.") from exc
        if not sids or not 1 <= minutes <= 30:
            raise _Fault("ErrorSchemaValidation", "SubscriptionIds and a 1-30 minute timeout.")
        return (_envelope(streaming_response(m)) for m in self.streaming.stream(sids, minutes))

    # operations ----------------------------------------------------------------------------
    def _get_folder(self, room: str, request: Element) -> Element:
        response = Element(_q(M, "GetFolderResponse"))
        messages = SubElement(response, _q(M, "ResponseMessages"))
        folder_ids = request.find(_q(M, "FolderIds"))
        for ref in list(folder_ids) if folder_ids is not None else []:
            name = (
                ref.get("Id", "")
                if ref.tag == _q(T, "DistinguishedFolderId")
                else str((_decode_id(ref.get("Id", "")) or {}).get("f", ""))
            )
            message = SubElement(messages, _q(M, "GetFolderResponseMessage"))
            if name not in ("root", "msgfolderroot", "calendar"):
                _error_message(
                    message,
                    "ErrorFolderNotFound",
                    "The specified folder could not be found in the store.",
                )
                continue
            message.set("ResponseClass", "Success")
            SubElement(message, _q(M, "ResponseCode")).text = "NoError"
            folders = SubElement(message, _q(M, "Folders"))
            folder = SubElement(
                folders, _q(T, "CalendarFolder" if name == "calendar" else "Folder")
            )
            SubElement(
                folder, _q(T, "FolderId"), Id=_folder_id(room, name), ChangeKey="AQAAABYAAAA"
            )
            parent = "msgfolderroot" if name == "calendar" else "root"
            SubElement(
                folder, _q(T, "ParentFolderId"), Id=_folder_id(room, parent), ChangeKey="AQAAAA=="
            )
            if name == "calendar":
                SubElement(folder, _q(T, "FolderClass")).text = "IPF.Appointment"
            display = {
                "root": "",
                "msgfolderroot": "Top of Information Store",
                "calendar": "Calendar",
            }[name]
            SubElement(folder, _q(T, "DisplayName")).text = display
            SubElement(folder, _q(T, "TotalCount")).text = "0"
            SubElement(folder, _q(T, "ChildFolderCount")).text = "0"
            rights = SubElement(folder, _q(T, "EffectiveRights"))
            for right, value in (
                ("CreateAssociated", "true"),
                ("CreateContents", "false"),
                ("CreateHierarchy", "false"),
                ("Delete", "false"),
                ("Modify", "false"),
                ("Read", "true"),
                ("ViewPrivateItems", "true"),
            ):
                SubElement(rights, _q(T, right)).text = value
            if name != "calendar":
                SubElement(folder, _q(T, "UnreadCount")).text = "0"
        return response

    def _find_item(self, room: str, request: Element) -> Element:
        view = request.find(_q(M, "CalendarView"))
        if view is None:
            raise _Fault("ErrorInvalidRequest", "The fake only answers FindItem with CalendarView.")
        start = _parse_time(view.get("StartDate", ""))
        end = _parse_time(view.get("EndDate", ""))
        if end <= start:
            raise _Fault(
                "ErrorCalendarEndDateIsEarlierThanStartDate", "EndDate is earlier than StartDate"
            )
        limit = int(view.get("MaxEntriesReturned") or 1000)
        shape = _Shape.parse(request.find(_q(M, "ItemShape")))
        if shape.complex_fields():
            raise _Fault(
                "ErrorInvalidPropertyRequest",
                f"The property {shape.complex_fields()[0]} can't be used in FindItem requests.",
            )
        items = self.store.view(room, start, end)
        response = Element(_q(M, "FindItemResponse"))
        messages = SubElement(response, _q(M, "ResponseMessages"))
        message = SubElement(messages, _q(M, "FindItemResponseMessage"), ResponseClass="Success")
        SubElement(message, _q(M, "ResponseCode")).text = "NoError"
        root = SubElement(
            message,
            _q(M, "RootFolder"),
            TotalItemsInView=str(len(items)),
            IncludesLastItemInRange="true" if len(items) <= limit else "false",
        )
        container = SubElement(root, _q(T, "Items"))
        for occurrence in items[:limit]:
            container.append(_calendar_item(room, occurrence, shape))
        return response

    def _get_item(self, room: str, request: Element) -> Element:
        shape = _Shape.parse(request.find(_q(M, "ItemShape")))
        response = Element(_q(M, "GetItemResponse"))
        messages = SubElement(response, _q(M, "ResponseMessages"))
        ids = request.find(_q(M, "ItemIds"))
        for ref in list(ids) if ids is not None else []:
            message = SubElement(messages, _q(M, "GetItemResponseMessage"))
            decoded = _decode_id(ref.get("Id", "")) or {}
            found = self.store.item(room, str(decoded.get("i", "")))
            if found is None or found[2]:
                _error_message(
                    message, "ErrorItemNotFound", "The specified object was not found in the store."
                )
                continue
            event, seq, _ = found
            occurrence = _lookup_occurrence(self.store, room, str(decoded["i"]), event, seq)
            message.set("ResponseClass", "Success")
            SubElement(message, _q(M, "ResponseCode")).text = "NoError"
            items = SubElement(message, _q(M, "Items"))
            items.append(_calendar_item(room, occurrence, shape))
        return response

    def _sync_folder_items(self, room: str, request: Element) -> Element:
        state_elem = request.find(_q(M, "SyncState"))
        since = 0
        if state_elem is not None and state_elem.text:
            state = _decode_id(state_elem.text.strip())
            if (
                not state
                or state.get("r") != room.lower()
                or state.get("e") != self.store.epoch(room)
            ):
                raise _Fault(
                    "ErrorInvalidSyncStateData",
                    "Synchronization state data is corrupt or otherwise invalid.",
                )
            since = int(state["q"])
        limit = int(_text(request, _q(M, "MaxChangesReturned")) or "100")
        shape = _Shape.parse(request.find(_q(M, "ItemShape")))
        changes = self.store.changed_items(room, since)
        if since == 0:
            changes = [(i, "Create") for i, kind in changes if kind != "Delete"]
        batch = changes[:limit]
        last_seq = self.store.seq(room) if len(changes) <= limit else since
        if len(changes) > limit:
            # resume after the items returned: report everything up to the newest of them
            last_seq = max(self._item_seq(room, i) for i, _ in batch)
        response = Element(_q(M, "SyncFolderItemsResponse"))
        messages = SubElement(response, _q(M, "ResponseMessages"))
        message = SubElement(
            messages, _q(M, "SyncFolderItemsResponseMessage"), ResponseClass="Success"
        )
        SubElement(message, _q(M, "ResponseCode")).text = "NoError"
        SubElement(message, _q(M, "SyncState")).text = _encode_id(
            {"r": room.lower(), "e": self.store.epoch(room), "q": last_seq}
        )
        SubElement(message, _q(M, "IncludesLastItemInRange")).text = (
            "true" if len(changes) <= limit else "false"
        )
        container = SubElement(message, _q(M, "Changes"))
        for item_id, kind in batch:
            change = SubElement(container, _q(T, kind))
            if kind == "Delete":
                SubElement(
                    change, _q(T, "ItemId"), Id=_item_id(room, item_id), ChangeKey="DwAAAA=="
                )
                continue
            found = self.store.item(room, item_id)
            assert found is not None
            event, seq, _ = found
            occurrence = Occurrence(
                id=item_id,
                master_id=item_id,
                kind="singleInstance" if not event.rrule else "occurrence",
                event=event,
                original_start=None,
                seq=seq,
            )
            change.append(_calendar_item(room, occurrence, shape, master=bool(event.rrule)))
        return response

    def _item_seq(self, room: str, item_id: str) -> int:
        found = self.store.item(room, item_id)
        return found[1] if found else 0


class _Shape:
    """An ``ItemShape``: base shape, requested FieldURIs and body type."""

    COMPLEX = frozenset(
        {
            "item:Body",
            "calendar:RequiredAttendees",
            "calendar:OptionalAttendees",
            "calendar:Resources",
            "item:TextBody",
            "item:UniqueBody",
            "item:Attachments",
            "calendar:Recurrence",
        }
    )

    def __init__(self, base: str, fields: list[str], body_type: str) -> None:
        self.base, self.fields, self.body_type = base, fields, body_type

    @classmethod
    def parse(cls, elem: Element | None) -> _Shape:
        if elem is None:
            raise _Fault("ErrorSchemaValidation", "ItemShape is required.")
        base = _text(elem, _q(T, "BaseShape")) or "IdOnly"
        fields = [f.get("FieldURI", "") for f in elem.iter(_q(T, "FieldURI"))]
        return cls(base, fields, _text(elem, _q(T, "BodyType")) or "Best")

    def wants(self, field: str) -> bool:
        return self.base == "AllProperties" or field in self.fields

    def complex_fields(self) -> list[str]:
        return [f for f in self.fields if f in self.COMPLEX]


def _calendar_item(
    room: str, occurrence: Occurrence, shape: _Shape, *, master: bool = False
) -> Element:
    """A ``t:CalendarItem`` with the requested properties, in types.xsd element order."""
    event = occurrence.event
    item = Element(_q(T, "CalendarItem"))
    SubElement(
        item,
        _q(T, "ItemId"),
        Id=_item_id(room, occurrence.id),
        ChangeKey=f"DwAAABYAAAA{occurrence.seq}",
    )

    def add(field: str, tag: str, value: str | None) -> None:
        if value is not None and shape.wants(field):
            SubElement(item, _q(T, tag)).text = value

    add("item:ItemClass", "ItemClass", "IPM.Appointment")
    add("item:Subject", "Subject", event.subject)
    add("item:Sensitivity", "Sensitivity", "Private" if event.private else "Normal")
    if shape.wants("item:Body"):
        body_type = event.body_type
        content = event.body
        if shape.body_type == "Text" and body_type == "html":
            import re

            content, body_type = re.sub(r"<[^>]+>", "", content), "text"
        elif shape.body_type == "HTML" and body_type == "text":
            from html import escape

            content, body_type = f"<html><body>{escape(content)}</body></html>", "html"
        body = SubElement(item, _q(T, "Body"), BodyType="HTML" if body_type == "html" else "Text")
        body.text = content
    add("item:DateTimeCreated", "DateTimeCreated", _ews_time(event.modified))
    add("item:LastModifiedTime", "LastModifiedTime", _ews_time(event.modified))
    add("calendar:UID", "UID", event.uid)
    if occurrence.original_start is not None:
        add("calendar:RecurrenceId", "RecurrenceId", _ews_time(occurrence.original_start))
    add("calendar:Start", "Start", _ews_time(event.start))
    add("calendar:End", "End", _ews_time(event.end))
    if occurrence.original_start is not None:
        add("calendar:OriginalStart", "OriginalStart", _ews_time(occurrence.original_start))
    add("calendar:IsAllDayEvent", "IsAllDayEvent", "true" if event.all_day else "false")
    room_response = next(
        (a.response for a in event.attendees if a.email.lower() == room.lower()), "accepted"
    )
    if event.organizer_email.lower() == room.lower():
        room_response = "organizer"
    add(
        "calendar:LegacyFreeBusyStatus",
        "LegacyFreeBusyStatus",
        "Free" if event.cancelled or room_response == "declined" else "Busy",
    )
    add("calendar:Location", "Location", event.location)
    add("calendar:IsMeeting", "IsMeeting", "true" if event.attendees else "false")
    add("calendar:IsCancelled", "IsCancelled", "true" if event.cancelled else "false")
    add(
        "calendar:IsRecurring",
        "IsRecurring",
        "false" if occurrence.kind == "singleInstance" and not master else "true",
    )
    add(
        "calendar:CalendarItemType",
        "CalendarItemType",
        "RecurringMaster" if master else _ITEM_TYPE[occurrence.kind],
    )
    add("calendar:MyResponseType", "MyResponseType", _RESPONSE_TYPE[room_response])
    if shape.wants("calendar:Organizer") and event.organizer_email:
        organizer = SubElement(item, _q(T, "Organizer"))
        _mailbox(organizer, event.organizer_name, event.organizer_email)
    for field, tag, kinds in (
        ("calendar:RequiredAttendees", "RequiredAttendees", ("required",)),
        ("calendar:OptionalAttendees", "OptionalAttendees", ("optional",)),
        ("calendar:Resources", "Resources", ("resource",)),
    ):
        chosen = [a for a in event.attendees if a.kind in kinds]
        if shape.wants(field) and chosen:
            group = SubElement(item, _q(T, tag))
            for attendee in chosen:
                elem = SubElement(group, _q(T, "Attendee"))
                _mailbox(elem, attendee.name, attendee.email)
                SubElement(elem, _q(T, "ResponseType")).text = _RESPONSE_TYPE[attendee.response]
    add("calendar:TimeZone", "TimeZone", event.tz)
    add("calendar:AppointmentSequenceNumber", "AppointmentSequenceNumber", "0")
    add(
        "calendar:AppointmentState",
        "AppointmentState",
        str((1 if event.attendees else 0) | (4 if event.cancelled else 0)),
    )
    ms_zone = IANA_TO_MS_TIMEZONE_MAP.get(event.tz, ("UTC",))[0]
    for field, tag in (
        ("calendar:StartTimeZone", "StartTimeZone"),
        ("calendar:EndTimeZone", "EndTimeZone"),
    ):
        if shape.wants(field):
            SubElement(item, _q(T, tag), Id=ms_zone, Name=ms_zone)
    add("calendar:IsOnlineMeeting", "IsOnlineMeeting", "true" if event.join_url else "false")
    add("calendar:JoinOnlineMeetingUrl", "JoinOnlineMeetingUrl", event.join_url or None)
    return item


def _mailbox(parent: Element, name: str, email: str) -> None:
    mailbox = SubElement(parent, _q(T, "Mailbox"))
    SubElement(mailbox, _q(T, "Name")).text = name or email
    SubElement(mailbox, _q(T, "EmailAddress")).text = email
    SubElement(mailbox, _q(T, "RoutingType")).text = "SMTP"
    SubElement(mailbox, _q(T, "MailboxType")).text = "Mailbox"


def _lookup_occurrence(
    store: MailboxStore, room: str, item_id: str, event: FakeEvent, seq: int
) -> Occurrence:
    for occurrence in store.view(room, event.start, event.end):
        if occurrence.id == item_id:
            return occurrence
    return Occurrence(
        id=item_id,
        master_id=item_id,
        kind="singleInstance",
        event=event,
        original_start=None,
        seq=seq,
    )


def _error_message(message: Element, code: str, text: str) -> None:
    message.set("ResponseClass", "Error")
    SubElement(message, _q(M, "MessageText")).text = text
    SubElement(message, _q(M, "ResponseCode")).text = code
    SubElement(message, _q(M, "DescriptiveLinkKey")).text = "0"


def _envelope(content: Element) -> bytes:
    envelope = Element(_q(S, "Envelope"))
    header = SubElement(envelope, _q(S, "Header"))
    SubElement(
        header,
        _q(T, "ServerVersionInfo"),
        MajorVersion="15",
        MinorVersion="1",
        MajorBuildNumber="2507",
        MinorBuildNumber="6",
        Version="V2017_07_11",
    )
    body = SubElement(envelope, _q(S, "Body"))
    body.append(content)
    return b'<?xml version="1.0" encoding="utf-8"?>' + tostring(envelope)


def _fault_response(code: str, message: str, *, back_off_ms: int | None = None) -> Response:
    return Response(
        status=500, body=soap_fault(code, message, back_off_ms=back_off_ms), content_type=XML
    )


def _text(elem: Element, path: str) -> str:
    found = elem.find(path)
    return (found.text or "").strip() if found is not None else ""


def _parse_time(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise _Fault("ErrorSchemaValidation", f"Invalid date-time {value!r}") from exc
    return parsed if parsed.utcoffset() is not None else parsed.replace(tzinfo=UTC)


def _encode_id(data: Mapping[str, Any]) -> str:
    return base64.b64encode(json.dumps(data, separators=(",", ":")).encode()).decode()


def _decode_id(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(base64.b64decode(text, validate=True))
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _folder_id(room: str, name: str) -> str:
    return _encode_id({"r": room.lower(), "f": name})


def _item_id(room: str, item_id: str) -> str:
    return _encode_id({"r": room.lower(), "i": item_id})
